/**
 * The pure half of a schedule's write (src/scheduler/master/writes.ts): stored assignment → plan → txn
 * units → txns etcd accepts. Named cases for each rule, then a property test over real planner output
 * that applies the txns to the stored assignment and checks the result is the plan's target.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { rebalance } from '../src/planner/rebalance.js';
import { keys } from '../src/scheduler/keys.js';
import {
  batchUnits,
  MAX_BATCH_BYTES,
  opBytes,
  parseAssignment,
  planUnits,
  type TxnUnit,
  type WriteOp,
  writePhases,
} from '../src/scheduler/master/writes.js';
import { checkTxn } from '../src/store/memory-rules.js';
import { MAX_REQUEST_BYTES, MAX_TXN_OPS } from '../src/store/port.js';
import { encodeTask, type Task } from '../src/task.js';

const k = keys('app');
const put = (key: string, value = 'v'): WriteOp => ({ type: 'put', key, value });
const del = (key: string): WriteOp => ({ type: 'delete', key });
const bytesOf = (batch: readonly WriteOp[]) => batch.reduce((n, op) => n + opBytes(op), 0);
const fence = { key: '/app/election/694d7a1f', target: 'create' as const, op: '=' as const, value: 7 };

/** What etcd (as the memory store models it) says about a txn of `ops` under the fence: throws if refused. */
function etcdAccepts(ops: WriteOp[]): void {
  checkTxn([fence], ops, []);
}

/** The stored assignment as kvs, from worker → tasks. */
function storedKvs(held: Record<string, Task[]>, extra: { key: string; value: string }[] = []) {
  const kvs: { key: string; value: string }[] = [];
  for (const [w, ts] of Object.entries(held)) {
    for (const t of ts) kvs.push({ key: k.task(w, t.id), value: encodeTask(t) });
  }
  return [...kvs, ...extra];
}

describe('batchUnits: txns etcd accepts', () => {
  it(`puts at most ${MAX_TXN_OPS} ops in a txn, in order`, () => {
    const units = Array.from({ length: 300 }, (_, i) => [put(`/app/task/w/t${i}`)]);
    const batches = [...batchUnits(units)];
    assert.deepEqual(
      batches.map((b) => b.length),
      [128, 128, 44],
    );
    assert.deepEqual(batches.flat(), units.flat());
    for (const b of batches) etcdAccepts(b);
  });

  it('never splits a unit: a move that would be op 128 and 129 opens the next txn', () => {
    const units: TxnUnit[] = Array.from({ length: 127 }, (_, i) => [put(`/app/task/w/t${i}`)]);
    const move = [del('/app/task/a/m'), put('/app/task/b/m')];
    units.push(move, [put('/app/task/w/last')]);
    const batches = [...batchUnits(units)];
    assert.equal(batches.length, 2);
    assert.equal(batches[0].length, 127);
    assert.deepEqual(batches[1], [...move, put('/app/task/w/last')]);
  });

  it(`keeps a txn under ${MAX_BATCH_BYTES} bytes of keys and values (etcd: ${MAX_REQUEST_BYTES} per request)`, () => {
    const big = 'x'.repeat(600 * 1024);
    const units = Array.from({ length: 7 }, (_, i) => [put(`/app/task/w/big${i}`, big)]);
    const batches = [...batchUnits(units)];
    assert.deepEqual(
      batches.map((b) => b.length),
      [2, 2, 2, 1],
    );
    for (const b of batches) {
      assert.ok(bytesOf(b) <= MAX_BATCH_BYTES, `${bytesOf(b)} bytes`);
      etcdAccepts(b);
    }
    // The same values in one txn would be refused: the limit is real.
    assert.throws(() => etcdAccepts(units.flat()), /request is too large/);
  });

  it('a unit larger than the limits on its own gets a txn of its own', () => {
    const units = [[put('a')], [put('b', 'y'.repeat(100)), put('c', 'y'.repeat(100))], [put('d')]];
    const batches = [...batchUnits(units, { maxOps: 128, maxBytes: 150 })];
    assert.deepEqual(
      batches.map((b) => b.map((op) => op.key)),
      [['a'], ['b', 'c'], ['d']],
    );
  });

  it("keeps every op: writing each key once is the units' promise (planUnits), not filtered here", () => {
    const units = [[put('a')], [del('b'), put('c')], [del('d')]];
    assert.deepEqual([...batchUnits(units)], [[put('a'), del('b'), put('c'), del('d')]]);
  });

  it('packs lazily: a txn is made when the one before was taken', () => {
    let made = 0;
    function* units() {
      for (let i = 0; i < 1000; i++) {
        made++;
        yield [put(`/app/task/w/t${i}`)];
      }
    }
    const it = batchUnits(units());
    assert.equal(it.next().value?.length, 128);
    assert.equal(made, 129, 'one unit past the first txn, no more');
  });

  it('keeps priority order across txns', () => {
    const tasks: Task[] = Array.from({ length: 400 }, (_, i) => ({ id: `t${i}`, priority: i % 7 }));
    const plan = rebalance({ workers: ['w1', 'w2', 'w3'], tasks });
    const batches = [...batchUnits(planUnits(plan, parseAssignment([], k), k, new Set(['w1', 'w2', 'w3'])))];
    assert.ok(batches.length >= 4);
    const priorities = batches.flat().map((op) => {
      assert.equal(op.type, 'put');
      return JSON.parse((op as { value: string }).value).P as number;
    });
    for (let i = 1; i < priorities.length; i++) {
      assert.ok(
        priorities[i - 1] >= priorities[i],
        `put ${i} (P ${priorities[i]}) after P ${priorities[i - 1]}`,
      );
    }
  });
});

describe('planUnits: from the plan to txn units', () => {
  it('deletes malformed keys first, and only them among keys outside the layout', () => {
    const t1: Task = { id: 't1' };
    const extra = [
      { key: '/app/task/noslash', value: '{}' },
      { key: '/app/task//t9', value: '{}' },
      { key: '/app/task/w1/', value: '{}' },
      { key: '/app/task/w1/a/b', value: '{}' },
    ];
    const stored = parseAssignment(storedKvs({ w1: [t1] }, extra), k);
    assert.deepEqual(
      [...stored.malformed.keys()],
      extra.map((e) => e.key),
    );
    assert.deepEqual(
      [...(stored.current() as Map<string, Iterable<string>>)].map(([w, ids]) => [w, [...ids]]),
      [['w1', ['t1']]],
    );
    const plan = rebalance({ workers: ['w1'], tasks: [t1], current: stored.current() });
    const units = [...planUnits(plan, stored, k, new Set(['w1']))];
    assert.deepEqual(
      units,
      extra.map((e) => [del(e.key)]),
    );
  });

  it("puts a move's delete and put in one unit, and a dead worker's key in a unit of its own", () => {
    const ts: Task[] = Array.from({ length: 5 }, (_, i) => ({ id: `t${i}` }));
    // w1 holds five, w2 joined, dead holds t9 (still desired): t9 and two of w1's go to w2, two of them moves.
    const t9: Task = { id: 't9' };
    const stored = parseAssignment(storedKvs({ w1: ts, dead: [t9] }), k);
    const plan = rebalance({ workers: ['w1', 'w2'], tasks: [...ts, t9], current: stored.current() });
    assert.equal(plan.moves, 2);
    const units = [...planUnits(plan, stored, k, new Set(['w1', 'w2']))];
    const moves = units.filter((u) => u.length === 2);
    assert.equal(moves.length, 2);
    for (const [d, p] of moves) {
      assert.equal(d.type, 'delete');
      assert.equal(p.type, 'put');
      const id = p.key.split('/').pop();
      assert.equal(d.key, k.task('w1', id!));
      assert.equal(p.key, k.task('w2', id!));
    }
    assert.ok(
      units.some((u) => u.length === 1 && u[0].type === 'delete' && u[0].key === k.task('dead', 't9')),
    );
  });

  it('rewrites a task that stays where it is when its value changed, and only then', () => {
    const stored = parseAssignment(storedKvs({ w1: [{ id: 'a', priority: 1 }, { id: 'b' }] }), k);
    const tasks: Task[] = [{ id: 'a', priority: 2 }, { id: 'b' }];
    const plan = rebalance({ workers: ['w1'], tasks, current: stored.current() });
    assert.deepEqual(
      [...planUnits(plan, stored, k, new Set(['w1']))],
      [[put(k.task('w1', 'a'), encodeTask(tasks[0]))]],
    );
  });
});

/** A random schedule's input: live and dead workers, a messy stored assignment, desired tasks. */
const scheduleArb = fc
  .record({
    live: fc.integer({ min: 1, max: 6 }),
    dead: fc.integer({ min: 0, max: 2 }),
    tasks: fc.array(
      fc.record({
        priority: fc.integer({ min: -2, max: 3 }),
        key: fc.option(fc.integer({ min: 0, max: 4 }), { freq: 3 }),
        size: fc.oneof({ weight: 8, arbitrary: fc.constant(0) }, fc.integer({ min: 1, max: 700 * 1024 })),
        // where it is stored now: nowhere, or on one or two workers (a duplicate), with its old value or not
        held: fc.array(fc.integer({ min: 0, max: 7 }), { maxLength: 2 }),
        changed: fc.boolean(),
      }),
      { maxLength: 260 },
    ),
    stale: fc.integer({ min: 0, max: 40 }),
    malformed: fc.integer({ min: 0, max: 3 }),
  })
  .map(({ live, dead, tasks, stale, malformed }) => {
    const liveNames = Array.from({ length: live }, (_, i) => `w${i}`);
    const all = [...liveNames, ...Array.from({ length: dead }, (_, i) => `dead${i}`)];
    const desired: Task[] = [];
    const kvs = new Map<string, string>();
    tasks.forEach((t, i) => {
      const task: Task = {
        id: `t${i}`,
        priority: t.priority,
        key: t.key === null ? undefined : `k${t.key}`,
        raw: t.size > 0 ? new Uint8Array(t.size) : undefined,
      };
      desired.push(task);
      for (const h of t.held) {
        const old = t.changed ? { ...task, priority: (t.priority ?? 0) + 10 } : task;
        kvs.set(k.task(all[h % all.length], task.id), encodeTask(old));
      }
    });
    for (let i = 0; i < stale; i++) kvs.set(k.task(all[i % all.length], `stale${i}`), '{}');
    for (let i = 0; i < malformed; i++) kvs.set(`${k.taskPrefix}bad${i}`, '{}');
    return { workers: liveNames, desired, kvs };
  });

describe('plan → units → txns (property)', () => {
  it('txns within the limits, each key once, moves atomic, assignments in priority order, result = target', () => {
    fc.assert(
      fc.property(scheduleArb, ({ workers, desired, kvs }) => {
        const online = new Set(workers);
        const stored = parseAssignment(
          [...kvs].map(([key, value]) => ({ key, value })),
          k,
        );
        const plan = rebalance({ workers, tasks: desired, current: stored.current() });
        const writes = planUnits(plan, stored, k, online);
        const batches = [...batchUnits(writes)];

        const written = new Set<string>();
        const batchOf = new Map<string, number>();
        batches.forEach((batch, i) => {
          assert.ok(batch.length > 0 && batch.length <= MAX_TXN_OPS, `txn ${i}: ${batch.length} ops`);
          assert.ok(bytesOf(batch) <= MAX_BATCH_BYTES, `txn ${i}: ${bytesOf(batch)} bytes`);
          etcdAccepts(batch);
          for (const op of batch) {
            assert.ok(!written.has(op.key), `${op.key} written twice`);
            written.add(op.key);
            batchOf.set(`${op.type} ${op.key}`, i);
          }
        });

        // The guards' premise: the keys written that were stored when planned are the writes' storedKeys;
        // every other op is a put of a key absent then (guarded "create = 0").
        const storedKeys = new Set(writes.storedKeys());
        for (const op of batches.flat()) {
          if (kvs.has(op.key)) assert.ok(storedKeys.has(op.key), `${op.type} ${op.key} not in storedKeys`);
          else assert.ok(op.type === 'put' && !storedKeys.has(op.key), `${op.type} ${op.key}`);
        }

        // Applying the txns to the store gives exactly the plan's target, values included.
        const after = new Map(kvs);
        for (const op of batches.flat()) {
          if (op.type === 'put') after.set(op.key, op.value);
          else after.delete(op.key);
        }
        const expected = new Map<string, string>();
        for (const [w, ts] of plan.target) for (const t of ts) expected.set(k.task(w, t.id), encodeTask(t));
        assert.deepEqual(new Map([...after].sort()), new Map([...expected].sort()));

        // A task leaving a live worker for another: its delete and its put in the same txn.
        const assignedTo = new Map(plan.assign.map((a) => [a.task.id, a.worker]));
        for (const r of plan.revoke) {
          const to = assignedTo.get(r.id);
          if (to === undefined || !online.has(r.worker)) continue;
          const d = batchOf.get(`delete ${k.task(r.worker, r.id)}`);
          const p = batchOf.get(`put ${k.task(to, r.id)}`);
          assert.ok(
            d !== undefined && d === p,
            `move of ${r.id} ${r.worker}→${to}: delete in txn ${d}, put in ${p}`,
          );
        }

        // New assignments are written in the plan's order: highest priority first.
        const order = plan.assign.map((a) => batchOf.get(`put ${k.task(a.worker, a.task.id)}`)!);
        for (let i = 1; i < order.length; i++) assert.ok(order[i - 1] <= order[i]);
        const puts = batches
          .flat()
          .filter(
            (op) => op.type === 'put' && plan.assign.some((a) => k.task(a.worker, a.task.id) === op.key),
          );
        assert.deepEqual(
          puts.map((op) => op.key),
          plan.assign.map((a) => k.task(a.worker, a.task.id)),
        );
      }),
      { numRuns: 150, seed: 20261201 },
    );
  });

  it('batchUnits on any units: order kept, units whole, limits held unless a unit alone exceeds them', () => {
    const opArb = fc.record({
      type: fc.constantFrom<'put' | 'delete'>('put', 'delete'),
      key: fc.integer({ min: 0, max: 60 }).map((n) => `k${n}`),
      size: fc.integer({ min: 0, max: 80 }),
    });
    fc.assert(
      fc.property(
        fc.array(fc.array(opArb, { minLength: 1, maxLength: 3 }), { maxLength: 80 }),
        fc.integer({ min: 1, max: 8 }),
        fc.integer({ min: 20, max: 300 }),
        (raw, maxOps, maxBytes) => {
          const units: WriteOp[][] = raw.map((u) =>
            u.map((o) => (o.type === 'put' ? put(o.key, 'v'.repeat(o.size)) : del(o.key))),
          );
          const batches = [...batchUnits(units, { maxOps, maxBytes })];
          // Expected: every op of every unit, in order.
          const kept = units.filter((u) => u.length > 0);
          assert.deepEqual(batches.flat(), kept.flat());
          // Units whole: each kept unit lies inside one batch; a batch over a limit holds a single unit.
          let b = 0;
          let at = 0;
          const unitsPerBatch = batches.map(() => 0);
          for (const u of kept) {
            if (at === batches[b].length) {
              b++;
              at = 0;
            }
            assert.deepEqual(batches[b].slice(at, at + u.length), u);
            at += u.length;
            unitsPerBatch[b]++;
          }
          batches.forEach((batch, i) => {
            if (batch.length > maxOps || bytesOf(batch) > maxBytes) assert.equal(unitsPerBatch[i], 1);
          });
          // Greedy: a batch is closed only when the next unit would not fit.
          for (let i = 0; i + 1 < batches.length; i++) {
            const next = kept[unitsPerBatch.slice(0, i + 1).reduce((x, y) => x + y, 0)];
            const fits =
              batches[i].length + next.length <= maxOps && bytesOf(batches[i]) + bytesOf(next) <= maxBytes;
            assert.ok(!fits, `txn ${i} closed though the next unit fit`);
          }
        },
      ),
      { numRuns: 300, seed: 7 },
    );
  });
});

describe("writePhases: handoff 'none' writes a changed value as delete, then put", () => {
  it('splits only in-place rewrites into a delete now and the put in a second phase; moves and new keys stay', () => {
    const stored = parseAssignment(
      [
        { key: '/r/task/w1/a', value: 'old' },
        { key: '/r/task/w1/b', value: 'same' },
      ],
      keys('r'),
    );
    const units: TxnUnit[] = [
      [{ type: 'delete', key: '/r/task/w2/x' }],
      [
        { type: 'delete', key: '/r/task/w1/b' },
        { type: 'put', key: '/r/task/w3/b', value: 'same' },
      ],
      [{ type: 'put', key: '/r/task/w2/n', value: 'new' }],
      [{ type: 'put', key: '/r/task/w1/a', value: 'changed' }],
    ];
    assert.deepEqual(writePhases(units, stored, 'claim'), [units]);
    const [firstPhase, secondPhase, ...rest] = writePhases(units, stored, 'none');
    // In order: the second phase is what iterating the first set aside.
    const first = [...firstPhase];
    const second = [...secondPhase];
    assert.deepEqual(first, [units[0], units[1], units[2], [{ type: 'delete', key: '/r/task/w1/a' }]]);
    assert.deepEqual(second, [units[3]]);
    assert.equal(rest.length, 0);
    // Batched phase by phase, the delete and the put of one key never share a txn.
    const txns = [first, second].flatMap((p) => [...batchUnits(p)]);
    const i = txns.findIndex((t) => t.some((op) => op.type === 'delete' && op.key === '/r/task/w1/a'));
    const j = txns.findIndex((t) => t.some((op) => op.type === 'put' && op.key === '/r/task/w1/a'));
    assert.ok(i >= 0 && j > i, `delete in txn ${i}, put in txn ${j}`);
    const [onlyFirst, none] = writePhases(units.slice(0, 3), stored, 'none');
    assert.deepEqual([...onlyFirst], units.slice(0, 3));
    assert.deepEqual([...none], [], 'no rewrite, no second phase');
  });
});
