import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { NotLeaderError, SessionLostError } from '../src/errors.js';
import { Mutex } from '../src/recipes/mutex.js';
import { Session } from '../src/recipes/session.js';
import { seeded, waitFor, within } from './helpers/async.js';
import { uniqueRoot } from './helpers/etcd.js';
import { storeFactories, type TestStore } from './helpers/stores.js';

for (const factory of storeFactories()) {
  describe(`mutex on ${factory.name}`, () => {
    let t: TestStore;
    const sessions: Session[] = [];
    const session = async (ttl = 5) => {
      const s = await Session.create({ store: t.store, ttl, clock: t.clock });
      sessions.push(s);
      return s;
    };
    after(async () => {
      for (const s of sessions) await s.close();
      await t?.close();
    });

    it('10 contenders: critical sections never overlap', () =>
      seeded(async (random) => {
        t ??= await factory.create();
        const root = `/${uniqueRoot('mutex-10')}`;
        const prefix = `${root}/lock`;
        const mutexes = await Promise.all(
          Array.from({ length: 10 }, async () => new Mutex(await session(), prefix)),
        );
        const intervals: { who: number; start: number; end: number }[] = [];
        let inside = 0;
        const rounds = 3;
        await within(
          Promise.all(
            mutexes.map(async (m, i) => {
              for (let r = 0; r < rounds; r++) {
                await m.lock();
                const start = performance.now();
                inside++;
                assert.equal(inside, 1, `contender ${i} entered while another was inside`);
                // A write guarded by the lock succeeds while it is held.
                const res = await t.store.txn({
                  compare: [m.isOwner()],
                  success: [{ type: 'put', key: `${root}/owner`, value: String(i) }],
                });
                assert.ok(res.succeeded);
                await new Promise((res) => setTimeout(res, random() * 5));
                inside--;
                intervals.push({ who: i, start, end: performance.now() });
                await m.unlock();
                assert.throws(() => m.isOwner(), NotLeaderError);
              }
            }),
          ),
          60_000,
          'the contenders',
        );
        assert.equal(intervals.length, 10 * rounds);
        intervals.sort((a, b) => a.start - b.start);
        for (let i = 1; i < intervals.length; i++) {
          assert.ok(
            intervals[i].start >= intervals[i - 1].end,
            `critical sections overlap: ${JSON.stringify(intervals[i - 1])} and ${JSON.stringify(intervals[i])}`,
          );
        }
        const left = await t.store.range(`${prefix}/`, { prefix: true, countOnly: true });
        assert.equal(left.count, 0);
      }));

    it('abort while waiting rejects and leaves no key behind; tryLock never waits', async () => {
      t ??= await factory.create();
      const prefix = `/${uniqueRoot('mutex-abort')}/lock`;
      const [a, b, c] = await Promise.all([0, 1, 2].map(async () => new Mutex(await session(), prefix)));
      await a.lock();
      assert.equal(a.key, `${prefix}/${a.session.leaseId}`);
      const ac = new AbortController();
      const pb = b.lock({ signal: ac.signal });
      await waitFor('b to queue', async () => (await t.store.get(b.key)) !== undefined, 5_000);
      ac.abort();
      await assert.rejects(within(pb, 5_000, 'b'), { name: 'AbortError' });
      const keys = await t.store.range(`${prefix}/`, { prefix: true });
      assert.deepEqual(
        keys.kvs.map((kv) => kv.key),
        [a.key],
      );

      assert.equal(await c.tryLock(), false);
      assert.equal(await t.store.get(c.key), undefined);
      await a.unlock();
      assert.equal(await c.tryLock(), true);
      await c.unlock();
      assert.equal((await t.store.range(`${prefix}/`, { prefix: true, countOnly: true })).count, 0);
    });

    it('a waiter whose lease is revoked rejects with SessionLostError', async () => {
      t ??= await factory.create();
      const prefix = `/${uniqueRoot('mutex-lost')}/lock`;
      const [a, b] = await Promise.all([0, 1].map(async () => new Mutex(await session(), prefix)));
      await a.lock();
      const pb = b.lock();
      await waitFor('b to queue', async () => (await t.store.get(b.key)) !== undefined, 5_000);
      await t.store.revokeLease(b.session.leaseId);
      await assert.rejects(within(pb, 5_000, 'b'), SessionLostError);
      assert.equal(b.isLocked, false);
      await a.unlock();
    });
  });
}
