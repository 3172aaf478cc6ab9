import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { SessionLostError } from '../src/errors.js';
import { defaultMargin, Session } from '../src/recipes/session.js';
import { MemoryStore } from '../src/store/memory.js';
import type { Store } from '../src/store/port.js';
import { ManualClock } from '../src/util/clock.js';
import { etcdStores, storeFactories } from './helpers/stores.js';
import { waitFor } from './helpers/wait.js';

for (const factory of storeFactories()) {
  describe(`session on ${factory.name}`, () => {
    it('keeps its lease alive past the TTL, and close() revokes it without emitting lost', async () => {
      const t = await factory.create();
      after(() => t.close());
      const s = await Session.create({ store: t.store, ttl: 2, keepAliveInterval: 300 });
      let lost = 0;
      s.on('lost', () => lost++);
      const start = s.lastKeepAliveAt;
      await waitFor('keep-alives for longer than the TTL', () => s.lastKeepAliveAt - start > 2_500, 10_000);
      assert.ok((await t.store.leaseTimeToLive(s.leaseId)).ttl > 0);
      await s.close();
      await s.close(); // idempotent
      assert.ok(s.signal.aborted);
      assert.equal(s.isLost, false);
      assert.equal(lost, 0);
      assert.equal((await t.store.leaseTimeToLive(s.leaseId)).ttl, -1);
    });

    it('emits lost once, at the next keep-alive, when its lease is revoked behind its back', async () => {
      const t = await factory.create();
      after(() => t.close());
      const s = await Session.create({ store: t.store, ttl: 5, keepAliveInterval: 100 });
      const losses: string[] = [];
      s.on('lost', ({ reason }) => losses.push(reason));
      await t.store.revokeLease(s.leaseId);
      await waitFor('lost', () => s.isLost, 5_000);
      assert.ok(s.signal.reason instanceof SessionLostError);
      assert.match(losses[0], /not found/);
      await s.close();
      assert.equal(losses.length, 1);
    });
  });
}

describe('session on memory with a manual clock', () => {
  it('declares loss at exactly ttl − margin after the last keep-alive while the store is unreachable', async () => {
    const clock = new ManualClock();
    const store = new MemoryStore({ clock });
    const s = await Session.create({ store, ttl: 4, clock });
    assert.equal(s.margin, defaultMargin(4));
    assert.equal(s.margin, 1000);
    const lostAt: number[] = [];
    s.on('lost', () => lostAt.push(clock.now()));
    await clock.advance(4_000); // three keep-alives
    const last = s.lastKeepAliveAt;
    assert.equal(last, clock.now() - (4_000 % s.keepAliveInterval));
    store.setUnavailable(true);
    await clock.advance(10_000);
    assert.equal(lostAt.length, 1);
    assert.equal(lostAt[0] - last, 4_000 - 1_000);
    assert.equal(s.lastKeepAliveAt, last);
    assert.ok(s.signal.aborted);
    await s.close({ revoke: false });
    await store.close();
  });

  it('declares loss on time when a keep-alive call hangs forever', async () => {
    const clock = new ManualClock();
    const memory = new MemoryStore({ clock });
    let hang = false;
    const store = new Proxy(memory, {
      get(target, prop, receiver) {
        if (prop === 'keepAliveOnce' && hang) return () => new Promise(() => {});
        const v = Reflect.get(target, prop, receiver);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    }) as Store;
    const s = await Session.create({ store, ttl: 3, clock, margin: 200 });
    const lostAt: number[] = [];
    s.on('lost', () => lostAt.push(clock.now()));
    await clock.advance(1_500);
    const last = s.lastKeepAliveAt;
    hang = true;
    await clock.advance(5_000);
    assert.deepEqual(
      lostAt.map((t) => t - last),
      [3_000 - 200],
    );
    await s.close({ revoke: false }); // does not wait for the hanging call
    await memory.close();
  });

  it('refuses bad options, naming them', async () => {
    const store = new MemoryStore();
    await assert.rejects(Session.create({ store, ttl: 0 }), /`ttl`.*got `0`/);
    await assert.rejects(Session.create({ store, ttl: 2, margin: 2_000 }), /`margin`/);
    await assert.rejects(Session.create({ store, ttl: 2, keepAliveInterval: -1 }), /`keepAliveInterval`/);
    await store.close();
  });
});

describe('session on etcd with the member frozen (SIGSTOP)', () => {
  it('fires lost within the TTL on its own clock', async (c) => {
    const t = await etcdStores.createIsolated();
    after(async () => {
      t.etcd?.members[0].resume();
      await t.close();
    });
    const ttl = 3;
    const s = await Session.create({ store: t.store, ttl, clock: t.clock });
    const start = s.lastKeepAliveAt;
    await waitFor('a keep-alive', () => s.lastKeepAliveAt > start, 5_000);
    let lostAt = 0;
    let reason = '';
    s.on('lost', (e) => {
      lostAt = t.clock.now();
      reason = e.reason;
    });
    t.etcd?.members[0].pause();
    const pausedAt = t.clock.now();
    await waitFor('lost', () => lostAt > 0, ttl * 1000 + 2_000, 5);
    const sinceKeepAlive = lostAt - s.lastKeepAliveAt;
    const sincePause = lostAt - pausedAt;
    assert.ok(
      sinceKeepAlive <= ttl * 1000,
      `lost ${sinceKeepAlive} ms after the last keep-alive (ttl ${ttl} s)`,
    );
    assert.ok(sincePause <= ttl * 1000, `lost ${sincePause} ms after the pause (ttl ${ttl} s)`);
    assert.match(reason, /no successful keep-alive/);
    c.diagnostic(
      `lost ${sinceKeepAlive} ms after the last keep-alive, ${sincePause} ms after SIGSTOP (ttl ${ttl} s)`,
    );
    t.etcd?.members[0].resume();
    await s.close();
  });
});
