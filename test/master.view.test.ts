/**
 * The master's watch-fed view (src/scheduler/master/view.ts, assignment.ts), on both stores: after random
 * writes, watch cuts, compactions past the view's position and a cut of the store itself, the view
 * equals what a fresh range reads — keys, values and mod revisions, malformed keys included.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { keys } from '../src/scheduler/keys.js';
import { type AssignmentMap, parseAssignment } from '../src/scheduler/master/assignment.js';
import { WriteGuards } from '../src/scheduler/master/guards.js';
import { KeyMap, PrefixView } from '../src/scheduler/master/view.js';
import { writePhases } from '../src/scheduler/master/writes.js';
import { Master, type ScheduleReport } from '../src/scheduler/master.js';
import type { Op, Store } from '../src/store/port.js';
import { encodeTask, type Task } from '../src/task.js';
import { seeded, waitFor, within } from './helpers/async.js';
import { uniqueRoot } from './helpers/etcd.js';
import { gatedStore } from './helpers/gated.js';
import { type IsolatedTestStore, storeFactories, type TestStore } from './helpers/stores.js';

/** The view's content in a comparable form: sorted [key, value, mod]. */
function dumpAssignment(map: AssignmentMap, taskPrefix: string): [string, string, number][] {
  const out: [string, string, number][] = [];
  for (const [worker, ids] of map.workers()) {
    for (const [id, e] of ids) out.push([`${taskPrefix}${worker}/${id}`, e.value, e.mod]);
  }
  for (const [key, mod] of map.malformed) out.push([key, '', mod]);
  return out.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}

async function freshAssignment(store: Store, taskPrefix: string): Promise<[string, string, number][]> {
  const res = await store.range(taskPrefix, { prefix: true });
  const map = parseAssignment(res.kvs, { taskPrefix });
  // Malformed keys keep no value in the view: they are compared by key and revision.
  return dumpAssignment(map, taskPrefix);
}

/** A random batch of assignment writes (puts, deletes, malformed keys, multi-op txns); returns the last revision. */
async function randomWrites(store: Store, taskPrefix: string, rnd: () => number, n: number): Promise<number> {
  let last = 0;
  const key = () => {
    const r = rnd();
    if (r < 0.05) return `${taskPrefix}odd${Math.floor(rnd() * 3)}`; // malformed: no worker/id
    if (r < 0.08) return `${taskPrefix}w1/a/b${Math.floor(rnd() * 3)}`; // malformed: a slash in the id
    return `${taskPrefix}w${Math.floor(rnd() * 6)}/t${Math.floor(rnd() * 40)}`;
  };
  for (let i = 0; i < n; i++) {
    const r = rnd();
    if (r < 0.6) last = (await store.put(key(), `{"ID":"v${i}","P":${Math.floor(rnd() * 9)}}`)).revision;
    else if (r < 0.85) last = (await store.delete(key())).revision;
    else {
      const ks = new Set([key(), key(), key()]);
      const success: Op[] = [...ks].map((k) =>
        rnd() < 0.5 ? { type: 'delete', key: k } : { type: 'put', key: k, value: `txn${i}` },
      );
      last = (await store.txn({ compare: [], success })).revision;
    }
  }
  return last;
}

for (const factory of storeFactories()) {
  describe(`master view on ${factory.name}`, () => {
    const opened: IsolatedTestStore[] = [];
    after(async () => {
      for (const s of opened) await s.close();
    });

    it('equals a fresh range after random writes, watch cuts, compactions and a store cut', async (t) => {
      const ts = await factory.createIsolated();
      opened.push(ts);
      const k = keys(uniqueRoot('view'));
      const gated = gatedStore(ts.store);
      const control = new AbortController();
      try {
        await seeded(async (rnd, seed) => {
          await randomWrites(ts.store, k.taskPrefix, rnd, 40);
          await ts.store.put(k.worker('w0'), 'running');
          const changes: string[] = [];
          const errors: unknown[] = [];
          const tasks = new PrefixView(gated, k.taskPrefix, parseAssignment([], k), {
            clock: ts.clock,
            signal: control.signal,
            onChange: (c) => changes.push(c.type),
            onError: (err) => errors.push(err),
          });
          const workers = new PrefixView(gated, k.workerPrefix, new KeyMap(k.workerPrefix), {
            clock: ts.clock,
            signal: control.signal,
            onError: (err) => errors.push(err),
          });
          await within(Promise.all([tasks.whenReady(), workers.whenReady()]), 20_000, 'the first snapshots');
          assert.deepEqual(
            dumpAssignment(tasks.sink, k.taskPrefix),
            await freshAssignment(ts.store, k.taskPrefix),
          );

          const check = async (what: string, revision: number) => {
            await within(tasks.caughtUp(revision), 30_000, `the view to reach ${revision} (${what})`);
            assert.deepEqual(
              dumpAssignment(tasks.sink, k.taskPrefix),
              await freshAssignment(ts.store, k.taskPrefix),
              `${what}, seed ${seed}`,
            );
          };
          let compactions = 0;
          for (let round = 0; round < 8; round++) {
            // Plain writes while the view watches.
            await check(`round ${round}: writes`, await randomWrites(ts.store, k.taskPrefix, rnd, 30));
            // The view's watch is cut, writes land, history is compacted past the view: it must list again.
            const listed = tasks.listings;
            gated.pauseWatches();
            const rev = await randomWrites(ts.store, k.taskPrefix, rnd, 20);
            const compact = round % 2 === 0;
            if (compact) {
              await ts.store.compact(rev);
              compactions++;
            }
            gated.resumeWatches();
            const last = await randomWrites(ts.store, k.taskPrefix, rnd, 5);
            await check(`round ${round}: after a watch cut${compact ? ' and a compaction' : ''}`, last);
            if (compact)
              assert.ok(tasks.listings > listed, `round ${round}: listed again after the compaction`);
            else assert.equal(tasks.listings, listed, `round ${round}: resumed without listing again`);
          }
          // The store itself goes away and comes back (etcd: the member is killed and restarted).
          await ts.cut();
          await ts.restore();
          await check('after a store cut', await randomWrites(ts.store, k.taskPrefix, rnd, 30));
          // A forced resync (what a refused guarded write does) lists again and still agrees.
          const before = tasks.listings;
          tasks.resync();
          await within(tasks.whenReady(), 20_000, 'the resync');
          assert.equal(tasks.listings, before + 1);
          await check('after a forced resync', await randomWrites(ts.store, k.taskPrefix, rnd, 10));

          // The worker view follows its prefix too.
          await ts.store.put(k.worker('w9'), 'running');
          const { revision } = await ts.store.delete(k.worker('w0'));
          await within(workers.caughtUp(revision), 20_000, 'the worker view');
          assert.deepEqual([...workers.sink.entries.keys()], ['w9']);
          assert.equal(changes[0], 'snapshot');
          assert.equal(changes.filter((c) => c === 'resync').length, compactions);
          assert.deepEqual(errors, []);
          t.diagnostic(`seed ${seed}: ${tasks.listings} listings, ${gated.watchStarts.length} raw watches`);
          control.abort();
          await within(Promise.all([tasks.done, workers.done]), 10_000, 'the views to end');
        });
      } finally {
        control.abort();
      }
    });
  });
}

/** A leading master on `store` (gated), one worker `w1` online, a passed start-up barrier. */
async function leadingMaster(ts: TestStore, root: string, desired: () => Task[]) {
  const k = keys(root);
  await ts.store.put(k.barrierLeft, '2026-01-01T00:00:00Z');
  await ts.store.put(k.worker('w1'), 'running');
  const gated = gatedStore(ts.store);
  const reports: ScheduleReport[] = [];
  const master = new Master({
    store: gated,
    rootName: root,
    maxNumNodes: 3,
    ttl: 5,
    name: 'm1',
    clock: ts.clock,
    generator: () => desired(),
    interval: 600_000,
    timeout: 5_000,
    rebalanceWait: 0,
  });
  master.on('schedule', (r) => reports.push(r));
  master.start();
  /** Asks for a schedule and returns its report. */
  const scheduleOnce = async (what: string) => {
    const n = reports.length;
    master.notifySchedule(what);
    await waitFor(what, () => reports.length > n, 20_000);
    return reports[reports.length - 1];
  };
  await waitFor('the first schedule', () => reports.length > 0, 20_000);
  return { k, gated, master, reports, scheduleOnce };
}

for (const factory of storeFactories()) {
  describe(`master reading its view on ${factory.name}`, () => {
    it('a schedule with nothing to change reads nothing from the store and writes no assignment key', async () => {
      const ts = await factory.create();
      const tasks: Task[] = Array.from({ length: 300 }, (_, i) => ({ id: `t${i}`, priority: i % 3 }));
      const m = await leadingMaster(ts, uniqueRoot('view-nochange'), () => tasks);
      try {
        assert.equal(m.reports[0].assigned, 300);
        await m.scheduleOnce('settle'); // plans after the view reflects the first schedule's writes
        const reads = m.gated.reads.length;
        const written = m.gated.txnKeys.length;
        const report = await m.scheduleOnce('no change');
        assert.equal(report.result, 'ok');
        assert.equal(report.planned, false, 'nothing changed: the plan is skipped');
        assert.deepEqual([report.assigned, report.revoked, report.moves, report.txns], [0, 0, 0, 0]);
        assert.deepEqual(m.gated.reads.slice(reads), [], 'no range or get of any key');
        // The status key is the only write.
        assert.deepEqual(m.gated.txnKeys.slice(written), [m.k.masterStatus]);
        assert.ok(
          m.gated.reads.every((r) => !r.key.startsWith(m.k.taskPrefix) || r.prefix),
          'the only reads of task/ are the view listing the prefix',
        );
      } finally {
        await m.master.stop();
        await ts.close();
      }
    });

    it('plans again after any change: a task changed in place, a foreign write to the assignment, a worker joining', async () => {
      const ts = await factory.create();
      const tasks: Task[] = Array.from({ length: 20 }, (_, i) => ({ id: `t${i}` }));
      const m = await leadingMaster(ts, uniqueRoot('view-replan'), () => tasks);
      const { k } = m;
      try {
        await m.scheduleOnce('settle');
        assert.equal((await m.scheduleOnce('idle')).planned, false);
        // The application changes a task object in place: the same array, the same objects.
        tasks[3].priority = 4;
        const changed = await m.scheduleOnce('in place');
        assert.deepEqual([changed.planned, changed.assigned, changed.txns], [true, 0, 1]);
        assert.equal((await ts.store.get(k.task('w1', 't3')))?.value, encodeTask(tasks[3]));
        assert.equal((await m.scheduleOnce('idle again')).planned, false);
        // Someone deletes an assignment behind the master: the view sees it, the next schedule restores it.
        const { revision } = await ts.store.delete(k.task('w1', 't5'));
        await waitFor('the view to see the delete', async () => {
          const r = await m.scheduleOnce('after a foreign delete');
          return r.planned && r.assigned === 1 ? r : undefined;
        });
        assert.ok((await ts.store.get(k.task('w1', 't5')))!.modRevision > revision);
        // A worker joins: planned, and tasks move to it.
        const seen = m.reports.length;
        await ts.store.put(k.worker('w2'), 'running');
        const joined = await waitFor('the schedule after the join', () =>
          m.reports.slice(seen).find((r) => r.workers === 2),
        );
        assert.ok(joined.planned && joined.moves === 10, JSON.stringify(joined));
      } finally {
        await m.master.stop();
        await ts.close();
      }
    });

    it('a stale view never causes a wrong write: the guarded txn is refused, the view listed again, the plan redone', async () => {
      const ts = await factory.create();
      let desired: Task[] = [{ id: 't1' }, { id: 't2' }];
      const m = await leadingMaster(ts, uniqueRoot('view-stale'), () => desired);
      const { k, gated } = m;
      try {
        await m.scheduleOnce('settle');
        const listings = gated.reads.filter((r) => r.key === k.taskPrefix).length;
        // The master's watches are cut: its view keeps t1 on w1. Behind it, t1 moves to a dead worker in
        // one txn (so the store never holds two copies), and t2's value changes in place.
        gated.pauseWatches();
        const t1w1 = k.task('w1', 't1');
        const from = await ts.store.txn({
          compare: [],
          success: [
            { type: 'delete', key: t1w1 },
            { type: 'put', key: k.task('gone', 't1'), value: encodeTask({ id: 't1' }) },
            { type: 'put', key: k.task('w1', 't2'), value: encodeTask({ id: 't2', priority: 1 }) },
          ],
        });
        // The plan from the stale view rewrites t1 on w1 (its priority changed): without the guard that
        // put would create a second copy of t1 beside gone/t1.
        desired = [{ id: 't1', priority: 7 }, { id: 't2' }];
        const report = await m.scheduleOnce('stale');
        gated.resumeWatches();
        assert.equal(report.result, 'ok', report.errors.join('; '));
        assert.ok(report.resyncs >= 1, `resyncs ${report.resyncs}`);
        assert.ok(gated.refused >= 1, 'a guarded txn was refused');
        assert.ok(gated.reads.filter((r) => r.key === k.taskPrefix).length > listings, 'listed again');
        // The result is the plan for the true state: t1 on w1 with its new value, t2 rewritten back.
        const now = await ts.store.range(k.taskPrefix, { prefix: true });
        assert.deepEqual(
          now.kvs.map((kv) => [kv.key, kv.value]),
          [
            [t1w1, encodeTask({ id: 't1', priority: 7 })],
            [k.task('w1', 't2'), encodeTask({ id: 't2' })],
          ],
        );
        // At no revision since did the store hold two copies of a task.
        for (let rev = from.revision; rev <= now.revision; rev++) {
          const at = await ts.store.range(k.taskPrefix, { prefix: true, revision: rev });
          const ids = at.kvs.map((kv) => kv.key.split('/').pop());
          assert.equal(new Set(ids).size, ids.length, `revision ${rev}: ${at.kvs.map((kv) => kv.key)}`);
        }
      } finally {
        gated.resumeWatches();
        await m.master.stop();
        await ts.close();
      }
    });

    it('a stale view during a pipelined first assignment: the txns in flight finish, the refused one stops the writing, the plan is redone', async () => {
      const ts = await factory.create();
      let desired: Task[] = [];
      const m = await leadingMaster(ts, uniqueRoot('view-pipeline'), () => desired);
      const { k, gated } = m;
      try {
        // Behind the cut watches, someone writes the key the plan's last txn will create: t999 on w1.
        gated.pauseWatches();
        await ts.store.put(k.task('w1', 't999'), encodeTask({ id: 't999', priority: 5 }));
        // 1000 tasks: 8 txns of puts, t999 (lowest priority) in the last one.
        desired = Array.from({ length: 1000 }, (_, i) => ({ id: `t${i}`, priority: i === 999 ? -1 : 0 }));
        const written = gated.txnKeys.length;
        const report = await m.scheduleOnce('first');
        gated.resumeWatches();
        assert.equal(report.result, 'ok', report.errors.join('; '));
        assert.ok(
          report.resyncs >= 1 && gated.refused >= 1,
          `resyncs ${report.resyncs}, refused ${gated.refused}`,
        );
        // Every key of the refused schedule's first attempt was sent once; the retry wrote what was left.
        const keysSent = gated.txnKeys.slice(written).filter((key) => key.startsWith(k.taskPrefix));
        assert.ok(keysSent.length >= 1000, `${keysSent.length} task keys sent`);
        const now = await ts.store.range(k.taskPrefix, { prefix: true });
        assert.equal(now.count, 1000);
        for (const kv of now.kvs) {
          const id = kv.key.slice(k.task('w1', '').length);
          assert.equal(kv.value, encodeTask({ id, priority: id === 't999' ? -1 : 0 }), kv.key);
        }
      } finally {
        gated.resumeWatches();
        await m.master.stop();
        await ts.close();
      }
    });
  });
}

describe('write guards', () => {
  it('guard each key with what the plan saw, and follow the schedule own txns across phases', () => {
    const k = keys('g');
    const stored = parseAssignment(
      [
        { key: k.task('w1', 'a'), value: 'old', modRevision: 7 },
        { key: k.task('w1', 'b'), value: 'same', modRevision: 8 },
      ],
      k,
    );
    const rewrite: Op = { type: 'put', key: k.task('w1', 'a'), value: 'new' };
    const units = [
      [{ type: 'delete' as const, key: k.task('w1', 'b') }],
      [rewrite],
      [{ type: 'put' as const, key: k.task('w2', 'n'), value: 'x' }],
    ];
    // handoff 'none': the rewrite is a delete now, the put in a second phase.
    const guards = new WriteGuards(
      stored,
      units.flat().map((op) => op.key),
    );
    const phases = writePhases(units, stored, 'none').map((p) => [...p]);
    assert.deepEqual(guards.compare(phases[0][0][0]), {
      key: k.task('w1', 'b'),
      target: 'mod',
      op: '=',
      value: 8,
    });
    assert.deepEqual(guards.compare(phases[0][1][0]), {
      key: k.task('w1', 'a'),
      target: 'mod',
      op: '=',
      value: 7,
    });
    assert.deepEqual(guards.compare(phases[0][2][0]), {
      key: k.task('w2', 'n'),
      target: 'create',
      op: '=',
      value: 0,
    });
    guards.committed(phases[0].flat(), 20);
    // After our own delete of w1/a committed, the second phase's put expects the key absent.
    assert.deepEqual(guards.compare(phases[1][0][0]), {
      key: k.task('w1', 'a'),
      target: 'create',
      op: '=',
      value: 0,
    });
  });
});
