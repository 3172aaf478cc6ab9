/**
 * The Master on a MemoryStore and a ManualClock: typed schedule reasons (the metric label cannot be
 * spoofed by an application's string), the campaign retry backoff under `maxRetryDelay`, and no listener
 * or signal left behind on its long-lived signals after many terms and many schedules.
 */
import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { StoreRequestError } from '../src/errors.js';
import { keys } from '../src/scheduler/keys.js';
import { reasonLabel, ScheduleRequests } from '../src/scheduler/master/reasons.js';
import { Master, type MasterOptions, type ScheduleReport } from '../src/scheduler/master.js';
import { MemoryStore } from '../src/store/memory.js';
import type { Store } from '../src/store/port.js';
import type { Task } from '../src/task.js';
import { ManualClock } from '../src/util/clock.js';
import { within } from './helpers/async.js';

const ROOT = 'mtest';
const k = keys(ROOT);
const INTERVAL = 1_000;

/** Records every metric call (`metrics.<metric>.<method>(...args)`), whatever the metrics' shape. */
function recordingMetrics() {
  const calls: { metric: string; method: string; args: unknown[] }[] = [];
  const metrics = new Proxy(
    {},
    {
      get: (_, metric) =>
        new Proxy(
          {},
          {
            get:
              (_, method) =>
              (...args: unknown[]) => {
                calls.push({ metric: String(metric), method: String(method), args });
              },
          },
        ),
    },
  ) as NonNullable<MasterOptions['metrics']>;
  const scheduleLabels = () =>
    calls
      .filter((c) => c.metric === 'schedules' && c.method === 'inc')
      .map((c) => (c.args[0] as { reason: string }).reason);
  return { metrics, calls, scheduleLabels };
}

interface Setup {
  clock: ManualClock;
  mem: MemoryStore;
  master: Master;
  reports: ScheduleReport[];
  elected: number[];
  /** Moves the clock in steps of `step` ms until `cond` holds; fails after `maxSteps`. */
  until(cond: () => boolean, what: string, step?: number, maxSteps?: number): Promise<void>;
}

/** A master on a root that passed its start-up barrier, with one worker online (a key without lease). */
async function setup(
  options: Partial<MasterOptions> = {},
  wrap: (s: Store) => Store = (s) => s,
): Promise<Setup> {
  const clock = new ManualClock(1_700_000_000_000, 42);
  const mem = new MemoryStore({ clock });
  await mem.put(k.barrierLeft, '2026-01-01T00:00:00Z');
  await mem.put(k.worker('w1'), 'running');
  const tasks: Task[] = [{ id: 'a' }, { id: 'b', priority: 2 }];
  const master = new Master({
    store: wrap(mem),
    rootName: ROOT,
    maxNumNodes: 3,
    ttl: 3,
    name: 'm1',
    clock,
    generator: () => tasks,
    interval: INTERVAL,
    timeout: 500,
    rebalanceWait: 0,
    metrics: recordingMetrics().metrics,
    ...options,
  });
  const reports: ScheduleReport[] = [];
  const elected: number[] = [];
  master.on('schedule', (r) => reports.push(r));
  master.on('elected', () => elected.push(clock.now()));
  const until = async (cond: () => boolean, what: string, step = 50, maxSteps = 2_000) => {
    for (let i = 0; i < maxSteps && !cond(); i++) await clock.advance(step);
    assert.ok(cond(), `${what}: not after ${(maxSteps * step) / 1000} s of manual clock`);
  };
  return { clock, mem, master, reports, elected, until };
}

describe('Master: schedule reasons are a typed set', () => {
  it('ScheduleRequests: reasons in arrival order, details kept, duplicates coalesced', () => {
    const r = new ScheduleRequests();
    r.add('workers changed');
    r.add('notified', 'deploy v2, canary');
    r.add('interval');
    r.add('workers changed');
    r.add('notified', 'deploy v2, canary');
    r.add('notified', '');
    assert.equal(r.size, 4);
    const req = r.take();
    assert.deepEqual(req.reasons, ['workers changed', 'notified', 'interval']);
    assert.deepEqual(req.details, ['deploy v2, canary']);
    assert.equal(req.text, 'workers changed, deploy v2, canary, interval, notified');
    assert.equal(reasonLabel(req), 'workers changed');
    assert.equal(r.size, 0);
    assert.equal(
      reasonLabel({ reasons: ['first schedule (barrier timeout)', 'interval'] }),
      'first schedule',
    );
    assert.equal(reasonLabel({ reasons: [] }), 'notified');
  });

  it("an application's reason is a detail: reported as given, labelled 'notified' even when it reads like ours", async () => {
    const rec = recordingMetrics();
    let release: (() => void) | undefined;
    const { clock, master, reports, until } = await setup({
      metrics: rec.metrics,
      interval: 3_600_000,
      generator: async () => {
        if (release) return [{ id: 'a' }];
        await new Promise<void>((r) => {
          release = r;
        });
        return [{ id: 'a' }];
      },
    });
    master.start();
    try {
      await until(() => release !== undefined, 'first schedule running');
      // Arrive while the first schedule runs: they coalesce into the next one, in order, once each.
      master.notifySchedule('leader elected, deploy v2');
      master.notifySchedule('interval');
      master.notifySchedule('leader elected, deploy v2');
      release?.();
      await until(() => reports.length >= 2, 'two schedules');
      assert.equal(reports[0].reason, 'leader elected');
      assert.equal(reports[1].reason, 'leader elected, deploy v2, interval');
      assert.deepEqual(rec.scheduleLabels().slice(0, 2), ['leader elected', 'notified']);
      assert.deepEqual(reports[0].reasons, ['leader elected']);
      assert.deepEqual(reports[1].reasons, ['notified']);
      await clock.advance(0);
    } finally {
      await master.stop();
    }
  });
});

describe('Master: campaign retries', () => {
  it('waits a jittered backoff capped by maxRetryDelay between campaigns, and leads within it once the store is back', async () => {
    const attempts: number[] = [];
    let clockRef: ManualClock | undefined;
    const counting = (s: Store): Store =>
      new Proxy(s, {
        get(target, prop) {
          const v = Reflect.get(target, prop, target);
          if (prop === 'grantLease') {
            return (...args: Parameters<Store['grantLease']>) => {
              attempts.push(clockRef!.now());
              return target.grantLease(...args);
            };
          }
          return typeof v === 'function' ? v.bind(target) : v;
        },
      });
    const s = await setup({ maxRetryDelay: 400 }, counting);
    clockRef = s.clock;
    s.mem.setUnavailable(true);
    s.master.start();
    try {
      await s.clock.advance(60_000);
      const gaps = attempts.slice(1).map((t, i) => t - attempts[i]);
      assert.ok(gaps.length > 100, `only ${attempts.length} campaign attempts in 60 s with a 400 ms cap`);
      assert.ok(Math.max(...gaps) <= 400, `a gap of ${Math.max(...gaps)} ms > maxRetryDelay 400`);
      assert.ok(new Set(gaps.slice(5)).size > 5, `no jitter: gaps ${gaps.slice(5, 20).join(', ')}`);
      s.mem.setUnavailable(false);
      const back = s.clock.now();
      await s.until(() => s.master.isLeader, 'leading after the outage', 10, 100);
      assert.ok(s.clock.now() - back <= 400, `led ${s.clock.now() - back} ms after the store came back`);
    } finally {
      await s.master.stop();
    }
  });
});

describe('Master: a schedule that failed on the store (etcd out of space)', () => {
  it('is retried with a growing delay capped by maxRetryDelay, not every second, and succeeds once etcd takes writes again', async () => {
    let full = false;
    const refusing = (s: Store): Store =>
      new Proxy(s, {
        get(target, prop) {
          const v = Reflect.get(target, prop, target);
          if (prop === 'txn') {
            return (req: Parameters<Store['txn']>[0]) =>
              full && [...req.success, ...(req.failure ?? [])].some((op) => op.type === 'put')
                ? Promise.reject(new StoreRequestError('etcd txn: etcdserver: mvcc: database space exceeded'))
                : target.txn(req);
          }
          return typeof v === 'function' ? v.bind(target) : v;
        },
      });
    const s = await setup({ interval: 3_600_000, maxRetryDelay: 5_000 }, refusing);
    s.master.start();
    try {
      await s.until(() => s.reports.length >= 1 && s.reports[0].result === 'ok', 'a first schedule');
      full = true;
      await s.mem.put(k.worker('w2'), 'running'); // a join: the plan moves a task, and cannot write it
      await s.until(() => s.reports.some((r) => r.result === 'error'), 'a failed schedule');
      const from = s.clock.now();
      await s.clock.advance(60_000);
      const failed = s.reports.filter((r) => r.result === 'error');
      const times = failed.map((r) => Date.parse(r.time));
      const gaps = times.slice(1).map((t, i) => t - times[i]);
      assert.ok(failed.length >= 8, `kept retrying: ${failed.length} failed schedules in 60 s`);
      assert.ok(
        failed.length <= 25,
        `${failed.length} failed schedules in 60 s: no backoff (one a second is 60)`,
      );
      assert.ok(Math.max(...gaps) <= 5_000 + 100, `a gap of ${Math.max(...gaps)} ms > maxRetryDelay`);
      assert.ok(
        gaps.slice(-4).every((g) => g >= 2_000),
        `the delay grows: last gaps ${gaps.slice(-4).join(', ')} ms`,
      );
      assert.match(failed[0].errors.join(' '), /database space exceeded/, 'the report names the cause');
      assert.ok(s.master.isLeader, 'still the leader: a refused write is not a lost term');
      full = false;
      const healed = s.clock.now();
      await s.until(
        () => s.reports.at(-1)?.result === 'ok',
        'a successful schedule after the store takes writes',
      );
      assert.ok(
        s.clock.now() - healed <= 5_100,
        `retried within maxRetryDelay of the store taking writes again`,
      );
      assert.ok(from < healed);
    } finally {
      await s.master.stop();
    }
  });
});

/** The stop signal and the current session's signal: they live as long as the master, or the term. */
function longLivedSignals(master: Master): { stop: AbortSignal; session: AbortSignal } {
  const m = master as unknown as { stopController: AbortController; session?: { signal: AbortSignal } };
  assert.ok(m.session, 'the master has a session');
  return { stop: m.stopController.signal, session: m.session.signal };
}

const abortListeners = (s: AbortSignal) => getEventListeners(s, 'abort').length;

describe('Master: nothing left behind on long-lived signals', () => {
  it('the same listener counts on the stop and session signals after 1 and 60 schedules, and after 1 and 20 terms', async () => {
    const s = await setup();
    s.master.start();
    try {
      await s.until(() => s.reports.length >= 1, 'first schedule');
      const first = longLivedSignals(s.master);
      const base = { stop: abortListeners(first.stop), session: abortListeners(first.session) };

      await s.until(() => s.reports.length >= 60, '60 schedules', INTERVAL / 2, 200);
      const later = longLivedSignals(s.master);
      assert.equal(later.session, first.session, 'still the same term');
      assert.deepEqual(
        { stop: abortListeners(later.stop), session: abortListeners(later.session) },
        base,
        'after 60 schedules',
      );

      // 20 terms: revoke the master's lease behind its back; it loses the term and campaigns again.
      for (let term = 2; term <= 21; term++) {
        const lease = s.master.leaseId;
        assert.ok(lease);
        await s.mem.revokeLease(lease);
        await s.until(() => s.elected.length >= term && s.master.leaseId !== lease, `term ${term}`);
        const n = s.reports.length;
        await s.until(() => s.reports.length > n, `a schedule in term ${term}`);
      }
      const last = longLivedSignals(s.master);
      assert.notEqual(last.session, first.session);
      assert.ok(first.session.aborted, 'the first session ended');
      assert.equal(abortListeners(first.session), 0, 'nothing waits on a session that ended');
      assert.deepEqual(
        { stop: abortListeners(last.stop), session: abortListeners(last.session) },
        base,
        'after 20 terms',
      );
    } finally {
      await s.master.stop();
    }
  });

  it("a finished schedule's generator signal keeps no listener and can be collected while the term goes on", async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const signals: WeakRef<AbortSignal>[] = [];
    let listenersLeft = 0;
    const s = await setup({
      generator: ({ signal }) => {
        signals.push(new WeakRef(signal));
        return [{ id: 'a' }];
      },
    });
    s.master.on('schedule', () => {
      // The schedule is over: its generator signal should hold no listener of ours any more.
      const sig = signals.at(-1)?.deref();
      if (sig) listenersLeft += abortListeners(sig);
    });
    s.master.start();
    try {
      await s.until(() => s.reports.length >= 40, '40 schedules', INTERVAL / 2, 200);
      assert.equal(listenersLeft, 0, `${listenersLeft} abort listeners left on finished schedules' signals`);
      assert.ok(s.master.isLeader, 'one term throughout');
      for (let i = 0; i < 3; i++) {
        await new Promise((r) => setImmediate(r));
        gc();
      }
      const alive = signals.filter((w) => w.deref() !== undefined).length;
      assert.ok(alive <= 2, `${alive} of ${signals.length} generator signals still reachable`);
    } finally {
      await s.master.stop();
    }
  });
});

describe("Master: a changed payload in handoff 'none' (fleets mixed with the Go original)", () => {
  /** Every event under w1's assignment folder, as `put a <value>` / `delete a`, in revision order. */
  async function events(mem: MemoryStore, from: number): Promise<string[]> {
    const out: string[] = [];
    const ac = new AbortController();
    const prefix = k.workerTasks('w1');
    for await (const batch of mem.watch(prefix, { prefix: true, startRevision: from, signal: ac.signal })) {
      for (const e of batch.events) {
        out.push(`${e.type} ${e.kv.key.slice(prefix.length)}${e.type === 'put' ? ` ${e.kv.value}` : ''}`);
      }
      if (batch.revision >= mem.revision) break;
    }
    ac.abort();
    return out;
  }

  for (const handoff of ['none', 'claim'] as const) {
    it(`${handoff}: ${handoff === 'none' ? 'delete, then put in a later txn — never a put on a key a worker holds' : 'rewritten in place (TS workers restart the run)'}`, async () => {
      let raw = new TextEncoder().encode('v1');
      const { mem, master, reports, until } = await setup({
        handoff,
        generator: () => [{ id: 'a', raw }],
      });
      master.start();
      try {
        await until(() => reports.length >= 1, 'first schedule');
        const before = (await mem.get(k.task('w1', 'a')))!;
        raw = new TextEncoder().encode('v2');
        master.notifySchedule('payload changed');
        await until(() => reports.length >= 2, 'second schedule');
        const seen = await within(
          events(mem, before.modRevision + 1),
          5_000,
          'the writes of the second schedule',
        );
        const v2 = '{"P":0,"Key":"","Group":"","ID":"a","Raw":"djI="}';
        assert.deepEqual(seen, handoff === 'none' ? ['delete a', `put a ${v2}`] : [`put a ${v2}`]);
        assert.equal(reports[1].txns, handoff === 'none' ? 2 : 1);
        assert.equal((await mem.get(k.task('w1', 'a')))?.value, v2);
      } finally {
        await master.stop();
      }
    });
  }

  it("refuses a handoff other than 'claim' or 'none', naming it", () => {
    const mem = new MemoryStore();
    assert.throws(
      () =>
        new Master({
          store: mem,
          rootName: ROOT,
          maxNumNodes: 2,
          generator: () => [],
          handoff: 'nope' as 'none',
        }),
      /`handoff` to be 'claim' or 'none', got `nope`/,
    );
  });
});
