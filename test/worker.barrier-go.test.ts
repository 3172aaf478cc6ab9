/**
 * The start-up barrier under a master that behaves like the Go original v0.1.59 (issue 11, incompatibility
 * 1), on a MemoryStore and a ManualClock. The fake Go master below does what the original's does: it enters
 * the DoubleBarrier (`/<root>/worker-barrier`, size MaxNumNodes) with its own session, closes that session
 * once entered (its waiter key goes with the lease; it never leaves), writes `worker_barrier_left` (local
 * time), then writes the first schedule, one put per task — and never writes `/<root>/status/master`.
 * A fake Go worker enters with its own session and calls `leave()` (the etcd recipe: every participant
 * leaves together). Before the fix, a TS worker assigned nothing waited for `status/master` forever (and
 * every other participant's leave with it), and one whose enter saw `worker_barrier_left` before `ready`
 * gave the barrier up without leaving.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DoubleBarrier } from '../src/recipes/barrier.js';
import { Session } from '../src/recipes/session.js';
import { type Keys, keys } from '../src/scheduler/keys.js';
import { GO_FIRST_SCHEDULE_SETTLE } from '../src/scheduler/worker/first-schedule.js';
import { Worker } from '../src/scheduler/worker.js';
import { MemoryStore } from '../src/store/memory.js';
import type { Store, WatchBatch, WatchOptions, WatchStream } from '../src/store/port.js';
import { encodeTask } from '../src/task.js';
import { ManualClock, sleep } from '../src/util/clock.js';

const BARRIER_TIMEOUT = 30_000;

interface Rig {
  clock: ManualClock;
  store: MemoryStore;
  k: Keys;
  /** Advances the clock in 50 ms steps until `cond` holds (at most `ms` of the manual clock). */
  until(what: string, cond: () => boolean | Promise<boolean>, ms?: number): Promise<void>;
  /** Advances the clock by `ms` in 50 ms steps. */
  pass(ms: number): Promise<void>;
  waiters(): Promise<string[]>;
  worker(name: string, maxNumNodes: number, store?: Store): Worker;
  stopAll(): Promise<void>;
}

function rig(root: string, seed: number): Rig {
  const clock = new ManualClock(1_700_000_000_000, seed);
  const store = new MemoryStore({ clock, seed });
  const k = keys(root);
  const workers: Worker[] = [];
  const until = async (what: string, cond: () => boolean | Promise<boolean>, ms = 20_000) => {
    for (let t = 0; t < ms && !(await cond()); t += 50) await clock.advance(50);
    assert.ok(await cond(), `${what} within ${ms} ms of the manual clock`);
  };
  return {
    clock,
    store,
    k,
    until,
    pass: async (ms) => {
      for (let t = 0; t < ms; t += 50) await clock.advance(50);
    },
    waiters: async () =>
      (await store.range(`${k.barrier}/waiters/`, { prefix: true })).kvs.map((kv) => kv.key),
    worker: (name, maxNumNodes, s = store) => {
      const w = new Worker({
        store: s,
        rootName: root,
        maxNumNodes,
        ttl: 10,
        name,
        clock,
        barrierTimeout: BARRIER_TIMEOUT,
        // A run handler: the worker leaves the barrier by itself once its tasks run.
        run: (_task, { signal }) =>
          new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true })),
      });
      workers.push(w);
      void w.start();
      return w;
    },
    stopAll: async () => {
      const stopping = Promise.all(workers.map((w) => w.stop()));
      await until('every worker stopped', () => workers.every((w) => w.status === 'dead'));
      await stopping;
    },
  };
}

/** A participant with a session of its own, as a Go process enters: `enter()`, later `leave()`. */
async function participant(r: Rig, count: number): Promise<{ barrier: DoubleBarrier; session: Session }> {
  const session = await Session.create({ store: r.store, ttl: 60, clock: r.clock });
  return { barrier: new DoubleBarrier(session, r.k.barrier, count), session };
}

/**
 * The Go original's master on a fresh root: enter, close the session once entered (never leave), write
 * worker_barrier_left once (RFC 3339, local time), then the first schedule — one put per task — and never
 * `status/master`.
 */
async function goMaster(r: Rig, count: number, schedule: Record<string, string[]>): Promise<void> {
  const { barrier, session } = await participant(r, count);
  await barrier.enter();
  await session.close();
  await r.store.put(r.k.barrierLeft, '2023-11-14T23:13:20+01:00');
  for (const [worker, ids] of Object.entries(schedule)) {
    for (const id of ids) await r.store.put(r.k.task(worker, id), encodeTask({ id }));
  }
}

/** `store`, with the events of a watch on exactly `key` delivered `ms` late (a slow watch stream). */
function lateWatchOf(store: Store, clock: ManualClock, key: string, ms: number): Store {
  const late = (stream: WatchStream, signal?: AbortSignal): WatchStream => ({
    async *[Symbol.asyncIterator](): AsyncIterator<WatchBatch> {
      for await (const batch of stream) {
        await sleep(clock, ms, signal).catch(() => undefined);
        if (signal?.aborted) return;
        yield batch;
      }
    },
  });
  return new Proxy(store, {
    get(target, prop) {
      if (prop === 'watch') {
        return (k: string, options?: WatchOptions) => {
          const stream = target.watch(k, options);
          return k === key && !options?.prefix ? late(stream, options?.signal) : stream;
        };
      }
      const v = Reflect.get(target, prop, target);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}

describe('worker: the start-up barrier under a Go master (issue 11, incompatibility 1)', () => {
  it('a TS worker assigned nothing leaves with the others; a Go worker’s leave returns; no key left behind', async () => {
    const r = rig('go-barrier-none', 11);
    const count = 4; // the Go master, a Go worker and two TS workers
    let masterDone = false;
    const master = goMaster(r, count, { go1: ['t1'], w2: ['t2', 't3'] }).then(() => {
      masterDone = true;
    });
    const go = await participant(r, count);
    let goLeft = false;
    const goWorker = (async () => {
      await go.barrier.enter();
      await go.barrier.leave(); // as a Go app calls TryLeaveBarrier at once
      goLeft = true;
    })();
    const w1 = r.worker('w1', count);
    const w2 = r.worker('w2', count);
    await r.until('every participant entered and the master wrote its first schedule', () => masterDone);
    await master;
    assert.equal(await r.store.get(r.k.masterStatus), undefined, 'a Go master writes no status/master');
    assert.equal((await r.store.range(r.k.workerTasks('w1'), { prefix: true })).count, 0, 'w1 got nothing');

    await r.until('both TS workers left the barrier', () => {
      return w1.status === 'left_barrier' && w2.status === 'left_barrier';
    });
    await r.until('the Go worker’s leave returned', () => goLeft);
    await goWorker;
    assert.deepEqual(await r.waiters(), [], 'no waiter key left behind');
    assert.equal(await r.store.get(`${r.k.barrier}/ready`), undefined, 'the last to leave deleted ready');
    assert.deepEqual(w2.runningTasks().sort(), ['t2', 't3']);
    await go.session.close();
    await r.stopAll();
  });

  it('a Go master whose generator gave nothing: the workers leave once barrierTimeout passed, not before', async () => {
    const r = rig('go-barrier-empty', 12);
    const count = 3;
    let masterDone = false;
    const master = goMaster(r, count, {}).then(() => {
      masterDone = true;
    });
    const w1 = r.worker('w1', count);
    const w2 = r.worker('w2', count);
    await r.until('the master passed the barrier', () => masterDone);
    await master;
    const seenAt = r.clock.now();
    await r.pass(BARRIER_TIMEOUT - 2_000);
    assert.equal(w1.status, 'in_barrier', 'a task may still come: w1 waits');
    assert.equal(w2.status, 'in_barrier', 'a task may still come: w2 waits');
    await r.until('both left', () => w1.status === 'left_barrier' && w2.status === 'left_barrier', 10_000);
    assert.ok(r.clock.now() - seenAt >= BARRIER_TIMEOUT - 1_000);
    assert.deepEqual(await r.waiters(), [], 'no waiter key left behind');
    await r.stopAll();
  });

  it('the first schedule settles: a TS worker assigned nothing waits until no task key changed for the settle time', async () => {
    const r = rig('go-barrier-settle', 13);
    const count = 3;
    let masterDone = false;
    const master = goMaster(r, count, { w2: ['t1'] }).then(() => {
      masterDone = true;
    });
    const w1 = r.worker('w1', count);
    const w2 = r.worker('w2', count);
    await r.until('the master wrote its first schedule', () => masterDone);
    await master;
    // The Go master's schedule goes on (slowly): every change restarts the settle time.
    for (let i = 2; i <= 4; i++) {
      await r.pass(GO_FIRST_SCHEDULE_SETTLE / 2);
      assert.equal(w1.status, 'in_barrier', `task ${i - 1} came less than the settle time ago`);
      await r.store.put(r.k.task('w2', `t${i}`), encodeTask({ id: `t${i}` }));
    }
    const lastWrite = r.clock.now();
    await r.until('both left', () => w1.status === 'left_barrier' && w2.status === 'left_barrier');
    assert.ok(r.clock.now() - lastWrite >= GO_FIRST_SCHEDULE_SETTLE, 'not before the settle time');
    assert.deepEqual(w2.runningTasks().sort(), ['t1', 't2', 't3', 't4'], 'w2 left once its 4 tasks ran');
    assert.deepEqual(await r.waiters(), []);
    await r.stopAll();
  });

  it('worker_barrier_left seen before ready: the worker is not cut short, it leaves with the others', async () => {
    const r = rig('go-barrier-race', 14);
    const count = 3; // the Go master, a Go worker, a TS worker
    const go = await participant(r, count);
    const goEntered = go.barrier.enter();
    // The TS worker's watch of `ready` is slow: worker_barrier_left, written right after ready, reaches it
    // first — as when the two arrive on different watch streams.
    const slow = lateWatchOf(r.store, r.clock, `${r.k.barrier}/ready`, 500);
    const w1 = r.worker('w1', count, slow);
    await r.until('the Go worker and w1 wait in the barrier', async () => (await r.waiters()).length === 2);
    const w1Key = (await r.waiters()).find((key) => key !== go.barrier.participantKey);
    assert.ok(w1Key);
    let masterDone = false;
    const master = goMaster(r, count, { go1: ['t1'], w1: ['t2'] }).then(() => {
      masterDone = true;
    });
    await r.until('the master wrote its first schedule', () => masterDone);
    await master;
    await goEntered;
    await r.pass(5_000); // far past the settle time: w1 runs t2 and is leaving
    assert.deepEqual(w1.runningTasks(), ['t2']);
    assert.equal(w1.status, 'in_barrier', 'w1 waits in the leave for the Go worker (not cut short)');
    assert.deepEqual(
      await r.waiters(),
      [go.barrier.participantKey],
      'w1 deleted its key in the leave; the Go worker (the lowest) is still there',
    );
    assert.ok(await r.store.get(`${r.k.barrier}/ready`), 'the barrier is still up: ready stays');

    let goLeft = false;
    const goLeaving = go.barrier.leave().then(() => {
      goLeft = true;
    });
    await r.until('w1 left with the Go worker', () => goLeft && w1.status === 'left_barrier');
    await goLeaving;
    assert.deepEqual(await r.waiters(), [], 'no waiter key left behind');
    assert.equal(await r.store.get(`${r.k.barrier}/ready`), undefined);
    await go.session.close();
    await r.stopAll();
  });
  it('unchanged: worker_barrier_left without ready (a master that timed out) still ends the wait at once', async () => {
    const r = rig('go-barrier-timeout', 15);
    const w1 = r.worker('w1', 3);
    await r.until('w1 waits in the barrier', async () => (await r.waiters()).length === 1);
    await r.pass(1_000);
    assert.equal(w1.status, 'in_barrier');
    await r.store.put(r.k.barrierLeft, '2023-11-14T23:13:20+01:00');
    await r.until('w1 gave the barrier up', () => w1.status === 'left_barrier', 1_000);
    assert.deepEqual(await r.waiters(), [], 'its key deleted as it gave up');
    await r.stopAll();
  });
});
