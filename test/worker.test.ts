/**
 * Worker details on the memory store: the original's manual API (watchTasks, add/del, isAllRunning,
 * tryLeaveBarrier), handoff 'none', restarts with backoff, value changes, option errors.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { OptionError } from '../src/errors.js';
import { Master } from '../src/scheduler/master.js';
import { PrometheusMetrics } from '../src/scheduler/prometheus.js';
import { type TaskChange, Worker } from '../src/scheduler/worker.js';
import { MemoryStore } from '../src/store/memory.js';
import { encodeTask } from '../src/task.js';
import { Fleet } from './helpers/fleet.js';
import { waitFor } from './helpers/wait.js';

describe('worker', () => {
  const store = new MemoryStore();
  const fleets: Fleet[] = [];
  const fleet = (name: string, max = 10) => {
    const f = new Fleet(store, name, max);
    fleets.push(f);
    return f;
  };
  after(async () => {
    await Promise.allSettled(fleets.map((f) => f.close()));
    await store.close();
  });

  it('manual mode: watchTasks, add/del, isAllRunning and tryLeaveBarrier as in the original', async () => {
    const f = fleet('manual', 2);
    f.tasks = Fleet.tasks(3);
    const w = f.worker('w1', { run: undefined });
    await w.start();
    await waitFor('in the barrier', () => w.status === 'in_barrier');
    const changes: TaskChange[] = [];
    const ac = new AbortController();
    const consumed = (async () => {
      for await (const c of w.watchTasks({ signal: ac.signal })) {
        changes.push(c);
        if (c.action === 'created') w.add(c.task);
        else w.del(c.id);
      }
    })();
    f.master('m1');
    await waitFor('3 created events', () => changes.filter((c) => c.action === 'created').length === 3);
    assert.equal(w.isAllRunning(), true);
    assert.deepEqual([...(await w.tasks())].sort(), ['t0', 't1', 't2']);
    assert.equal(await w.tryLeaveBarrier(5_000), true);
    assert.equal(w.status, 'left_barrier');
    f.tasks = Fleet.tasks(2);
    f.masters[0].notifySchedule('test: one task fewer');
    await waitFor('a deleted event', () => changes.some((c) => c.action === 'deleted' && c.id === 't2'));
    assert.equal(w.isAllRunning(), true);
    // no claims in manual mode: the application runs the tasks itself
    assert.equal((await store.range(f.k.claimPrefix, { prefix: true })).count, 0);
    ac.abort();
    await consumed;
  });

  it("handoff 'none' runs without claims; 'claim' holds one claim per running task", async () => {
    const f = fleet('handoff-none');
    f.tasks = Fleet.tasks(4);
    await store.put(f.k.barrierLeft, 'x');
    f.master('m1');
    const w = f.worker('w1', { handoff: 'none' });
    await w.start();
    await waitFor('4 runs', () => f.runningOn('w1').length === 4);
    assert.equal((await store.range(f.k.claimPrefix, { prefix: true })).count, 0);
    const w2 = f.worker('w2');
    await w2.start();
    await f.balanced(['w1', 'w2']);
    await waitFor('2 runs on w2', () => f.runningOn('w2').length === 2);
    const claims = await store.range(f.k.claimPrefix, { prefix: true });
    assert.deepEqual(
      claims.kvs.map((kv) => kv.value),
      ['w2', 'w2'],
    );
    for (const kv of claims.kvs) assert.equal(kv.lease, w2.leaseId, 'claims bound to the lease');
  });

  it('restarts a run that throws, with backoff, and counts it; a changed value restarts the run with it', async () => {
    const f = fleet('restart');
    await store.put(f.k.barrierLeft, 'x');
    f.tasks = [{ id: 'flaky', raw: new TextEncoder().encode('v1') }];
    const metrics = new PrometheusMetrics();
    const seen: { attempt: number; raw: string }[] = [];
    f.master('m1');
    const w = f.worker('w1', {
      metrics,
      restart: { initialDelay: 20, maxDelay: 40 },
      run: async (task, { signal, attempt }) => {
        seen.push({ attempt, raw: new TextDecoder().decode(task.raw) });
        if (attempt < 3) throw new Error(`boom ${attempt}`);
        await new Promise((r) => signal.addEventListener('abort', r, { once: true }));
      },
    });
    await w.start();
    await waitFor('third attempt runs', () => seen.length === 3 && w.isAllRunning());
    assert.deepEqual(
      seen.map((s) => s.attempt),
      [1, 2, 3],
    );
    const restarts = (await metrics.taskRestarts.get()).values.find((v) => v.labels.name === 'w1');
    assert.equal(restarts?.value, 2);
    f.tasks = [{ id: 'flaky', raw: new TextEncoder().encode('v2') }];
    f.masters[0].notifySchedule('test: new payload');
    await waitFor('run restarted with v2', () => seen.at(-1)?.raw === 'v2');
    assert.equal((await store.get(f.k.task('w1', 'flaky')))?.value, encodeTask(f.tasks[0]));
  });

  it('stop() during start() leaves no registration behind; a second stop() awaits the same drain', async () => {
    const f = fleet('early-stop');
    const w = f.worker('w1');
    const started = w.start();
    const first = w.stop();
    const second = w.stop();
    await Promise.allSettled([started, first]);
    await second;
    assert.equal(w.status, 'dead');
    assert.equal(await store.get(f.k.worker('w1')), undefined, 'no worker key left by a stopped worker');
    assert.equal((await store.range(f.k.registerMutex, { prefix: true })).count, 0, 'no mutex key left');
  });

  it('master: writes big payloads in txns under the request size limit; custom reasons share one label', async () => {
    const f = fleet('big-payloads');
    await store.put(f.k.barrierLeft, 'x');
    const big = (i: number) => ({ id: `big${i}`, raw: new Uint8Array(700 * 1024).fill(i) });
    f.tasks = [big(1), big(2), big(3)];
    const m = f.master('m1');
    const w = f.worker('w1', { run: undefined });
    await w.start();
    await f.settled(['w1']);
    assert.ok((m.lastSchedule?.txns ?? 0) >= 2, `3 × 700 KiB took ${m.lastSchedule?.txns} txns`);
    m.notifySchedule('task btcusdt listed at 12:00:01');
    await waitFor('the notified schedule', async () => {
      const v = (await f.metrics.schedules.get()).values;
      return v.some((x) => x.labels.name === 'm1' && x.labels.reason === 'notified');
    });
    const reasons = new Set((await f.metrics.schedules.get()).values.map((x) => String(x.labels.reason)));
    assert.ok(!reasons.has('task btcusdt listed at 12:00:01'));
  });

  it('names the bad option', () => {
    const base = { store, rootName: 'x', maxNumNodes: 3 };
    assert.throws(
      () => new Worker({ ...base, maxNumNodes: 1 }),
      (e: Error) => e instanceof OptionError && /maxNumNodes/.test(e.message),
    );
    assert.throws(() => new Worker({ ...base, ttl: 0 }), /`ttl`/);
    assert.throws(() => new Worker({ ...base, name: 'a/b' }), /name/);
    assert.throws(() => new Worker({ ...base, rootName: '../etc' }), /rootName/);
    assert.throws(() => new Worker({ ...base, handoff: 'maybe' as 'none' }), /handoff/);
    assert.throws(() => new Master({ ...base, generator: 5 as never }), /generator/);
    assert.throws(() => new Master({ ...base, generator: () => [], rebalanceWait: -1 }), /rebalanceWait/);
    for (const maxTxnOps of [0, 128, 2.5, Number.NaN]) {
      assert.throws(
        () => new Master({ ...base, generator: () => [], maxTxnOps }),
        /`maxTxnOps` to be a whole number from 1 to 127, got `/,
      );
    }
    assert.doesNotThrow(() => new Master({ ...base, generator: () => [], maxTxnOps: 1 }));
  });
});
