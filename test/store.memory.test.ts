import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CompactedError, LeaseNotFoundError, StoreUnavailableError } from '../src/errors.js';
import { MemoryStore } from '../src/store/memory.js';
import { ManualClock } from '../src/util/clock.js';
import { allEvents, collect, storeConformance, withDeadline } from './conformance/store.js';

storeConformance('memory', async () => {
  const clock = new ManualClock();
  const store = new MemoryStore({ clock, seed: 42 });
  return { store, clock, cleanup: () => store.close() };
});

storeConformance('memory (system clock)', async () => {
  const store = new MemoryStore();
  return { store, cleanup: () => store.close() };
});

describe('MemoryStore', () => {
  it('is deterministic with a seed and a ManualClock: same lease ids, expiry at the exact ms', async () => {
    const run = async () => {
      const clock = new ManualClock();
      const store = new MemoryStore({ clock, seed: 7 });
      const a = await store.grantLease(5);
      const b = await store.grantLease(3);
      await store.put('/k/a', '1', { lease: a.id });
      await store.put('/k/b', '1', { lease: b.id });
      await clock.advance(2_999);
      const before = (await store.range('/k/', { prefix: true })).count;
      await clock.advance(1);
      const after = (await store.range('/k/', { prefix: true })).count;
      assert.deepEqual((await store.keepAliveOnce(a.id)).ttl, 5);
      await clock.advance(4_999);
      const kept = (await store.get('/k/a'))?.value;
      await clock.advance(1);
      const gone = await store.get('/k/a');
      await store.close();
      return { ids: [a.id, b.id], before, after, kept, gone, revision: store.revision };
    };
    const first = await run();
    assert.deepEqual(first, {
      ids: first.ids,
      before: 2,
      after: 1,
      kept: '1',
      gone: undefined,
      revision: 5,
    });
    assert.deepEqual(await run(), first);
  });

  it('revokes an overdue lease when it is next used, even if its timer has not fired', async () => {
    let now = 0;
    const lazyClock = { now: () => now, setTimeout: () => ({ __timer: null }), clearTimeout: () => {} };
    const store = new MemoryStore({ clock: lazyClock });
    const l = await store.grantLease(2);
    await store.put('/k', 'v', { lease: l.id });
    now = 2_000;
    await assert.rejects(store.keepAliveOnce(l.id), LeaseNotFoundError);
    assert.equal(await store.get('/k'), undefined);
    await store.close();
  });

  it('answers asynchronously, like a network store', async () => {
    const store = new MemoryStore();
    let answered = false;
    const p = store.put('/a', '1').then(() => {
      answered = true;
    });
    assert.equal(answered, false);
    await p;
    assert.equal(answered, true);
    await store.close();
  });

  it('orders keys by UTF-8 bytes, as etcd does', async () => {
    const store = new MemoryStore();
    for (const k of ['/u/\u{10000}', '/u/\uffff', '/u/z', '/u/\u00e9']) await store.put(k, '1');
    const r = await store.range('/u/', { prefix: true });
    assert.deepEqual(
      r.kvs.map((kv) => kv.key),
      ['/u/z', '/u/\u00e9', '/u/\uffff', '/u/\u{10000}'],
    );
    await store.close();
  });

  describe('setUnavailable', () => {
    it('rejects calls and breaks watches; leases keep expiring; it recovers', async () => {
      const clock = new ManualClock();
      const store = new MemoryStore({ clock });
      const l = await store.grantLease(2);
      const r = await store.put('/w/a', '1', { lease: l.id });
      const broken = collect(store, '/w/', { prefix: true, startRevision: r.revision + 1 }, 1);
      await clock.advance(0);
      store.setUnavailable(true);
      await assert.rejects(broken, StoreUnavailableError);
      await assert.rejects(store.get('/w/a'), StoreUnavailableError);
      await assert.rejects(store.keepAliveOnce(l.id), StoreUnavailableError);
      await assert.rejects(
        collect(store, '/w/', { prefix: true, startRevision: r.revision }, 1),
        StoreUnavailableError,
      );
      await clock.advance(2_000);
      store.setUnavailable(false);
      assert.equal(await store.get('/w/a'), undefined, 'the lease expired while the store was unreachable');
      const events = allEvents(
        await collect(store, '/w/', { prefix: true, startRevision: r.revision + 1 }, 1),
      );
      assert.deepEqual(
        events.map((e) => e.type),
        ['delete'],
      );
      await store.close();
    });
  });

  describe('autoCompact', () => {
    it('keeps at least the last N revisions and compacts older history by itself', async () => {
      const store = new MemoryStore({ autoCompact: 10 });
      for (let i = 0; i < 50; i++) await store.put(`/c/${i % 3}`, String(i));
      assert.equal(store.revision, 51);
      assert.ok(
        store.compactRevision > 0 && store.compactRevision <= 51 - 10,
        `compacted at ${store.compactRevision}`,
      );
      await assert.rejects(store.range('/c/', { prefix: true, revision: 2 }), CompactedError);
      const at = await store.range('/c/', { prefix: true, revision: 41 });
      assert.deepEqual(
        at.kvs.map((kv) => kv.value),
        ['39', '37', '38'],
      );
      await assert.rejects(collect(store, '/c/', { prefix: true, startRevision: 2 }, 1), CompactedError);
      const replay = allEvents(await collect(store, '/c/', { prefix: true, startRevision: 41 }, 11));
      assert.deepEqual(
        replay.map((e) => e.kv.value),
        ['39', '40', '41', '42', '43', '44', '45', '46', '47', '48', '49'],
      );
      await store.close();
    });

    it('a watch that falls behind the compaction breaks with CompactedError', async () => {
      const store = new MemoryStore({ autoCompact: 10 });
      const r = await store.put('/s/a', '0');
      const it = store.watch('/s/', { prefix: true, startRevision: r.revision })[Symbol.asyncIterator]();
      for (let i = 1; i < 30; i++) await store.put('/s/a', String(i));
      await assert.rejects(withDeadline(it.next(), Date.now() + 5_000), CompactedError);
      await store.close();
    });

    it('0 keeps all history', async () => {
      const store = new MemoryStore({ autoCompact: 0 });
      for (let i = 0; i < 200; i++) await store.put('/h/a', String(i));
      assert.equal(store.compactRevision, 0);
      assert.equal((await store.range('/h/a', { revision: 2 })).kvs[0].value, '0');
      await store.close();
    });
  });

  it('replays a long history in batches of at most 1000 revisions', async () => {
    const store = new MemoryStore();
    const ops = Array.from({ length: 2500 }, (_, i) => store.put(`/b/${i % 7}`, String(i)));
    await Promise.all(ops);
    const batches = await collect(store, '/b/', { prefix: true, startRevision: 2 }, 2500);
    assert.ok(batches.length >= 3);
    for (const b of batches) {
      const revs = b.events.map((e) => e.kv.modRevision);
      assert.ok(revs[revs.length - 1] - revs[0] < 1000);
    }
    assert.equal(allEvents(batches).length, 2500);
    await store.close();
  });

  it('close ends watches cleanly, stops lease timers and refuses later calls', async () => {
    const clock = new ManualClock();
    const store = new MemoryStore({ clock });
    await store.grantLease(10);
    assert.equal(clock.pending(), 1);
    const watching = (async () => {
      let n = 0;
      for await (const b of store.watch('/', { prefix: true })) n += b.events.length;
      return n;
    })();
    await clock.advance(0);
    await store.close();
    await store.close();
    assert.equal(await withDeadline(watching, Date.now() + 5_000), 0);
    assert.equal(clock.pending(), 0);
    await assert.rejects(store.get('/a'), StoreUnavailableError);
  });

  it('refuses bad options by name', () => {
    assert.throws(() => new MemoryStore({ autoCompact: -1 }), /autoCompact/);
    assert.throws(() => new MemoryStore({ minLeaseTtl: 1.5 }), /minLeaseTtl/);
  });
});
