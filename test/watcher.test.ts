import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { PrefixWatcher, type WatchUpdate, waitForDelete, waitForPut } from '../src/recipes/watcher.js';
import { EtcdStore } from '../src/store/etcd.js';
import { MemoryStore } from '../src/store/memory.js';
import type { KeyValue, Store, WatchEvent, WatchOptions } from '../src/store/port.js';
import { systemClock } from '../src/util/clock.js';
import { waitFor } from './helpers/async.js';
import { type EtcdCluster, startEtcd, uniqueRoot } from './helpers/etcd.js';
import { TcpProxy } from './helpers/proxy.js';
import { storeFactories } from './helpers/stores.js';

interface Rig {
  /** Writes go straight to the store. */
  writer: Store;
  /** The watcher's store: behind the proxy on etcd. */
  watched: Store;
  /** Start revision of every raw watch the watched store was asked for. */
  watchStarts: number[];
  /**
   * Interrupts the watcher's connection in the middle of its catch-up and restores it: the memory store
   * fails from inside the consumer right after the first batch; etcd stalls the stream after a few KB
   * through the proxy, then the proxy resets the connection.
   */
  cutMidCatchUp(received: () => number, firstBatch: Promise<void>): Promise<number>;
  /** etcd: let only this many more bytes through to the watcher, then stall. */
  hold?(bytes: number): void;
  close(): Promise<void>;
}

function recordWatches(store: Store, starts: number[]): Store {
  return new Proxy(store, {
    get(target, prop, receiver) {
      if (prop === 'watch') {
        return (key: string, options?: WatchOptions) => {
          starts.push(options?.startRevision ?? 0);
          return target.watch(key, options);
        };
      }
      const v = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}

async function memoryRig(): Promise<Rig> {
  const store = new MemoryStore({ clock: systemClock, autoCompact: 0 });
  const watchStarts: number[] = [];
  return {
    writer: store,
    watched: recordWatches(store, watchStarts),
    watchStarts,
    async cutMidCatchUp(received, firstBatch) {
      await firstBatch; // the consumer cut the store when it got the first batch (see onFirstBatch)
      const n = received();
      await new Promise((r) => setTimeout(r, 200));
      store.setUnavailable(false);
      return n;
    },
    close: () => store.close(),
  };
}

let etcd: EtcdCluster | undefined;
async function etcdRig(): Promise<Rig> {
  etcd ??= await startEtcd();
  const [host, port] = etcd.endpoints[0].split(':');
  const proxy = new TcpProxy(host, Number(port));
  await proxy.listen();
  const writer = new EtcdStore({ hosts: etcd.endpoints });
  const behind = new EtcdStore({ hosts: [proxy.endpoint], callTimeout: 2_000 });
  const watchStarts: number[] = [];
  return {
    writer,
    watched: recordWatches(behind, watchStarts),
    watchStarts,
    async cutMidCatchUp(received) {
      await waitFor('the watch to stall in its catch-up', () => proxy.holding && received() > 0, 20_000);
      await new Promise((r) => setTimeout(r, 100)); // let whatever got through reach the consumer
      const n = received();
      proxy.cut();
      return n;
    },
    hold: (bytes) => proxy.hold(bytes),
    close: async () => {
      await behind.close();
      await writer.close();
      await proxy.close();
    },
  };
}

interface Expected {
  type: 'put' | 'delete';
  key: string;
  value: string;
  revision: number;
}

/**
 * Writes `count` changes under `prefix`, 20 at a time on distinct keys: puts, deletes of existing keys,
 * and every 25th a txn of three puts (three events in one revision). Returns the events in store order.
 */
async function writeEvents(
  store: Store,
  prefix: string,
  model: Map<string, string>,
  from: number,
  count: number,
): Promise<Expected[]> {
  const out: Expected[] = [];
  for (let chunk = from; chunk < from + count; chunk += 20) {
    const ops: Promise<Expected[]>[] = [];
    for (let i = chunk; i < Math.min(chunk + 20, from + count); i++) {
      const key = `${prefix}k${i % 150}`;
      const value = `v${i}`;
      if (i % 25 === 0) {
        const keys = [key, `${prefix}x${i}a`, `${prefix}x${i}b`];
        ops.push(
          store
            .txn({ compare: [], success: keys.map((k) => ({ type: 'put' as const, key: k, value })) })
            .then((r) => keys.map((k) => ({ type: 'put' as const, key: k, value, revision: r.revision }))),
        );
        for (const k of keys) model.set(k, value);
      } else if (i % 10 === 9 && model.has(key)) {
        model.delete(key);
        ops.push(
          store.delete(key).then((r) => [{ type: 'delete' as const, key, value: '', revision: r.revision }]),
        );
      } else {
        model.set(key, value);
        ops.push(
          store.put(key, value).then((r) => [{ type: 'put' as const, key, value, revision: r.revision }]),
        );
      }
    }
    for (const evs of await Promise.all(ops)) out.push(...evs);
  }
  // Stable: the three events of one txn keep their op order.
  return out.sort((a, b) => a.revision - b.revision);
}

function applyUpdate(view: Map<string, string>, update: WatchUpdate): void {
  if (update.type === 'events') {
    for (const ev of update.events) {
      if (ev.type === 'put') view.set(ev.kv.key, ev.kv.value);
      else view.delete(ev.kv.key);
    }
  } else {
    view.clear();
    for (const kv of update.kvs) view.set(kv.key, kv.value);
  }
}

async function freshRange(store: Store, prefix: string): Promise<Map<string, string>> {
  const res = await store.range(prefix, { prefix: true });
  return new Map(res.kvs.map((kv: KeyValue) => [kv.key, kv.value]));
}

for (const factory of storeFactories()) {
  describe(`prefix watcher on ${factory.name}`, () => {
    let rig: Rig;
    before(async () => {
      rig = factory.name === 'memory' ? await memoryRig() : await etcdRig();
    });
    after(async () => {
      await rig?.close();
    });

    it('delivers every event exactly once, in order, across a connection cut mid catch-up', async (t) => {
      const prefix = `/${uniqueRoot('watch-cut')}/`;
      const model = new Map<string, string>();
      await writeEvents(rig.writer, prefix, model, 0, 100);
      const watcher = new PrefixWatcher(rig.watched, prefix, { retryDelay: 100 });
      const view = new Map<string, string>();
      const received: WatchEvent[] = [];
      let snapshotRevision = 0;
      let resyncs = 0;
      let gotFirst: () => void = () => {};
      const firstBatch = new Promise<void>((r) => {
        gotFirst = r;
      });
      const iterator = watcher[Symbol.asyncIterator]();
      const first = await iterator.next();
      assert.ok(!first.done && first.value.type === 'snapshot');
      snapshotRevision = first.value.revision;
      applyUpdate(view, first.value);
      assert.deepEqual(view, model);

      // More than 2,500 events land while the watcher is not reading: it has to catch up on all of them.
      const expected = await writeEvents(rig.writer, prefix, model, 100, 2_600);
      assert.ok(expected.length > 2_500);
      // etcd: the first catch-up response (≤ 1,000 revisions, ~85 KB) gets through, the next one stalls.
      rig.hold?.(130 * 1024);
      const consumer = (async () => {
        for (;;) {
          const r = await iterator.next();
          if (r.done) return;
          if (r.value.type !== 'events') resyncs++;
          applyUpdate(view, r.value);
          if (r.value.type === 'events') received.push(...r.value.events);
          if (received.length > 0 && factory.name === 'memory' && rig.watchStarts.length === 1) {
            (rig.writer as MemoryStore).setUnavailable(true); // cut before the next batch is read
            gotFirst();
          }
        }
      })();
      const atCut = await rig.cutMidCatchUp(() => received.length, firstBatch);
      assert.ok(atCut > 0 && atCut < expected.length, `cut after ${atCut} of ${expected.length} events`);

      // After the cut: the watcher resumes from the last delivered event's mod revision + 1.
      await waitFor('the watcher to resume', () => rig.watchStarts.length >= 2, 20_000);
      const resumedAt = rig.watchStarts[1];
      t.diagnostic(`cut after ${atCut} of ${expected.length} events; resumed at revision ${resumedAt}`);
      assert.ok(resumedAt > snapshotRevision + 1, `resumed at ${resumedAt}, not from the snapshot again`);
      expected.push(...(await writeEvents(rig.writer, prefix, model, 2_700, 500)));
      // A marker written after everything else: the watch delivers in revision order, so an extra (a
      // duplicate) event would come before the marker. Once the marker is in, nothing is missing or extra.
      const marker = `${prefix}marker`;
      const { revision: markerRevision } = await rig.writer.put(marker, 'end');
      model.set(marker, 'end');
      expected.push({ type: 'put', key: marker, value: 'end', revision: markerRevision });
      await waitFor('the marker', () => received.some((e) => e.kv.key === marker), 60_000);
      watcher.stop();
      await consumer;

      assert.equal(resyncs, 0);
      assert.equal(received.length, expected.length, 'no event lost, none repeated');
      assert.deepEqual(
        received.map((e) => ({ type: e.type, key: e.kv.key, value: e.kv.value, revision: e.kv.modRevision })),
        expected,
      );
      // Revisions are contiguous from the snapshot on: nothing in between was skipped.
      const revs = [...new Set(received.map((e) => e.kv.modRevision))];
      assert.ok(
        revs.includes(resumedAt - 1) && revs.includes(resumedAt),
        'resumed right after the last event',
      );
      assert.equal(revs[0], snapshotRevision + 1);
      assert.equal(revs.at(-1), snapshotRevision + revs.length);
      assert.deepEqual(view, await freshRange(rig.writer, prefix));
      assert.deepEqual(view, model);
    });

    it('after a compaction past its revision it resyncs, and the view equals a fresh range', async () => {
      const prefix = `/${uniqueRoot('watch-compact')}/`;
      const model = new Map<string, string>();
      await writeEvents(rig.writer, prefix, model, 0, 100);
      const watcher = new PrefixWatcher(rig.watched, prefix, { retryDelay: 100 });
      const view = new Map<string, string>();
      const types: string[] = [];
      let lastRevision = 0;
      const iterator = watcher[Symbol.asyncIterator]();
      const first = await iterator.next();
      assert.ok(!first.done);
      applyUpdate(view, first.value);
      types.push(first.value.type);

      const written = await writeEvents(rig.writer, prefix, model, 100, 300);
      const compactAt = written.at(-1)?.revision ?? 0;
      await rig.writer.compact(compactAt);
      const consumer = (async () => {
        for (;;) {
          const r = await iterator.next();
          if (r.done) return;
          applyUpdate(view, r.value);
          types.push(r.value.type);
          lastRevision =
            r.value.type === 'events' ? (r.value.events.at(-1)?.kv.modRevision ?? 0) : r.value.revision;
        }
      })();
      await waitFor('a resync', () => types.includes('resync'), 20_000);
      const more = await writeEvents(rig.writer, prefix, model, 400, 50);
      const finalRevision = more.at(-1)?.revision ?? 0;
      await waitFor('the watcher to reach the last write', () => lastRevision >= finalRevision, 20_000);
      watcher.stop();
      await consumer;
      assert.equal(types[0], 'snapshot');
      assert.equal(types.filter((x) => x === 'resync').length, 1);
      assert.deepEqual(view, await freshRange(rig.writer, prefix));
      assert.deepEqual(view, model);
    });

    it('waitForPut / waitForDelete see a change made after their start revision', async () => {
      const key = `/${uniqueRoot('wait')}/k`;
      const { revision } = await rig.writer.put(key, 'a');
      const deleted = waitForDelete(rig.watched, key, revision);
      const put = waitForPut(rig.watched, key, revision + 1);
      await rig.writer.delete(key);
      await deleted;
      await rig.writer.put(key, 'b');
      await put;
      const ac = new AbortController();
      const never = waitForDelete(rig.watched, `${key}-absent`, revision, ac.signal);
      ac.abort();
      await assert.rejects(never, { name: 'AbortError' });
    });
  });
}

after(async () => {
  await etcd?.destroy();
});
