/**
 * Worker capacities and task weights end to end (issue 14), on both stores — a real etcd and the memory
 * store: workers of capacity 1, 2 and 4 end with loads in that proportion, each publishes
 * `/<root>/node/<name>` on its lease (gone when it stops), weighted tasks are stored with their "W" field
 * and planned by weight, and a weight-1 task is stored with the Go original's bytes.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { parseNodeInfo } from '../src/scheduler/node.js';
import type { Store } from '../src/store/port.js';
import { decodeTask, type Task } from '../src/task.js';
import { VERSION } from '../src/version.js';
import { waitFor } from './helpers/async.js';
import { Fleet } from './helpers/fleet.js';
import { storeFactories, type TestStore } from './helpers/stores.js';

for (const factory of storeFactories()) {
  describe(`capacities and weights on the ${factory.name} store`, () => {
    let t: TestStore | undefined;
    let store: Store;
    let f: Fleet | undefined;
    before(async () => {
      t = await factory.create();
      store = t.store;
    });
    after(async () => {
      await f?.close();
      await t?.close();
    });

    /** Load (sum of the stored tasks' weights) per worker, read from the store. */
    async function loads(fleet: Fleet): Promise<Map<string, number>> {
      const res = await store.range(fleet.k.taskPrefix, { prefix: true });
      const out = new Map<string, number>();
      for (const kv of res.kvs) {
        const [worker, id] = kv.key.slice(fleet.k.taskPrefix.length).split('/');
        out.set(worker, (out.get(worker) ?? 0) + (decodeTask(kv.value, id).weight ?? 1));
      }
      return out;
    }

    it('capacities 1, 2, 4: loads 10, 20, 40; node keys on the leases; weighted tasks by weight', async () => {
      f = new Fleet(store, `${factory.name}-capacity`, 10, 10);
      const fleet = f;
      fleet.tasks = Fleet.tasks(70);
      await store.put(fleet.k.barrierLeft, new Date().toISOString()); // established root: no barrier
      const master = fleet.master('m1');
      const caps = { c1: 1, c2: 2, c4: 4 };
      const ws = Object.entries(caps).map(([name, capacity]) => fleet.worker(name, { capacity }));
      await Promise.all(ws.map((w) => w.start()));

      // every worker published its facts, on its own lease
      for (const w of ws) {
        const kv = await store.get(fleet.k.node(w.name));
        assert.ok(kv, `node key of ${w.name}`);
        assert.equal(kv.lease, w.leaseId, `node key of ${w.name} on its lease`);
        const info = parseNodeInfo(w.name, kv.value);
        assert.equal(info.capacity, caps[w.name as keyof typeof caps]);
        assert.equal(info.version, VERSION);
        assert.equal(info.pid, process.pid);
        assert.ok(info.host.length > 0 && !Number.isNaN(Date.parse(info.startedAt)), kv.value);
      }

      const counts = await waitFor('loads 10, 20, 40', async () => {
        const l = await loads(fleet);
        return l.get('c1') === 10 && l.get('c2') === 20 && l.get('c4') === 40 ? l : undefined;
      });
      assert.deepEqual(Object.fromEntries(counts), { c1: 10, c2: 20, c4: 40 });
      const a = await fleet.settled(['c1', 'c2', 'c4']);
      // a weight-1 task is stored exactly as the Go original writes it
      const one = await store.get(fleet.k.task('c1', a.get('c1')![0]));
      assert.equal(one?.value, `{"P":0,"Key":"","Group":"","ID":"${a.get('c1')![0]}","Raw":null}`);

      // weighted: 40 tasks of weight 1 and 10 of weight 10 (total 140: fair shares 20, 40, 80)
      const weighted: Task[] = [
        ...Fleet.tasks(40, 'u'),
        ...Array.from({ length: 10 }, (_, i) => ({ id: `h${i}`, weight: 10 })),
      ];
      fleet.tasks = weighted;
      master.notifySchedule('weights');
      await fleet.settled(['c1', 'c2', 'c4']);
      await waitFor(
        'the weighted plan',
        async () => [...(await loads(fleet)).values()].reduce((x, y) => x + y, 0) === 140,
      );
      const stored = await store.get(fleet.k.task((await locate(fleet, 'h0'))!, 'h0'));
      assert.match(stored!.value, /,"W":10}$/, 'the weight is stored as an extra "W" field');
      const l = await loads(fleet);
      const fair = { c1: 20, c2: 40, c4: 80 };
      for (const [w, share] of Object.entries(fair)) {
        const load = l.get(w) ?? 0;
        // the weighted bounds with S = 10: fair − 10 < load < fair + 10
        assert.ok(load > share - 10 && load < share + 10, `${w}: load ${load}, fair share ${share}`);
      }
      assert.equal(
        [...l.values()].reduce((x, y) => x + y, 0),
        140,
      );

      // a stopped worker's node key goes with it
      await ws[2].stop();
      assert.equal(await store.get(fleet.k.node('c4')), undefined, 'node key deleted on stop');
      await fleet.settled(['c1', 'c2']);
    });
  });
}

async function locate(fleet: Fleet, id: string): Promise<string | undefined> {
  for (const [w, ids] of await fleet.assignment()) if (ids.includes(id)) return w;
  return undefined;
}

describe('worker capacity option and the published version', () => {
  it('VERSION is package.json version', async () => {
    const { readFileSync } = await import('node:fs');
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
      version: string;
    };
    assert.equal(VERSION, pkg.version);
  });

  it('rejects a bad capacity, naming it', async () => {
    const { Worker } = await import('../src/scheduler/worker.js');
    const { MemoryStore } = await import('../src/store/memory.js');
    const { OptionError } = await import('../src/errors.js');
    const store = new MemoryStore();
    for (const capacity of [0, -1, 2.5, 1_000_001, Number.NaN]) {
      assert.throws(
        () => new Worker({ store, rootName: 'r', maxNumNodes: 3, capacity }),
        (e: unknown) => e instanceof OptionError && /capacity/.test(e.message),
        String(capacity),
      );
    }
    new Worker({ store, rootName: 'r', maxNumNodes: 3, capacity: 1_000_000 }); // the largest is fine
    await store.close();
  });
});
