/**
 * Rolling restarts without churn (issue 15), on the memory store and a ManualClock, where time moves only when
 * the test advances it: a worker stopping with restart intent leaves a marker, the master holds its tasks
 * (nothing moves, they do not run), the worker of that name coming back within the grace runs the same tasks;
 * a grace that runs out moves exactly that worker's tasks, once.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { WorkerNumExceedMaximumError } from '../src/errors.js';
import type { ScheduleReport } from '../src/scheduler/master/report.js';
import { decodeMarker } from '../src/scheduler/restart.js';
import type { Worker } from '../src/scheduler/worker.js';
import { MemoryStore } from '../src/store/memory.js';
import { ManualClock } from '../src/util/clock.js';
import { checkInvariants, formatReport } from './helpers/checker.js';
import { Fleet } from './helpers/fleet.js';

const GRACE = 30_000;

describe('rolling restarts on the memory store and a ManualClock', () => {
  const fleets: Fleet[] = [];
  const setup = async (name: string, tasks: number, workers: number, maxNumNodes = 10) => {
    const clock = new ManualClock();
    const store = new MemoryStore({ clock, seed: 15 });
    const f = new Fleet(store, name, maxNumNodes, 10, { clock });
    fleets.push(f);
    f.tasks = Fleet.tasks(tasks);
    await store.put(f.k.barrierLeft, 'established');
    const m = f.master('m1');
    const reports: ScheduleReport[] = [];
    m.on('schedule', (r) => reports.push(r));
    const names = Array.from({ length: workers }, (_, i) => `w${i + 1}`);
    const ws = new Map<string, Worker>(names.map((n) => [n, f.worker(n, { restartGrace: GRACE })]));
    await Promise.all([...ws.values()].map((w) => w.start()));
    const a0 = await f.balanced(names);
    await f.until(`${tasks} runs`, () => f.runs.filter((r) => r.stop === undefined).length === tasks);
    const sleep = async (ms: number) => {
      const t = clock.now();
      await f.until(`${ms} ms of the manual clock`, () => clock.now() - t >= ms, ms + 1_000);
    };
    const stop = async (w: Worker, restart: boolean) => {
      let done = false;
      const p = w.stop({ restart }).then(() => {
        done = true;
      });
      await f.until(`${w.name} stopped`, () => done);
      await p;
    };
    return { f, clock, store, m, reports, names, ws, a0, sleep, stop };
  };
  after(async () => {
    await Promise.allSettled(fleets.map((f) => f.close()));
    await Promise.allSettled(fleets.map((f) => f.store.close()));
  });

  const movesSince = (reports: ScheduleReport[], from: number) =>
    reports.slice(from).reduce((n, r) => n + r.moves, 0);

  it('a rolling restart within the grace moves nothing; each task runs again once its worker is back', async () => {
    const s = await setup('rolling-grace', 100, 5);
    const { f, clock, reports, names, ws, a0 } = s;
    const before = reports.length;
    const gaps: number[] = [];
    for (const name of names) {
      const down = clock.now();
      await s.stop(ws.get(name)!, true);
      const marker = await f.store.get(f.k.restarting(name));
      assert.ok(marker, `${name} left a restart marker`);
      assert.equal(decodeMarker(marker.value)?.graceMs, GRACE);
      assert.equal(await f.store.get(f.k.worker(name)), undefined, 'the worker key is gone');
      await s.sleep(2_000);
      // The master saw the worker go (after rebalanceWait) and held its tasks: nothing moved, none runs.
      assert.deepEqual(await f.assignment(), a0, `${name}'s tasks held while it restarts`);
      assert.deepEqual(f.runningOn(name), [], `${name}'s tasks do not run while it is away`);
      const last = reports.at(-1)!;
      assert.deepEqual(last.restarting, [name], 'the last schedule held the restarting worker');
      assert.equal(last.held, a0.get(name)!.length);
      assert.match(
        await f.metrics.registry.metrics(),
        new RegExp(`escheduler_master_held_tasks\\{name="m1"\\} ${a0.get(name)!.length}\n`),
      );

      const back = f.worker(name, { restartGrace: GRACE });
      ws.set(name, back);
      const up = clock.now();
      await back.start();
      assert.equal(back.status, 'left_barrier', 'a returning worker does not enter the barrier again');
      assert.equal(await f.store.get(f.k.restarting(name)), undefined, 'the marker was taken down');
      const mine = a0.get(name)!;
      await f.until(`${name} runs its ${mine.length} tasks again`, () =>
        mine.every((id) => f.runningOn(name).includes(id)),
      );
      for (const id of mine) {
        const run = f.runs.findLast((r) => r.id === id)!;
        assert.equal(run.worker, name);
        gaps.push(run.start - down);
        assert.ok(
          run.start - up <= 1_000,
          `${id} ran ${run.start - up} ms (manual clock) after ${name} was back`,
        );
      }
      await s.sleep(1_000); // past rebalanceWait: the join's schedule ran
    }
    assert.deepEqual(await f.assignment(), a0, 'the assignment after the rollout is the one before');
    assert.equal(movesSince(reports, before), 0, 'zero moves across the rollout');
    const runs = f.runs.map((r) => ({ task: r.id, worker: r.worker, start: r.start, stop: r.stop }));
    const report = checkInvariants({ runs, end: clock.now(), fenceBound: 0 });
    assert.deepEqual(report.violations, [], formatReport(report, 'rolling restart'));
    assert.equal(gaps.length, 100);
    const text = await f.metrics.registry.metrics();
    assert.match(text, /escheduler_master_restarts_total\{name="m1",result="returned"\} 5\n/);
    assert.doesNotMatch(text, /result="expired"/);
  });

  it('the same rollout without restart intent moves tasks out and back', async () => {
    const s = await setup('rolling-drain', 100, 5);
    const { f, clock, reports, names, ws } = s;
    const before = reports.length;
    for (const name of names) {
      await s.stop(ws.get(name)!, false);
      assert.equal(await f.store.get(f.k.restarting(name)), undefined, 'a plain stop leaves no marker');
      await s.sleep(2_000);
      const back = f.worker(name, { restartGrace: GRACE });
      ws.set(name, back);
      await back.start();
      await s.sleep(1_000);
    }
    await f.balanced(names);
    // 20 tasks leave each worker (orphans, not moves) and about 20 move back on its return.
    assert.ok(movesSince(reports, before) >= 5 * 15, `moves: ${movesSince(reports, before)}`);
    const runs = f.runs.map((r) => ({ task: r.id, worker: r.worker, start: r.start, stop: r.stop }));
    const report = checkInvariants({ runs, end: clock.now(), fenceBound: 0 });
    assert.deepEqual(report.violations, [], formatReport(report, 'rolling drain'));
  });

  it('a worker that does not come back: its tasks move once, when the grace runs out, and only its tasks', async () => {
    const s = await setup('no-return', 60, 4);
    const { f, clock, a0 } = s;
    const t0 = clock.now();
    const seen = f.runs.length;
    await s.stop(s.ws.get('w2')!, true);
    await s.sleep(GRACE - 2_000 - (clock.now() - t0));
    assert.deepEqual(await f.assignment(), a0, 'held until the grace runs out');
    await s.sleep(4_000);
    assert.equal(await f.store.get(f.k.restarting('w2')), undefined, 'the marker expired');
    const a1 = await f.balanced(['w1', 'w3', 'w4']);
    for (const w of ['w1', 'w3', 'w4']) {
      for (const id of a0.get(w)!) assert.ok(a1.get(w)!.includes(id), `${id} stayed on ${w}`);
    }
    // Each of w2's tasks started once more after the stop (on another worker), the other tasks never.
    const starts = new Map<string, string[]>();
    for (const r of f.runs.slice(seen)) starts.set(r.id, [...(starts.get(r.id) ?? []), r.worker]);
    for (const id of a0.get('w2')!) {
      assert.equal(starts.get(id)?.length, 1, `${id} started once after w2 stopped`);
      assert.notEqual(starts.get(id)![0], 'w2');
    }
    for (const w of ['w1', 'w3', 'w4']) for (const id of a0.get(w)!) assert.equal(starts.get(id), undefined);
    const expiry = s.reports.filter((r) => r.reasons.includes('restart expired'));
    assert.equal(expiry.length, 1, 'one schedule for the expiry');
    assert.equal(expiry[0].assigned, a0.get('w2')!.length, 'it assigned exactly the tasks of w2');
    assert.equal(expiry[0].moves, 0, 'orphans of a gone worker are not moves between live workers');
    const text = await f.metrics.registry.metrics();
    assert.match(text, /escheduler_master_restarts_total\{name="m1",result="expired"\} 1\n/);
    assert.doesNotMatch(text, /result="returned"/);
  });

  it('a live marker keeps its place under the cap for its own name only', async () => {
    // maxNumNodes 4: 3 workers; w3 restarting holds its place.
    const s = await setup('cap', 9, 3, 4);
    const { f } = s;
    await s.stop(s.ws.get('w3')!, true);
    await assert.rejects(f.worker('w9').start(), WorkerNumExceedMaximumError, 'another name is refused');
    const back = f.worker('w3', { restartGrace: GRACE });
    await back.start();
    assert.equal(await f.store.get(f.k.restarting('w3')), undefined);
  });

  it('a stop without restartGrace set is a plain drain even with restart intent', async () => {
    const s = await setup('no-grace', 6, 2);
    const { f } = s;
    const w = f.worker('w7');
    await w.start();
    await s.stop(w, true);
    assert.equal(await f.store.get(f.k.restarting('w7')), undefined);
  });
});
