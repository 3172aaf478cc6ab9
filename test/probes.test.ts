/**
 * The probes of `escheduler run` (issue 19) as units: liveness fails for what it is for — a blocked event
 * loop, a dead worker or master loop, a drain stuck past its deadline — and for nothing about etcd (the
 * store here throws on any call); readiness answers the worker's reason without asking etcd.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DRAIN_SLACK, LoopWatch, Probes } from '../src/cli/probes.js';
import { keys } from '../src/scheduler/keys.js';
import type { Master } from '../src/scheduler/master.js';
import type { Worker, WorkerCondition } from '../src/scheduler/worker.js';
import type { Store } from '../src/store/port.js';

/** A store that fails the test if a probe calls it. */
const noStore = new Proxy({} as Store, {
  get: (_t, prop) => () => {
    throw new Error(`a probe called store.${String(prop)}`);
  },
});

function fakeWorker(condition: WorkerCondition): Worker {
  return {
    name: 'w1',
    status: 'dead',
    leaseId: undefined,
    condition,
    assignedTasks: new Map(),
    runningTasks: () => [],
  } as unknown as Worker;
}

function probes(worker?: Worker, master?: Master, clock = { t: 0 }, budget = 10_000) {
  const loop = new LoopWatch(budget);
  const p = new Probes({
    store: noStore,
    k: keys('probes'),
    worker,
    master,
    loop,
    drainTimeout: 10_000,
    now: () => clock.t,
  });
  return { p, loop };
}

describe('probes', () => {
  it('liveness stays 200 while the worker is fenced or cannot reach etcd; readiness says why, without etcd', async () => {
    for (const reason of ['etcd unreachable', 'fenced', 'standby', 'barrier', 'starting tasks'] as const) {
      const { p, loop } = probes(fakeWorker({ state: 'fenced', ready: false, reason }));
      try {
        assert.equal(p.healthz().ok, true, reason);
        const r = await p.readyz();
        assert.equal(r.ok, false);
        assert.equal(r.detail.reason, reason);
      } finally {
        loop.stop();
      }
    }
  });

  it('liveness fails when the worker loop or the master loop died', () => {
    const w = probes(
      fakeWorker({ state: 'serving', ready: false, reason: 'failed', failure: new Error('bug') }),
    );
    const hw = w.p.healthz();
    w.loop.stop();
    assert.deepEqual([hw.ok, hw.detail.reason], [false, 'worker loop failed: bug']);
    const master = { isLeader: false, failure: new Error('boom') } as unknown as Master;
    const m = probes(undefined, master);
    const hm = m.p.healthz();
    m.loop.stop();
    assert.deepEqual([hm.ok, hm.detail.reason], [false, 'master loop failed: boom']);
  });

  it('liveness fails once a drain outlasts drainTimeout + the slack, not before', () => {
    const clock = { t: 1_000 };
    const { p, loop } = probes(
      fakeWorker({ state: 'draining', ready: false, reason: 'stopping' }),
      undefined,
      clock,
    );
    try {
      p.draining();
      clock.t += 10_000 + DRAIN_SLACK;
      assert.equal(p.healthz().ok, true, 'at the deadline');
      clock.t += 1;
      const h = p.healthz();
      assert.equal(h.ok, false);
      assert.match(String(h.detail.reason), /^drain wedged: /);
    } finally {
      loop.stop();
    }
  });

  it('the event-loop heartbeat: a block longer than the budget fails liveness', () => {
    const { p, loop } = probes(fakeWorker({ state: 'serving', ready: true }), undefined, { t: 0 }, 100);
    try {
      assert.equal(p.healthz().ok, true);
      const end = Date.now() + 300;
      while (Date.now() < end) {
        // block the loop past the 100 ms budget
      }
      const now = p.healthz();
      assert.equal(now.ok, false, 'while blocked');
      assert.match(String(now.detail.reason), /^event loop blocked for /);
    } finally {
      loop.stop();
    }
  });
});
