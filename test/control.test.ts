/**
 * Operators steer the fleet (issue 13), on a real etcd: masters and workers in this process (the fleet
 * helper), the CLI as child processes where the CLI is the point (`drain --wait`, `plan --json`, errors).
 * "Never happened" claims are read back from etcd's history (a watch from the revision of the control
 * change), not from sleeps.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ControlError } from '../src/errors.js';
import { Admin } from '../src/scheduler/control/admin.js';
import type { ScheduleReport } from '../src/scheduler/master.js';
import type { Store } from '../src/store/port.js';
import { killAll, runCli } from './fixtures/cli-process.js';
import { waitFor } from './helpers/async.js';
import { checkInvariants, formatReport } from './helpers/checker.js';
import { sharedEndpoints } from './helpers/etcd.js';
import { exactlyOnce, Fleet, spread } from './helpers/fleet.js';
import { eventsSince } from './helpers/history.js';
import { etcdStores, type TestStore } from './helpers/stores.js';

const sameSet = (a: readonly string[] | undefined, b: readonly string[]) =>
  [...(a ?? [])].sort().join(',') === [...b].sort().join(',');

describe('operator control on a real etcd', () => {
  let t: TestStore;
  let store: Store;
  const fleets: Fleet[] = [];
  before(async () => {
    t = await etcdStores.create();
    store = t.store;
  });
  after(async () => {
    await Promise.allSettled(fleets.map((f) => f.close()));
    await t?.close();
    killAll();
  });

  /** A fleet on an established root (no start-up barrier) with `workers` started and balanced. */
  async function fleet(name: string, tasks: number, workers: string[], maxMoves?: number) {
    const f = new Fleet(store, `control-${name}`, 10, 10); // ttl 10: a loaded machine does not lose leases
    fleets.push(f);
    f.tasks = Fleet.tasks(tasks);
    await store.put(f.k.barrierLeft, new Date().toISOString());
    const m = f.master('m1', maxMoves === undefined ? {} : { maxMoves });
    const reports: ScheduleReport[] = [];
    m.on('schedule', (r) => reports.push(r));
    const ws = workers.map((n) => f.worker(n));
    await Promise.all(ws.map((w) => w.start()));
    const a0 = await f.balanced(workers);
    await waitFor('the schedule that balanced them reported', () => reports.at(-1)?.deferred === 0);
    const admin = new Admin({ store, rootName: f.root, by: 'test' });
    return { f, m, ws, a0, admin, reports };
  }
  const revisionOf = async (key: string) => (await store.get(key))?.modRevision ?? 0;

  it('cordon: no task placed on the worker across a join, a leave and a task-set change; uncordon fills it', async () => {
    const { f, m, ws, a0, admin } = await fleet('cordon', 12, ['w1', 'w2', 'w3']);
    const held = a0.get('w1')!;
    await admin.cordon('w1', { reason: 'disk errors' });
    const from = await revisionOf(f.k.controlWorker('w1'));
    await waitFor('a schedule that sees the cordon', () => m.lastSchedule?.control.cordoned.includes('w1'));

    const w4 = f.worker('w4');
    await w4.start();
    await f.until('w4 joined: the others balance, w1 keeps its own', async () => {
      const a = await f.assignment();
      return (
        sameSet(a.get('w1'), held) && (a.get('w4')?.length ?? 0) > 0 && spread(a, ['w2', 'w3', 'w4']) <= 1
      );
    });
    await ws[1].stop();
    await f.until('w2 left: its tasks go to w3 and w4 only', async () => {
      const a = await f.assignment();
      return (
        sameSet(a.get('w1'), held) && !a.has('w2') && exactlyOnce(a, f.tasks) && spread(a, ['w3', 'w4']) <= 1
      );
    });
    f.tasks = Fleet.tasks(16).filter((task) => task.id !== held[0]);
    m.notifySchedule('task set changed');
    await f.until('the new task set: new tasks to w3 and w4 only', async () => {
      const a = await f.assignment();
      return sameSet(a.get('w1'), held.slice(1)) && exactlyOnce(a, f.tasks) && spread(a, ['w3', 'w4']) <= 1;
    });
    const puts = (await eventsSince(store, f.k.root, f.k.workerTasks('w1'), from)).filter(
      (e) => e.type === 'put',
    );
    assert.deepEqual(
      puts.map((e) => e.kv.key),
      [],
      'nothing was written to the cordoned worker',
    );

    assert.equal(await admin.uncordon('w1'), true);
    await f.balanced(['w1', 'w3', 'w4']);
  });

  it('drain --wait on a live worker: every task leaves it, never on two workers, it stays registered', async () => {
    const { f, ws, admin } = await fleet('drain', 12, ['w1', 'w2', 'w3']);
    for (const task of f.tasks) f.stopDelay.set(task.id, 50); // runs take a while to stop: handoffs overlap if unclaimed
    const r = await runCli(
      ['drain', 'w1', '--wait', '--every', '50ms', '--etcd', sharedEndpoints().join(','), '--root', f.root],
      60_000,
    );
    assert.equal(r.code, 0, r.stderr);
    // --wait returned: it holds nothing, right now
    assert.deepEqual(await admin.holding('w1'), { assigned: [], claimed: [] });
    assert.deepEqual(f.runningOn('w1'), []);
    assert.match(r.stdout, /^draining w1/m);
    assert.match(r.stdout, /^w1: [1-9]\d* assigned, \d+ claimed$/m, 'progress printed');
    assert.match(r.stdout, /^drained w1/m);
    assert.ok(await store.get(f.k.worker('w1')), 'still registered');
    assert.notEqual(ws[0].status, 'dead');
    const a = await f.balanced(['w2', 'w3']);
    assert.ok(!a.has('w1'));
    await waitFor('every task running', () => f.runs.filter((x) => x.stop === undefined).length === 12);
    const report = checkInvariants({
      runs: f.runs.map((x) => ({ task: x.id, worker: x.worker, start: x.start, stop: x.stop })),
      end: Date.now(),
      fenceBound: 0,
    });
    assert.ok(report.handoffs >= 4, formatReport(report));
    assert.deepEqual(report.violations, [], formatReport(report));
    assert.equal((await admin.state()).workers[0]?.state, 'draining');

    await admin.uncordon('w1');
    await f.balanced(['w1', 'w2', 'w3']);
  });

  it('pin: holds through a rebalance, follows its worker out and back; bad input is refused', async () => {
    const { f, ws, a0, admin } = await fleet('pin', 12, ['w1', 'w2', 'w3']);
    const p = a0.get('w1')![0];
    await admin.pin(p, 'w2', { reason: 'needs the GPU' });
    await f.until('the pinned task on w2, still balanced', async () => {
      const a = await f.assignment();
      return a.get('w2')?.includes(p) && exactlyOnce(a, f.tasks) && spread(a, ['w1', 'w2', 'w3']) <= 1;
    });
    const w4 = f.worker('w4');
    await w4.start();
    await f.until('a join rebalances, the pin holds', async () => {
      const a = await f.assignment();
      return a.get('w2')?.includes(p) && exactlyOnce(a, f.tasks) && spread(a, ['w1', 'w2', 'w3', 'w4']) <= 1;
    });
    await ws[1].stop();
    await f.settled(['w1', 'w3', 'w4']); // w2 left: its tasks, the pinned one too, placed elsewhere
    const back = f.worker('w2');
    await back.start();
    await f.until('w2 back: the pinned task returns to it', async () => {
      const a = await f.assignment();
      return a.get('w2')?.includes(p) && exactlyOnce(a, f.tasks) && spread(a, ['w1', 'w2', 'w3', 'w4']) <= 1;
    });

    await assert.rejects(admin.pin(p, 'nope'), (err: unknown) => {
      assert.ok(err instanceof ControlError);
      assert.match(err.message, /worker "nope" is not online \(online: w1, w2, w3, w4\)/);
      return true;
    });
    await assert.rejects(admin.pin('t999', 'w1'), /task "t999" is assigned to no worker/);
    await admin.cordon('w3');
    await assert.rejects(admin.pin(p, 'w3'), /cannot pin task .* "w3": it is cordoned/);
    await assert.rejects(admin.cordon('../x'), /worker must not contain/);
    await admin.pin('t999', 'w9', { force: true }); // recorded for a worker about to join
    assert.deepEqual(
      (await admin.state()).pins.map((x) => `${x.task}>${x.worker}`),
      [`${p}>w2`, 't999>w9'],
    );
    const cli = await runCli(['cordon', 'nope', '--etcd', sharedEndpoints().join(','), '--root', f.root]);
    assert.equal(cli.code, 2);
    assert.match(
      cli.stderr,
      /cordon: worker "nope" is not online \(online: w1, w2, w3, w4\); --force records it/,
    );
  });

  it('pause: a join and a leave move nothing between live workers, orphans are placed; resume rebalances', async () => {
    const { f, m, ws, a0, admin, reports } = await fleet('pause', 12, ['w1', 'w2', 'w3']);
    await admin.pause({ reason: 'incident 42' });
    const from = await revisionOf(f.k.controlPause);
    await waitFor('a schedule that sees the pause', () => m.lastSchedule?.control.paused);
    const seen = reports.length;
    const w4 = f.worker('w4');
    await w4.start();
    await ws[2].stop();
    const a = await f.settled(['w1', 'w2', 'w4']); // the dead worker's tasks are placed anyway
    for (const w of ['w1', 'w2'])
      for (const id of a0.get(w)!) assert.ok(a.get(w)?.includes(id), `${id} stayed on ${w}`);
    const leftLive = (await eventsSince(store, f.k.root, f.k.taskPrefix, from)).filter(
      (e) => e.type === 'delete' && !e.kv.key.startsWith(f.k.workerTasks('w3')),
    );
    assert.deepEqual(
      leftLive.map((e) => e.kv.key),
      [],
      'no task left a live worker',
    );
    assert.ok(reports.length > seen);
    for (const r of reports.slice(seen))
      assert.equal(r.moves, 0, `${r.reason}: ${r.moves} moves while paused`);

    assert.equal(await admin.resume(), true);
    await f.balanced(['w1', 'w2', 'w4']);
  });

  it('maxMoves 3: a join needing 12 moves takes schedules of ≤ 3 until balanced; orphans are placed at once', async () => {
    const { f, ws, reports } = await fleet('budget', 48, ['w1', 'w2', 'w3'], 3);
    let seen = reports.length;
    const w4 = f.worker('w4');
    await w4.start();
    await f.balanced(['w1', 'w2', 'w3', 'w4'], 30_000);
    await waitFor('the last schedule deferred nothing', () => reports.at(-1)?.deferred === 0);
    const joined = reports.slice(seen).filter((r) => r.moves > 0 || r.deferred > 0);
    assert.deepEqual(
      joined.map((r) => [r.moves, r.deferred]),
      [
        [3, 9],
        [3, 6],
        [3, 3],
        [3, 0],
      ],
      'four schedules of 3 moves',
    );
    assert.ok(joined.slice(1).every((r) => r.reasons.includes('moves deferred')));

    // A leave: its 12 tasks are orphans, placed by one schedule whatever the budget.
    seen = reports.length;
    await ws[0].stop();
    await f.settled(['w2', 'w3', 'w4']);
    const placed = await waitFor('the schedule that placed them reported', () =>
      reports.slice(seen).find((r) => r.assigned > 0),
    );
    assert.equal(placed.assigned, 12);
    assert.equal(placed.moves, 0);
    assert.equal(placed.deferred, 0);
  });

  it('status shows cordoned and draining workers, pins and a PAUSED banner; malformed control is reported, never fatal', async () => {
    const { f, m, a0, admin } = await fleet('status', 6, ['w1', 'w2', 'w3']);
    const p = a0.get('w3')![0];
    await admin.cordon('w1', { reason: 'disk errors' });
    await admin.drain('w2');
    await admin.pin(p, 'w3');
    await admin.pause({ reason: 'incident 7' });
    await store.put(f.k.controlWorker('w3'), 'not json');
    await store.put(`${f.k.controlPrefix}bogus`, '{}');
    await waitFor('a schedule under all of it', () => {
      const r = m.lastSchedule;
      return (
        r?.control.paused &&
        r.control.cordoned.includes('w1') &&
        r.control.draining.includes('w2') &&
        r.errors.some((e) => e.includes('bogus'))
      );
    });
    const r = m.lastSchedule!;
    assert.equal(r.result, 'ok');
    assert.deepEqual(r.control, { cordoned: ['w1'], draining: ['w2'], pins: 1, paused: true });
    assert.ok(r.errors.some((e) => /control key ".*\/control\/worker\/w3": not JSON \(ignored\)/.test(e)));

    const flags = ['--etcd', sharedEndpoints().join(','), '--root', f.root];
    const text = await runCli(['status', ...flags]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^PAUSED since \S+ by test — incident 7: no task moves between live workers$/m);
    assert.match(text.stdout, /^WORKER\s+STATE\s+LEASE/m);
    assert.match(text.stdout, /^w1\s+cordoned\s/m);
    assert.match(text.stdout, /^w2\s+draining\s/m);
    assert.match(text.stdout, /^cordoned w1 by test at \S+: disk errors$/m);
    assert.match(text.stdout, new RegExp(`^pins: ${p}→w3$`, 'm'));
    assert.match(
      text.stdout,
      /^control problem: control key ".*\/control\/bogus": unknown control key \(ignored\)$/m,
    );
    const json = await runCli(['status', '--json', ...flags]);
    const s = JSON.parse(json.stdout) as {
      control: import('../src/scheduler/control/state.js').ControlState;
    };
    assert.deepEqual(
      s.control.workers.map((w) => [w.worker, w.state, w.reason]),
      [
        ['w1', 'cordoned', 'disk errors'],
        ['w2', 'draining', ''],
      ],
    );
    assert.deepEqual(
      s.control.pins.map((x) => [x.task, x.worker]),
      [[p, 'w3']],
    );
    assert.equal(s.control.pause?.reason, 'incident 7');
    assert.equal(s.control.problems.length, 2);
  });

  it('plan writes nothing and its moves are those of the schedule that follows', async () => {
    const f = new Fleet(store, 'control-plan', 10, 10);
    fleets.push(f);
    f.tasks = Fleet.tasks(12);
    await store.put(f.k.barrierLeft, new Date().toISOString());
    const ws = ['w1', 'w2'].map((n) => f.worker(n));
    await Promise.all(ws.map((w) => w.start()));
    const m = f.master('m1', { rebalanceWait: 600_000 }); // joins wait: the test asks for the schedule
    await f.balanced(['w1', 'w2']);
    await waitFor('every task running', () => f.runs.filter((x) => x.stop === undefined).length === 12);
    await f.worker('w3').start();
    const admin = new Admin({ store, rootName: f.root });
    const snapshot = async () => {
      // Workers' health documents (/<root>/health/) follow their runs on their own: not the plan's writes.
      const res = await store.range(`${f.k.root}/`, { prefix: true });
      const kvs = res.kvs.filter((kv) => !kv.key.startsWith(f.k.healthPrefix));
      return `${kvs.length} keys, last change at ${Math.max(...kvs.map((kv) => kv.modRevision))}`;
    };
    const before = await snapshot();
    const plan = await admin.plan();
    const cli = await runCli(['plan', '--json', '--etcd', sharedEndpoints().join(','), '--root', f.root]);
    assert.equal(cli.code, 0, cli.stderr);
    const fromCli = JSON.parse(cli.stdout) as typeof plan;
    assert.equal(await snapshot(), before, 'a dry run writes nothing');
    assert.equal(plan.moves, 4);
    assert.deepEqual(fromCli.moveList, plan.moveList);
    assert.deepEqual(plan.balance, {
      before: { max: 6, min: 0, spread: 6 },
      after: { max: 4, min: 4, spread: 0 },
    });

    const next = new Promise<ScheduleReport>((resolve) => m.once('schedule', resolve));
    m.notifySchedule('after the dry run');
    const report = await next;
    assert.equal(report.moves, plan.moves);
    const a = await f.balanced(['w1', 'w2', 'w3']);
    for (const mv of plan.moveList) assert.ok(a.get(mv.to)?.includes(mv.id), `${mv.id} moved to ${mv.to}`);
  });
});
