/**
 * The escheduler protocol end to end (issue 4), on both stores (`ESCHEDULER_TEST_STORES` limits a run to
 * one): the memory store and a real etcd. What depends on time (a drain moves tasks at once, not after the
 * TTL; a stopping leader hands over at once) is shown on the memory store and a ManualClock, where time
 * moves only when the test says so — never as a wall-clock bound.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { WorkerNameTakenError, WorkerNumExceedMaximumError } from '../src/errors.js';
import { MemoryStore } from '../src/store/memory.js';
import type { Store } from '../src/store/port.js';
import { decodeTask } from '../src/task.js';
import { ManualClock } from '../src/util/clock.js';
import { waitFor } from './helpers/async.js';
import { Fleet, spread } from './helpers/fleet.js';
import { storeFactories, type TestStore } from './helpers/stores.js';

for (const factory of storeFactories()) {
  describe(`protocol on the ${factory.name} store`, () => {
    let t: TestStore | undefined;
    let store: Store;
    before(async () => {
      t = await factory.create();
      store = t.store;
    });
    const fleets: Fleet[] = [];
    const fleet = (name: string, maxNumNodes?: number, ttl?: number) => {
      const f = new Fleet(store, `${factory.name}-${name}`, maxNumNodes, ttl);
      fleets.push(f);
      return f;
    };
    after(async () => {
      await Promise.allSettled(fleets.map((f) => f.close()));
      await t?.close();
    });

    it('fresh root: nothing assigned before the barrier, then 5/5/5/5; the cap and taken names are refused', async () => {
      const f = fleet('barrier', 5);
      f.tasks = Fleet.tasks(20);
      f.master('m1');
      const ws = ['w1', 'w2', 'w3', 'w4'].map((n) => f.worker(n));
      await Promise.all(ws.slice(0, 3).map((w) => w.start()));
      await waitFor('3 workers in the barrier', () => ws.slice(0, 3).every((w) => w.status === 'in_barrier'));
      assert.equal((await f.assignment()).size, 0, 'nothing assigned while the barrier waits');
      await ws[3].start();
      const a = await f.settled(['w1', 'w2', 'w3', 'w4']);
      // Proof by revisions, not by timing: every assignment was written after the 4th worker registered.
      const w4 = await store.get(f.k.worker('w4'));
      const tasks = await store.range(f.k.taskPrefix, { prefix: true });
      assert.ok(w4);
      for (const kv of tasks.kvs)
        assert.ok(kv.createRevision > w4.createRevision, `${kv.key} written before w4 joined`);
      assert.ok(await store.get(f.k.barrierLeft), 'worker_barrier_left set');
      assert.deepEqual(
        [...a.values()].map((l) => l.length),
        [5, 5, 5, 5],
      );
      await waitFor('all tasks running', () => f.runs.filter((r) => r.stop === undefined).length === 20);
      await waitFor('workers left the barrier', () => ws.every((w) => w.status === 'left_barrier'));

      const w5 = f.worker('w5');
      await assert.rejects(w5.start(), WorkerNumExceedMaximumError);
      const f2 = f.worker('w1');
      await assert.rejects(f2.start(), WorkerNameTakenError);
    });

    it('a graceful stop moves only its tasks; a crash moves only its tasks; a join takes ⌊T/(W+1)⌋', async () => {
      // That the drain moves the tasks at once, not after the TTL, is shown on a ManualClock below.
      const f = fleet('moves', undefined, 10);
      f.tasks = Fleet.tasks(24);
      await store.put(f.k.barrierLeft, new Date().toISOString()); // established root: no barrier
      f.master('m1');
      const names = ['w1', 'w2', 'w3', 'w4'];
      const ws = names.map((n) => f.worker(n));
      await Promise.all(ws.map((w) => w.start()));
      const a0 = await f.balanced(names);
      assert.equal(spread(a0, names), 0);

      // graceful stop of w4
      await ws[3].stop();
      assert.equal(await store.get(f.k.worker('w4')), undefined, 'worker key deleted on stop');
      const a1 = await f.balanced(names.slice(0, 3));
      for (const w of names.slice(0, 3)) {
        for (const id of a0.get(w)!) assert.ok(a1.get(w)!.includes(id), `${id} stayed on ${w}`);
      }
      assert.equal(spread(a1, names.slice(0, 3)), 0);

      // crash of w3: its lease revoked, no drain, and the process gone (no re-registration)
      await store.revokeLease(ws[2].leaseId!);
      await ws[2].stop();
      const a2 = await f.balanced(['w1', 'w2']);
      for (const w of ['w1', 'w2']) for (const id of a1.get(w)!) assert.ok(a2.get(w)!.includes(id));
      assert.deepEqual([a2.get('w1')!.length, a2.get('w2')!.length], [12, 12]);

      // join of w5: exactly ⌊24/3⌋ = 8 tasks move to it
      const w5 = f.worker('w5');
      await w5.start();
      const a3 = await f.balanced(['w1', 'w2', 'w5']);
      assert.equal(a3.get('w5')!.length, 8);
      let kept = 0;
      for (const w of ['w1', 'w2']) for (const id of a3.get(w)!) if (a2.get(w)!.includes(id)) kept++;
      assert.equal(kept, 16, 'only the 8 tasks for the newcomer moved');
      // and nobody runs a task twice at the end
      await waitFor('runs settled to the assignment', () => {
        const running = f.runs.filter((r) => r.stop === undefined).map((r) => r.id);
        return running.length === 24 && new Set(running).size === 24;
      });
    });

    it('handoff: the new owner starts only after the old run settled', async () => {
      const f = fleet('handoff');
      f.tasks = Fleet.tasks(4);
      for (const t of f.tasks) f.stopDelay.set(t.id, 2_000);
      await store.put(f.k.barrierLeft, new Date().toISOString());
      f.master('m1');
      const w1 = f.worker('w1');
      await w1.start();
      await f.settled(['w1']);
      await waitFor('4 runs on w1', () => f.runningOn('w1').length === 4);
      const w2 = f.worker('w2');
      await w2.start();
      await f.balanced(['w1', 'w2']);
      const moved = await waitFor(
        '2 runs on w2',
        () => (f.runningOn('w2').length === 2 ? f.runningOn('w2') : undefined),
        15_000,
      );
      for (const id of moved) {
        const old = f.runs.find((r) => r.id === id && r.worker === 'w1')!;
        const neu = f.runs.find((r) => r.id === id && r.worker === 'w2')!;
        assert.ok(old.stop !== undefined, `${id}: old run settled`);
        assert.ok(
          neu.start >= old.stop!,
          `${id}: new run started ${neu.start - old.stop!} ms after the old settled`,
        );
        assert.ok(old.stop! - old.start >= 2_000);
      }
    });

    it('two masters: one schedules; a deposed leader cannot write; stopping the leader hands over at once', async () => {
      const f = fleet('masters');
      f.tasks = Fleet.tasks(6);
      await store.put(f.k.barrierLeft, new Date().toISOString());
      let gate: Promise<void> | undefined;
      let release = () => {};
      let entered = false;
      const m1 = f.master('m1', {
        generator: async () => {
          if (!gate) return f.tasks;
          entered = true;
          await gate;
          return [{ id: 'from-deposed' }];
        },
      });
      await waitFor('m1 leads', () => m1.isLeader);
      const m2 = f.master('m2');
      const w = f.worker('w1');
      await w.start();
      await f.settled(['w1']);
      assert.equal(m2.isLeader, false);
      assert.equal(m2.lastSchedule, undefined, 'the follower never scheduled');

      // m1 is in the middle of a schedule when its election key disappears: its write must be refused.
      gate = new Promise((r) => {
        release = r;
      });
      m1.notifySchedule('test: deposed mid-schedule');
      await waitFor('m1 inside its generator', () => entered);
      const election = await store.range(f.k.election, { prefix: true, sortBy: 'create' });
      assert.equal(election.kvs[0].value, 'm1');
      const deposed = new Promise<void>((resolve) => m1.once('deposed', () => resolve()));
      await store.delete(election.kvs[0].key);
      await waitFor('m2 leads', () => m2.isLeader, 3_000);
      release();
      await deposed;
      const rejections = (await f.metrics.fenceRejections.get()).values.find((v) => v.labels.name === 'm1');
      assert.equal(rejections?.value, 1, 'the deposed write was refused by the fence');
      await waitFor('m2 scheduled', () => m2.lastSchedule !== undefined);
      const ids = [...(await f.assignment()).values()].flat();
      assert.ok(!ids.includes('from-deposed'), 'nothing from the deposed master reached the store');
      assert.equal(JSON.parse((await store.get(f.k.masterStatus))!.value).leader, 'm2');
      gate = undefined;

      // stop the leader: the other candidate takes over (at once, not after a TTL: see the ManualClock test)
      await m2.stop();
      await waitFor('m1 leads again', () => m1.isLeader);
      await f.settled(['w1']);
    });

    it('generator failures and invalid tasks: valid tasks scheduled, the rest reported by id', async () => {
      const f = fleet('generator');
      await store.put(f.k.barrierLeft, new Date().toISOString());
      let mode: 'ok' | 'throw' | 'hang' = 'ok';
      f.tasks = [
        { id: 'good1' },
        { id: 'good2', priority: 5 },
        { id: 'good1' },
        { id: 'bad/slash' },
        { id: 'huge', raw: new Uint8Array(2 * 1024 * 1024) },
      ];
      const m = f.master('m1', {
        timeout: 300,
        generator: ({ signal }) => {
          if (mode === 'throw') throw new Error('generator exploded');
          if (mode === 'hang')
            return new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)));
          return f.tasks;
        },
      });
      const w = f.worker('w1');
      await w.start();
      const report = await waitFor('a schedule', () => m.lastSchedule);
      const a = await waitFor('good tasks assigned', async () => {
        const x = await f.assignment();
        return x.get('w1')?.length === 2 ? x : undefined;
      });
      assert.deepEqual(a.get('w1'), ['good1', 'good2']);
      const errors = (
        await waitFor('status with errors', async () => {
          const st = await store.get(f.k.masterStatus);
          return st ? JSON.parse(st.value) : undefined;
        })
      ).errors as string[];
      assert.ok(
        errors.some((e) => e.includes('"good1"') && e.includes('duplicate')),
        errors.join('; '),
      );
      assert.ok(
        errors.some((e) => e.includes('"bad/slash"')),
        errors.join('; '),
      );
      assert.ok(
        errors.some((e) => e.includes('"huge"')),
        errors.join('; '),
      );
      assert.equal(report.tasks, 2);

      for (const bad of ['throw', 'hang'] as const) {
        mode = bad;
        const seen = m.lastSchedule;
        m.notifySchedule(`test ${bad}`);
        const r = await waitFor(`schedule with a ${bad}ing generator`, () =>
          m.lastSchedule !== seen ? m.lastSchedule : undefined,
        );
        assert.equal(r.result, 'generator_error');
        assert.deepEqual((await f.assignment()).get('w1'), ['good1', 'good2'], 'assignment left as it is');
      }
      mode = 'ok';
      f.tasks = [{ id: 'good3' }];
      m.notifySchedule('test recovered');
      await waitFor('master keeps serving', async () => (await f.assignment()).get('w1')?.join() === 'good3');
    });

    it('golden values: writes the original JSON byte for byte and reads the original format back', async () => {
      const f = fleet('golden');
      await store.put(f.k.barrierLeft, new Date().toISOString());
      f.tasks = [{ id: '10', raw: new TextEncoder().encode('raw data for task 10') }];
      f.master('m1');
      const w = f.worker('w1');
      await w.start();
      await f.settled(['w1']);
      const kv = await store.get(f.k.task('w1', '10'));
      assert.equal(kv?.value, '{"P":0,"Key":"","Group":"","ID":"10","Raw":"cmF3IGRhdGEgZm9yIHRhc2sgMTA="}');
      // a value written by the original, put straight into the store, reaches the worker as an equal task
      const goValue = '{"P":10,"Key":"k","Group":"spot","ID":"btcusdt","Raw":"cmF3"}';
      await store.put(f.k.task('w1', 'btcusdt'), goValue);
      const t = await waitFor('the worker sees the Go-written task', () => w.assignedTasks.get('btcusdt'));
      assert.deepEqual(t, decodeTask(goValue));
      assert.deepEqual(t, {
        id: 'btcusdt',
        priority: 10,
        key: 'k',
        group: 'spot',
        raw: new TextEncoder().encode('raw'),
      });
    });
  });
}

// Registered only when the memory store is in the run (`ESCHEDULER_TEST_STORES`): a ManualClock needs it.
if (storeFactories().some((f) => f.name === 'memory')) {
  describe('protocol timing on the memory store and a ManualClock', () => {
    const fleets: Fleet[] = [];
    const manualFleet = (name: string, ttl: number) => {
      const clock = new ManualClock();
      const store = new MemoryStore({ clock, seed: 11 });
      const f = new Fleet(store, name, 10, ttl, { clock });
      fleets.push(f);
      return { f, clock, store };
    };
    after(async () => {
      await Promise.allSettled(fleets.map((f) => f.close()));
      await Promise.allSettled(fleets.map((f) => f.store.close()));
    });

    it('a graceful stop moves its tasks at once: the fleet rebalances long before the TTL', async () => {
      const ttl = 10;
      const { f, clock, store } = manualFleet('drain-clock', ttl);
      f.tasks = Fleet.tasks(12);
      await store.put(f.k.barrierLeft, 'established');
      f.master('m1');
      const names = ['w1', 'w2', 'w3', 'w4'];
      const ws = names.map((n) => f.worker(n));
      await Promise.all(ws.map((w) => w.start()));
      const a0 = await f.balanced(names);
      await f.until('12 runs', () => f.runs.filter((r) => r.stop === undefined).length === 12);

      const t0 = clock.now();
      let stopped = false;
      const stopping = ws[3].stop().then(() => {
        stopped = true;
      });
      await f.until('w4 stopped', () => stopped);
      await stopping;
      const a1 = await f.balanced(names.slice(0, 3));
      const ms = clock.now() - t0;
      // On the manual clock nothing else moves time: a drain that left its key to expire with the lease
      // would need the clock to reach the TTL before the master could move the tasks.
      assert.ok(ms < ttl * 1000, `rebalanced ${ms} ms (manual clock) after the stop; TTL ${ttl} s`);
      for (const w of names.slice(0, 3))
        for (const id of a0.get(w)!) assert.ok(a1.get(w)!.includes(id), `${id} stayed on ${w}`);
    });

    it('a stopping leader hands over at once: the other candidate leads long before the TTL', async () => {
      const ttl = 10;
      const { f, clock, store } = manualFleet('handover-clock', ttl);
      f.tasks = Fleet.tasks(2);
      await store.put(f.k.barrierLeft, 'established');
      const m1 = f.master('m1');
      await f.until('m1 leads', () => m1.isLeader);
      const m2 = f.master('m2');
      await f.until(
        'm2 campaigns',
        async () => (await store.range(f.k.election, { prefix: true })).count === 2,
      );
      assert.equal(m2.isLeader, false);

      const t0 = clock.now();
      let stopped = false;
      const stopping = m1.stop().then(() => {
        stopped = true;
      });
      await f.until('m1 stopped', () => stopped);
      await stopping;
      await f.until('m2 leads', () => m2.isLeader);
      const ms = clock.now() - t0;
      assert.ok(ms < ttl * 1000, `m2 led ${ms} ms (manual clock) after m1 stopped; TTL ${ttl} s`);
    });
  });
}
