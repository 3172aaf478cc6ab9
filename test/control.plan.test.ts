/**
 * The controlled plan (issue 13), pure: without control it is the planner's plan exactly; cordon holds a
 * worker's tasks and places nothing on it; drain empties a worker through moves; pins hold and keep the
 * balance; pause moves nothing between live workers but places orphans; the budget keeps at most
 * `maxMoves` moves per schedule, never delays orphans, and repeated schedules reach the planner's balance.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { rebalance } from '../src/planner/rebalance.js';
import { diffFinal } from '../src/scheduler/control/diff.js';
import { type ControlledPlan, planWithControl } from '../src/scheduler/control/plan.js';
import { type ControlState, emptyControl } from '../src/scheduler/control/state.js';
import type { Task } from '../src/task.js';
import { mulberry32 } from './helpers/async.js';

const stamp = { by: 'test', reason: '', at: '2026-01-01T00:00:00Z' };
const tasksOf = (n: number, groups = 1): Task[] =>
  Array.from({ length: n }, (_, i) => ({
    id: `t${String(i).padStart(3, '0')}`,
    group: groups > 1 ? `g${i % groups}` : undefined,
  }));

function control(c: Partial<ControlState>): ControlState {
  return { ...emptyControl(), ...c };
}

/** The assignment after writing the plan: worker → ids. */
function after(plan: ControlledPlan): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const [w, list] of plan.target)
    out.set(
      w,
      list.map((t) => t.id),
    );
  return out;
}

function loads(a: Map<string, string[]>, workers: string[]): number[] {
  return workers.map((w) => a.get(w)?.length ?? 0);
}
const spread = (xs: number[]) => Math.max(...xs) - Math.min(...xs);

function balancedStart(workers: string[], tasks: Task[]): Map<string, string[]> {
  return after(planWithControl({ workers, tasks, current: new Map() }));
}

describe('controlled plan', () => {
  it('without control it is the planner plan, on random inputs', () => {
    const random = mulberry32(13);
    for (let round = 0; round < 200; round++) {
      const W = 1 + Math.floor(random() * 6);
      const workers = Array.from({ length: W }, (_, i) => `w${i}`);
      const tasks: Task[] = Array.from({ length: Math.floor(random() * 40) }, (_, i) => ({
        id: `t${i}`,
        group: random() < 0.5 ? 'a' : 'b',
        key: random() < 0.2 ? `k${Math.floor(random() * 3)}` : undefined,
        priority: Math.floor(random() * 3),
      }));
      const current = new Map<string, string[]>();
      for (const t of tasks) {
        if (random() < 0.2) continue;
        const w = `w${Math.floor(random() * (W + 2))}`; // some on dead workers
        current.set(w, [...(current.get(w) ?? []), t.id]);
        if (random() < 0.05) current.set('w0', [...(current.get('w0') ?? []), t.id]); // copies
      }
      current.set('w1', [...(current.get('w1') ?? []), 'gone']);
      const want = rebalance({ workers, tasks, current });
      const got = planWithControl({ workers, tasks, current });
      assert.deepEqual(got.assign, want.assign, `round ${round}: assign`);
      assert.deepEqual(got.revoke, want.revoke, `round ${round}: revoke`);
      assert.equal(got.moves, want.moves, `round ${round}: moves`);
      assert.equal(got.moveList.length, want.moves, `round ${round}: moveList`);
      assert.deepEqual(got.target, want.target, `round ${round}: target`);
      // The diff the controlled path uses gives the planner's own diff from the planner's placement.
      const final = new Map<string, string>();
      for (const [w, list] of want.target) for (const t of list) final.set(t.id, w);
      const d = diffFinal(tasks, final, current, workers);
      assert.deepEqual(d.assign, want.assign, `round ${round}: diffFinal assign`);
      assert.deepEqual(d.revoke, want.revoke, `round ${round}: diffFinal revoke`);
      assert.deepEqual(d.moveList, got.moveList, `round ${round}: diffFinal moves`);
      assert.deepEqual(d.target, want.target, `round ${round}: diffFinal target`);
    }
  });

  it('cordon: the worker keeps what it runs, gets nothing new, the others balance', () => {
    const tasks = tasksOf(30);
    const start = balancedStart(['a', 'b', 'c'], tasks);
    const c = control({ workers: [{ worker: 'a', state: 'cordoned', ...stamp }] });
    // a join (d), a leave (b) and new tasks at once
    const more = [...tasks, ...tasksOf(40).slice(30)];
    const p = planWithControl({ workers: ['a', 'c', 'd'], tasks: more, current: start, control: c });
    assert.deepEqual(after(p).get('a'), start.get('a'));
    assert.ok(spread(loads(after(p), ['c', 'd'])) <= 1);
    assert.deepEqual(p.cordoned, ['a']);
    for (const m of p.moveList) assert.ok(m.to !== 'a' && m.from !== 'a');
  });

  it('drain: every task leaves the worker as a move, the others balance', () => {
    const tasks = tasksOf(30, 3);
    const start = balancedStart(['a', 'b', 'c'], tasks);
    const c = control({ workers: [{ worker: 'a', state: 'draining', ...stamp }] });
    const p = planWithControl({ workers: ['a', 'b', 'c'], tasks, current: start, control: c });
    assert.deepEqual(after(p).get('a'), []);
    assert.equal(p.moves, start.get('a')!.length);
    assert.ok(spread(loads(after(p), ['b', 'c'])) <= 1);
  });

  it('every worker cordoned or draining: what live workers hold stays, the rest is reported unplaced', () => {
    const tasks = tasksOf(6);
    const start = balancedStart(['a', 'b'], tasks.slice(0, 4));
    const c = control({
      workers: [
        { worker: 'a', state: 'cordoned', ...stamp },
        { worker: 'b', state: 'draining', ...stamp },
      ],
    });
    const p = planWithControl({ workers: ['a', 'b'], tasks, current: start, control: c });
    assert.deepEqual(after(p), start);
    assert.deepEqual(p.unplaced, ['t004', 't005']);
    assert.match(p.problems[0], /2 task\(s\) not placed/);
  });

  it('pins: the task goes to its worker, a same-group task comes back, and a re-plan moves nothing', () => {
    const tasks = tasksOf(30, 3);
    const start = balancedStart(['a', 'b', 'c'], tasks);
    const id = start.get('a')![0];
    const c = control({ pins: [{ task: id, worker: 'b', ...stamp }] });
    const p = planWithControl({ workers: ['a', 'b', 'c'], tasks, current: start, control: c });
    const a1 = after(p);
    assert.ok(a1.get('b')!.includes(id));
    assert.deepEqual(loads(a1, ['a', 'b', 'c']), loads(start, ['a', 'b', 'c']));
    assert.equal(p.moves, 2);
    const again = planWithControl({ workers: ['a', 'b', 'c'], tasks, current: a1, control: c });
    assert.equal(again.moves, 0, 'a pin survives a rebalance');
    // the worker leaves: placed elsewhere; it returns: back on it
    const gone = planWithControl({ workers: ['a', 'c'], tasks, current: a1, control: c });
    assert.ok(!after(gone).get('a')!.includes(id) || !after(gone).get('c')!.includes(id));
    const back = planWithControl({ workers: ['a', 'b', 'c'], tasks, current: after(gone), control: c });
    assert.ok(after(back).get('b')!.includes(id));
  });

  it('with weights, a pin sends back the task of the closest weight (the loads stay near the plan)', () => {
    const tasks: Task[] = [
      { id: 'p', weight: 10 },
      { id: 'z', weight: 9 }, // last by id: only its weight can make it the one sent back
      ...Array.from({ length: 10 }, (_, i) => ({ id: `u${i}` })),
    ];
    const start = after(
      planWithControl({ workers: ['a', 'b'], tasks, current: new Map(), control: control({}) }),
    );
    const load = (a: Map<string, string[]>, w: string) =>
      (a.get(w) ?? []).reduce((n, id) => n + (tasks.find((t) => t.id === id)!.weight ?? 1), 0);
    const x = start.get('a')!.includes('p') ? 'a' : 'b';
    const y = x === 'a' ? 'b' : 'a';
    assert.ok(start.get(y)!.includes('z'), 'the planner put the two heavy tasks apart');
    const c = control({ pins: [{ task: 'p', worker: y, ...stamp }] });
    const pinned = after(planWithControl({ workers: ['a', 'b'], tasks, current: start, control: c }));
    assert.ok(pinned.get(y)!.includes('p') && pinned.get(x)!.includes('z'), JSON.stringify([...pinned]));
    const gap = (a: Map<string, string[]>) => Math.abs(load(a, 'a') - load(a, 'b'));
    assert.ok(gap(pinned) <= gap(start) + 1, `loads ${load(pinned, 'a')} / ${load(pinned, 'b')}`);
  });

  it('a keyed pin takes its bundle; conflicting pins of one key are reported', () => {
    const tasks: Task[] = [...tasksOf(12), { id: 'k1', key: 'K' }, { id: 'k2', key: 'K' }];
    const start = balancedStart(['a', 'b'], tasks);
    const on = start.get('a')!.includes('k1') ? 'a' : 'b';
    const other = on === 'a' ? 'b' : 'a';
    const c = control({
      pins: [
        { task: 'k1', worker: other, ...stamp },
        { task: 'k2', worker: on, ...stamp },
      ],
    });
    const p = planWithControl({ workers: ['a', 'b'], tasks, current: start, control: c });
    assert.ok(after(p).get(other)!.includes('k1') && after(p).get(other)!.includes('k2'));
    const unkeyed = (w: string) =>
      after(p)
        .get(w)!
        .filter((id) => id.startsWith('t')).length;
    assert.ok(Math.abs(unkeyed('a') - unkeyed('b')) <= 1, 'the unkeyed tasks level around the bundle');
    assert.match(p.problems.join('\n'), /pin of task "k2" .* ignored/);
  });

  it('pause: a join and a leave move nothing between live workers; orphans are placed; removed tasks revoked', () => {
    const tasks = tasksOf(30);
    const start = balancedStart(['a', 'b', 'c'], tasks);
    const c = control({ pause: stamp });
    const p = planWithControl({
      workers: ['a', 'b', 'd'],
      tasks: tasks.slice(1),
      current: start,
      control: c,
    });
    assert.equal(p.moves, 0);
    const a1 = after(p);
    for (const w of ['a', 'b'])
      for (const id of start.get(w)!) if (id !== 't000') assert.ok(a1.get(w)!.includes(id));
    assert.equal([...a1.values()].flat().length, 29);
    assert.ok(p.revoke.some((r) => r.id === 't000'));
  });

  it('maxMoves: ≤ budget per schedule, the biggest imbalance first, orphans at once, converges', () => {
    const tasks = tasksOf(48);
    let cur = balancedStart(['a', 'b', 'c'], tasks); // 16 each; a join of d needs 12 moves
    const workers = ['a', 'b', 'c', 'd'];
    const full = planWithControl({ workers, tasks, current: cur });
    assert.equal(full.moves, 12);
    const extra = tasksOf(52).slice(48); // 4 new tasks
    let schedules = 0;
    for (;;) {
      const p = planWithControl({ workers, tasks: [...tasks, ...extra], current: cur, maxMoves: 3 });
      schedules++;
      assert.ok(p.moves <= 3, `schedule ${schedules}: ${p.moves} moves`);
      const a = after(p);
      for (const t of extra)
        assert.ok(
          [...a.values()].some((l) => l.includes(t.id)),
          'orphans placed at once',
        );
      cur = a;
      if (p.deferred === 0) break;
      assert.equal(p.moves, 3);
      assert.ok(schedules < 10);
    }
    assert.ok(spread(loads(cur, workers)) <= 1);
    assert.equal(planWithControl({ workers, tasks: [...tasks, ...extra], current: cur }).moves, 0);
  });
});
