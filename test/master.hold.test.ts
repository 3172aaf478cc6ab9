/** rebalanceHolding (issue 15): held workers keep their desired tasks, get nothing new, and no task is on two workers. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { rebalanceHolding } from '../src/scheduler/master/hold.js';
import type { Task } from '../src/task.js';

const tasks = (n: number): Task[] => Array.from({ length: n }, (_, i) => ({ id: `t${i}` }));
const ids = (list: readonly Task[] | undefined) => (list ?? []).map((t) => t.id).sort();

describe('rebalanceHolding', () => {
  it('a held worker that is not online keeps its tasks; the others are balanced without it', () => {
    const current = new Map([
      ['a', ['t0', 't1', 't2']],
      ['b', ['t3', 't4', 't5']],
      ['c', ['t6', 't7', 't8']],
    ]);
    const plan = rebalanceHolding({ workers: ['a', 'b'], tasks: tasks(12), current, held: new Set(['c']) });
    assert.deepEqual(ids(plan.held.get('c')), ['t6', 't7', 't8']);
    assert.deepEqual(ids(plan.target.get('c')), ['t6', 't7', 't8']);
    assert.equal(plan.moves, 0);
    assert.ok(
      plan.assign.every((a) => a.worker !== 'c'),
      'nothing new onto the held worker',
    );
    assert.ok(
      plan.revoke.every((r) => r.worker !== 'c'),
      'nothing off it',
    );
    assert.deepEqual([ids(plan.target.get('a')).length, ids(plan.target.get('b')).length].sort(), [4, 5]);
    const all = [...plan.target.values()].flatMap((l) => l.map((t) => t.id)).sort();
    assert.deepEqual(
      all,
      tasks(12)
        .map((t) => t.id)
        .sort(),
      'every task once',
    );
  });

  it('without held workers it is rebalance()', () => {
    const current = new Map([['a', ['t0', 't1', 't2', 't3']]]);
    const plan = rebalanceHolding({ workers: ['a', 'b'], tasks: tasks(4), current, held: new Set() });
    assert.equal(plan.moves, 2);
    assert.equal(plan.held.size, 0);
  });

  it('a task no longer desired is revoked from a held worker; a changed payload stays in its target', () => {
    const current = new Map([['c', ['t0', 'gone']]]);
    const desired: Task[] = [{ id: 't0', priority: 7 }, { id: 't1' }];
    const plan = rebalanceHolding({ workers: ['a'], tasks: desired, current, held: new Set(['c']) });
    assert.deepEqual(plan.revoke, [{ worker: 'c', id: 'gone' }]);
    assert.equal(plan.target.get('c')?.[0].priority, 7);
    assert.deepEqual(ids(plan.target.get('a')), ['t1']);
  });

  it('a copy of a held task on a planned worker is revoked; two held copies keep the first by name', () => {
    const current = new Map([
      ['a', ['t0', 't1']],
      ['c', ['t0']],
      ['d', ['t0', 't2']],
    ]);
    const plan = rebalanceHolding({ workers: ['a'], tasks: tasks(3), current, held: new Set(['c', 'd']) });
    assert.deepEqual(ids(plan.target.get('c')), ['t0']);
    assert.deepEqual(ids(plan.target.get('d')), ['t2']);
    assert.deepEqual(ids(plan.target.get('a')), ['t1']);
    const revoked = plan.revoke.map((r) => `${r.worker}/${r.id}`).sort();
    assert.deepEqual(revoked, ['a/t0', 'd/t0']);
  });

  it('an online held worker (a cordon) is left out of the plan and keeps its tasks', () => {
    const current = new Map([
      ['a', ['t0']],
      ['b', ['t1', 't2', 't3']],
    ]);
    const plan = rebalanceHolding({ workers: ['a', 'b'], tasks: tasks(6), current, held: new Set(['b']) });
    assert.deepEqual(ids(plan.target.get('b')), ['t1', 't2', 't3']);
    assert.deepEqual(ids(plan.target.get('a')), ['t0', 't4', 't5']);
  });
});
