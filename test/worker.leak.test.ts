/**
 * Abort listeners on the worker's long-lived signals (issue 10): after N lost leases (re-registrations)
 * and N assignment changes with claims, the stop signal and the session's signal carry as many listeners
 * as after one — no wait leaves its listener behind. On the code before the split, every loss within a TTL
 * left a sleep (and its listener) on the stop signal until the old lease's expiry: 11 of them made Node
 * print the MaxListenersExceededWarning seen in the 1000-seed simulation.
 */
import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { after, before, describe, it } from 'node:test';
import { keys } from '../src/scheduler/keys.js';
import { Worker } from '../src/scheduler/worker.js';
import { MemoryStore } from '../src/store/memory.js';
import { encodeTask } from '../src/task.js';
import { ManualClock } from '../src/util/clock.js';

/** The worker's long-lived signals, reached through its private fields (the test's one look inside). */
function longLived(w: Worker): { stop: AbortSignal; session?: AbortSignal } {
  const inside = w as unknown as {
    stopController: AbortController;
    state: { session?: { signal: AbortSignal } };
  };
  return { stop: inside.stopController.signal, session: inside.state.session?.signal };
}

const abortListeners = (s: AbortSignal | undefined) => (s ? getEventListeners(s, 'abort').length : 0);

/** Every AbortSignal that got an abort listener while the census runs. */
const census = new Set<AbortSignal>();
const originalAdd = AbortSignal.prototype.addEventListener;

/** The most abort listeners on one signal that has not aborted (a live wait holds one each). */
function mostOnOneSignal(): number {
  let most = 0;
  for (const s of census) if (!s.aborted) most = Math.max(most, abortListeners(s));
  return most;
}

describe('worker: no abort listener left behind on long-lived signals', () => {
  before(() => {
    AbortSignal.prototype.addEventListener = function (
      this: AbortSignal,
      ...args: Parameters<AbortSignal['addEventListener']>
    ) {
      census.add(this);
      return originalAdd.apply(this, args);
    } as AbortSignal['addEventListener'];
  });
  after(() => {
    AbortSignal.prototype.addEventListener = originalAdd;
  });

  const setup = async (root: string) => {
    const clock = new ManualClock(1_700_000_000_000, 3);
    const store = new MemoryStore({ clock, seed: 3 });
    const k = keys(root);
    await store.put(k.barrierLeft, new Date(clock.now()).toISOString());
    const running = new Set<string>();
    const w = new Worker({
      store,
      rootName: root,
      maxNumNodes: 5,
      ttl: 10,
      name: 'w1',
      clock,
      run: (task, { signal }) =>
        new Promise<void>((resolve) => {
          running.add(task.id);
          signal.addEventListener(
            'abort',
            () => {
              running.delete(task.id);
              resolve();
            },
            { once: true },
          );
        }),
    });
    void w.start();
    /** Advances the clock in 50 ms steps until `cond` holds (at most `ms`). */
    const until = async (what: string, cond: () => boolean, ms = 20_000) => {
      for (let t = 0; t < ms && !cond(); t += 50) await clock.advance(50);
      assert.ok(cond(), `${what} within ${ms} ms of the manual clock`);
    };
    const assign = async (ids: string[]) => {
      const now = new Set(ids);
      for (const kv of (await store.range(k.workerTasks('w1'), { prefix: true })).kvs) {
        if (!now.has(kv.key.slice(k.workerTasks('w1').length))) await store.delete(kv.key);
      }
      for (const id of ids) await store.put(k.task('w1', id), encodeTask({ id }));
    };
    return { clock, store, k, w, running, until, assign };
  };

  it('after N lost leases (each re-registered within one TTL of the last) as after one', async () => {
    const { store, w, running, until, assign } = await setup('leak-leases');
    await until('registered', () => w.leaseId !== undefined);
    await assign(['a', 'b', 'c']);
    await until('3 runs', () => running.size === 3);

    const loseLease = async () => {
      const lost = w.leaseId!;
      await store.revokeLease(lost);
      await until('re-registered with a new lease and running again', () => {
        const lease = w.leaseId;
        return lease !== undefined && lease !== lost && running.size === 3;
      });
    };
    await loseLease();
    const one = { stop: abortListeners(longLived(w).stop), session: abortListeners(longLived(w).session) };
    const mostAfterOne = mostOnOneSignal();
    const N = 20;
    for (let i = 1; i < N; i++) await loseLease();
    const many = { stop: abortListeners(longLived(w).stop), session: abortListeners(longLived(w).session) };

    assert.ok(one.stop > 0, 'the stop signal is found and has its listeners (the census sees the worker)');
    assert.deepEqual(many, one, `listeners after ${N} re-registrations vs after 1`);
    assert.ok(many.stop <= 4, `${many.stop} listeners on the stop signal`);
    assert.ok(many.session <= 4, `${many.session} listeners on the session's signal`);
    assert.ok(mostOnOneSignal() <= mostAfterOne, `most on one live signal: ${mostOnOneSignal()}`);
    const stopping = w.stop();
    await until('stopped', () => w.status === 'dead');
    await stopping;
  });

  it('after N assignment changes with contended claims as after one; not one per task either', async () => {
    const { store, k, w, running, until, assign } = await setup('leak-assign');
    await until('registered', () => w.leaseId !== undefined);
    const other = await store.grantLease(60);

    const round = async (i: number) => {
      const ids = Array.from({ length: 8 }, (_, j) => `r${i}-${j}`);
      // Half of them are still claimed by another worker: their runners wait for the claim to go.
      for (const id of ids.slice(0, 4)) await store.put(k.claim(id), 'w-other', { lease: other.id });
      await assign(ids);
      await until(`round ${i}: 4 runs while 4 wait for their claim`, () => running.size === 4);
      for (const id of ids.slice(0, 4)) await store.delete(k.claim(id));
      await until(`round ${i}: 8 runs`, () => running.size === 8 && ids.every((id) => running.has(id)));
    };
    await round(0);
    const one = { stop: abortListeners(longLived(w).stop), session: abortListeners(longLived(w).session) };
    const mostAfterOne = mostOnOneSignal();
    const N = 20;
    for (let i = 1; i < N; i++) await round(i);
    const many = { stop: abortListeners(longLived(w).stop), session: abortListeners(longLived(w).session) };

    assert.ok(one.stop > 0, 'the stop signal is found and has its listeners');
    assert.deepEqual(many, one, `listeners after ${N} assignment changes vs after 1`);
    assert.ok(many.session <= 4, `${many.session} listeners on the session's signal with 8 runs`);
    assert.ok(mostOnOneSignal() <= mostAfterOne, `most on one live signal: ${mostOnOneSignal()}`);
    const stopping = w.stop();
    await until('stopped', () => w.status === 'dead');
    await stopping;
  });
});
