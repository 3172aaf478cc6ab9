import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PlannerInputError } from '../src/errors.js';
import { type RebalanceInput, type RebalanceResult, rebalance } from '../src/planner/rebalance.js';
import type { Task } from '../src/task.js';
import { checkPlan, currentOf, shape, tasksOf, workersOf } from './planner.helpers.js';

function plan(input: RebalanceInput): RebalanceResult {
  const result = rebalance(input);
  checkPlan(input, result);
  return result;
}

function loads(result: RebalanceResult): number[] {
  return [...result.target.values()].map((ts) => ts.length);
}

describe('planner scenarios', () => {
  it('initial assignment: balanced, everything assigned, highest priority first, no moves', () => {
    const tasks = tasksOf(1000, { groups: 7, priority: (i) => i % 5 });
    const r = plan({ workers: workersOf(12), tasks, current: new Map() });
    assert.equal(r.moves, 0);
    assert.equal(r.assign.length, 1000);
    assert.deepEqual(r.revoke, []);
    assert.equal(r.assign[0].task.priority, 4);
    assert.equal(r.assign.at(-1)!.task.priority, 0);
    assert.ok(Math.max(...loads(r)) - Math.min(...loads(r)) <= 1);
    assert.equal(r.stats.worstMaxMinPerGroup, 1);
  });

  it('one leave: only the leaver’s tasks are reassigned, nothing else moves', () => {
    const tasks = tasksOf(1000, { groups: 5 });
    const workers = workersOf(10);
    const before = plan({ workers, tasks });
    const r = plan({ workers: workers.filter((w) => w !== 'w3'), tasks, current: currentOf(before) });
    assert.equal(r.moves, 0);
    assert.equal(r.lowerBound, 0);
    assert.equal(r.stats.orphans, before.target.get('w3')!.length);
    assert.equal(r.assign.length, before.target.get('w3')!.length);
    assert.ok(r.revoke.every((x) => x.worker === 'w3'));
  });

  it('one join: exactly ⌊T/(W+1)⌋ tasks move, all to the new worker (one group, unkeyed)', () => {
    for (const [T, W] of [
      [1000, 10],
      [997, 7],
      [100, 99],
      [5, 3],
    ]) {
      const tasks = tasksOf(T);
      const workers = workersOf(W);
      const before = plan({ workers, tasks });
      const r = plan({ workers: [...workers, 'new'], tasks, current: currentOf(before) });
      assert.equal(r.moves, Math.floor(T / (W + 1)), `T=${T} W=${W}`);
      assert.equal(r.lowerBound, r.moves);
      assert.equal(r.target.get('new')!.length, Math.floor(T / (W + 1)));
      assert.ok(r.assign.every((a) => a.worker === 'new'));
    }
  });

  it('one join with many small groups: the newcomer is not left empty, moves equal the bound', () => {
    const tasks = tasksOf(600, { groups: 200 }); // 3 tasks per group, 20 workers
    const workers = workersOf(20);
    const before = plan({ workers, tasks });
    const r = plan({ workers: [...workers, 'new'], tasks, current: currentOf(before) });
    assert.equal(r.target.get('new')!.length, Math.floor(600 / 21));
    assert.equal(r.moves, r.lowerBound);
    assert.equal(r.moves, Math.floor(600 / 21));
  });

  it('leave + join in one plan: the leaver’s tasks go to the newcomer, nothing else moves', () => {
    const tasks = tasksOf(1000, { groups: 3 });
    const workers = workersOf(8);
    const before = plan({ workers, tasks });
    const r = plan({
      workers: [...workers.filter((w) => w !== 'w5'), 'new'],
      tasks,
      current: currentOf(before),
    });
    assert.equal(r.moves, 0);
    assert.deepEqual(
      r.target
        .get('new')!
        .map((t) => t.id)
        .sort(),
      before.target
        .get('w5')!
        .map((t) => t.id)
        .sort(),
    );
  });

  it('rolling restart of every worker, one by one: every step moves exactly the bound', () => {
    const tasks = tasksOf(500, { groups: 4 });
    const workers = workersOf(6);
    let current = currentOf(plan({ workers, tasks }));
    let totalMoves = 0;
    for (const w of workers) {
      const down = plan({ workers: workers.filter((x) => x !== w), tasks, current });
      assert.equal(down.moves, down.lowerBound);
      assert.equal(down.moves, 0);
      current = currentOf(down);
      const up = plan({ workers, tasks, current });
      assert.equal(up.moves, up.lowerBound);
      totalMoves += up.moves;
      current = currentOf(up);
    }
    // each return takes back about T/W tasks; no more
    assert.ok(totalMoves <= workers.length * Math.ceil(500 / workers.length), `total ${totalMoves}`);
  });

  it('5% task churn: new tasks fill the holes, moves equal the bound (zero for one group)', () => {
    const tasks = tasksOf(2000);
    const workers = workersOf(16);
    const before = plan({ workers, tasks });
    const churned = [...tasks.slice(100), ...tasksOf(100, { prefix: 'n' })];
    const r = plan({ workers, tasks: churned, current: currentOf(before) });
    assert.equal(r.moves, r.lowerBound);
    assert.equal(r.stats.orphans, 100);
    assert.ok(r.moves <= 16, `moves ${r.moves}`);

    const grouped = tasksOf(2000, { groups: 10 });
    const b2 = plan({ workers, tasks: grouped });
    const c2 = [...grouped.slice(100), ...tasksOf(100, { prefix: 'n', groups: 10 })];
    const r2 = plan({ workers, tasks: c2, current: currentOf(b2) });
    assert.equal(r2.moves, r2.lowerBound);
  });

  it('10% scale up then down: moves equal the bound both ways', () => {
    const tasks = tasksOf(3000, { groups: 6 });
    const workers = workersOf(20);
    const before = plan({ workers, tasks });
    const up = plan({ workers: [...workers, 'x1', 'x2'], tasks, current: currentOf(before) });
    assert.equal(up.moves, up.lowerBound);
    assert.ok(up.target.get('x1')!.length >= Math.floor(3000 / 22));
    const down = plan({ workers, tasks, current: currentOf(up) });
    assert.equal(down.moves, down.lowerBound);
    assert.equal(down.moves, 0);
  });

  it('groups smaller than W: per group and total balance at once', () => {
    const tasks = tasksOf(90, { groups: 30 }); // 3 tasks per group over 10 workers
    const r = plan({ workers: workersOf(10), tasks });
    assert.deepEqual(
      loads(r).sort((x, y) => x - y),
      new Array(10).fill(9),
    );
    assert.equal(r.stats.worstMaxMinPerGroup, 1);
  });

  it('one hot key: its tasks stay together; its worker exceeds the average only by the key’s size', () => {
    const tasks: Task[] = [
      ...Array.from({ length: 300 }, (_, i) => ({ id: `hot${i}`, key: 'hot' })),
      ...Array.from({ length: 300 }, (_, i) => ({ id: `k${i}`, key: `key${i % 100}` })),
      ...tasksOf(400),
    ];
    const workers = workersOf(8);
    const r = plan({ workers, tasks });
    const holders = new Set(
      [...r.target].filter(([, ts]) => ts.some((t) => t.key === 'hot')).map(([w]) => w),
    );
    assert.equal(holders.size, 1);
    const again = plan({ workers, tasks, current: currentOf(r) });
    assert.equal(again.moves, 0);
    const joined = plan({ workers: [...workers, 'new'], tasks, current: currentOf(r) });
    assert.ok(joined.target.get('new')!.length > 0);
  });

  it('join with keyed bundles: total balance as tight as bundles allow', () => {
    // four workers each hold one 2-task options bundle plus spot and futures tasks; w5 joins. Keyed loads
    // stay 2/2/2/2/0, so the unkeyed extras lean to w5: 5/5/5/5/4, not 6/5/5/5/3, every group within 1
    const coins = ['avax', 'btc', 'eth', 'link', 'sol', 'dot', 'xrp', 'ada', 'doge'];
    const spot = coins.map((c) => ({ id: `spot-${c}`, group: 'spot', priority: 10 }));
    const fut = ['dot', 'doge', 'sol', 'ada', 'btc', 'eth', 'xrp'].map((c) => ({
      id: `fut-${c}`,
      group: 'futures',
      priority: 5,
    }));
    const opt = ['eth', 'xrp', 'btc', 'sol'].flatMap((c) => [
      { id: `${c}-call`, group: 'options', key: c, priority: 1 },
      { id: `${c}-put`, group: 'options', key: c, priority: 1 },
    ]);
    const tasks: Task[] = [...spot, ...fut, ...opt];
    const current = {
      w1: ['spot-avax', 'spot-btc', 'spot-eth', 'fut-dot', 'eth-call', 'eth-put'],
      w2: ['spot-link', 'spot-sol', 'fut-doge', 'fut-sol', 'xrp-call', 'xrp-put'],
      w3: ['spot-dot', 'spot-xrp', 'fut-ada', 'fut-btc', 'btc-call', 'btc-put'],
      w4: ['spot-ada', 'spot-doge', 'fut-eth', 'fut-xrp', 'sol-call', 'sol-put'],
    };
    const workers = ['w1', 'w2', 'w3', 'w4', 'w5'];
    const r = plan({ workers, tasks, current });
    assert.deepEqual(
      loads(r).sort((x, y) => x - y),
      [4, 5, 5, 5, 5],
    );
    assert.equal(r.stats.maxMinTotal, 1);
    assert.equal(r.stats.worstMaxMinPerGroup, 1);
    assert.equal(r.target.get('w5')!.length, 4); // ⌊24/5⌋: what any join must move at least
    assert.equal(r.moves, 4);
    assert.equal(r.moves, r.lowerBound);
    assert.equal(r.stats.keyedMoves, 0);
    for (const w of ['w1', 'w2', 'w3', 'w4']) assert.ok(r.target.get(w)!.some((t) => t.key));
    const again = plan({ workers, tasks, current: currentOf(r) });
    assert.equal(again.moves, 0);
    assert.deepEqual(again.assign, []);
  });

  it('keyed tasks: same key on one worker, re-plans stable, split keys are reunited', () => {
    const tasks: Task[] = Array.from({ length: 120 }, (_, i) => ({ id: `t${i}`, key: `k${i % 40}` }));
    const workers = workersOf(5);
    // the original planner may have split keys: reunite them
    const current = new Map<string, string[]>();
    tasks.forEach((t, i) => {
      const w = workers[(i + Math.floor(i / 40)) % 5];
      current.set(w, [...(current.get(w) ?? []), t.id]);
    });
    const r = plan({ workers, tasks, current });
    assert.ok(r.lowerBound > 0);
    const again = plan({ workers, tasks, current: currentOf(r) });
    assert.equal(again.moves, 0);
    assert.deepEqual(shape(again), shape(r));
  });

  it('more workers than tasks: nobody gets two', () => {
    const r = plan({ workers: workersOf(20), tasks: tasksOf(7, { groups: 3 }) });
    assert.equal(Math.max(...loads(r)), 1);
  });

  it('zero tasks: everything held is revoked', () => {
    const r = plan({ workers: ['a', 'b'], tasks: [], current: { a: ['x', 'y'], gone: ['z'] } });
    assert.deepEqual(r.revoke, [
      { worker: 'a', id: 'x' },
      { worker: 'a', id: 'y' },
      { worker: 'gone', id: 'z' },
    ]);
    assert.deepEqual(r.assign, []);
    assert.deepEqual(loads(r), [0, 0]);
  });

  it('one worker: everything on it; zero workers: everything revoked, nothing assigned', () => {
    const tasks = tasksOf(50, { groups: 3 });
    const one = plan({ workers: ['only'], tasks, current: { old: ['t1'] } });
    assert.equal(one.target.get('only')!.length, 50);
    const none = plan({ workers: [], tasks, current: { only: ['t1', 't2'], old: ['t3'] } });
    assert.equal(none.target.size, 0);
    assert.deepEqual(none.assign, []);
    assert.equal(none.revoke.length, 3);
    assert.equal(none.moves, 0);
  });

  it('stale ids and dead workers are revoked; duplicate holders keep one copy', () => {
    const r = plan({
      workers: ['a', 'b'],
      tasks: tasksOf(4),
      current: { a: ['t0', 't1', 'old'], b: ['t1', 't2'], dead: ['t3'] },
    });
    assert.ok(r.revoke.some((x) => x.worker === 'a' && x.id === 'old'));
    assert.ok(r.revoke.some((x) => x.worker === 'dead' && x.id === 't3'));
    assert.equal(r.revoke.filter((x) => x.id === 't1').length, 1);
    assert.equal(r.moves, 0);
  });

  it('rejects duplicate task ids and worker names, naming them', () => {
    const tasks = [...tasksOf(3), { id: 't1' }, { id: 't2' }];
    assert.throws(
      () => rebalance({ workers: ['a'], tasks }),
      (err: unknown) =>
        err instanceof PlannerInputError &&
        /"t1"/.test(err.message) &&
        /"t2"/.test(err.message) &&
        err.details.taskIds?.join() === 't1,t2',
    );
    assert.throws(
      () => rebalance({ workers: ['a', 'b', 'a'], tasks: [] }),
      (err: unknown) => err instanceof PlannerInputError && /"a"/.test(err.message),
    );
  });

  it('no bias toward the first worker by name', () => {
    // one task, ten workers: which worker gets it depends on hashes, not on names sorting first
    const counts = new Map<string, number>();
    for (let i = 0; i < 200; i++) {
      const workers = workersOf(10, `n${i}-`);
      const r = rebalance({ workers, tasks: [{ id: 'only' }] });
      const [w] = [...r.target].find(([, ts]) => ts.length === 1)!;
      const rank = [...workers].sort().indexOf(w);
      counts.set(String(rank), (counts.get(String(rank)) ?? 0) + 1);
    }
    assert.ok(counts.size >= 8, `ranks chosen: ${[...counts].join(' ')}`);
    assert.ok(Math.max(...counts.values()) < 60, `ranks chosen: ${[...counts].join(' ')}`);
  });

  it('accepts current as a Map of iterables or a plain object, with the same result', () => {
    const tasks = tasksOf(30, { groups: 2 });
    const a = rebalance({ workers: ['a', 'b', 'c'], tasks, current: { a: ['t1', 't2'], b: ['t3'] } });
    const b = rebalance({
      workers: ['a', 'b', 'c'],
      tasks,
      current: new Map<string, Iterable<string>>([
        ['a', new Set(['t1', 't2'])],
        ['b', ['t3']],
      ]),
    });
    assert.deepEqual(shape(b), shape(a));
  });

  it('plans 100k tasks × 1,000 workers × 1,000 groups with exact balance and bound (no timing asserted)', () => {
    const tasks = tasksOf(100_000, { groups: 1000 });
    const workers = workersOf(1000);
    const before = rebalance({ workers, tasks });
    const r = rebalance({ workers: [...workers, 'new'], tasks, current: currentOf(before) });
    assert.equal(r.moves, r.lowerBound);
    assert.equal(r.stats.maxMinTotal, 1);
    assert.equal(r.stats.worstMaxMinPerGroup, 1);
    assert.equal(r.target.get('new')!.length, Math.floor(100_000 / 1001));
  });
});
