import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { solveExtras } from '../src/planner/extras.js';
import { extraBounds } from '../src/planner/levels.js';
import { type RebalanceInput, rebalance } from '../src/planner/rebalance.js';
import type { Task } from '../src/task.js';
import {
  bruteForceLowerBound,
  checkLevels,
  checkPlan,
  currentOf,
  shape,
  subsets,
} from './planner.helpers.js';

/** Random planner inputs: workers (some dead in `current`), tasks with groups/keys, a messy current. */
function inputArb(opts: {
  maxTasks: number;
  maxWorkers: number;
  keyed: boolean;
  duplicates?: boolean;
  maxGroups?: number;
}) {
  return fc
    .record({
      workers: fc.integer({ min: 0, max: opts.maxWorkers }),
      dead: fc.integer({ min: 0, max: 3 }),
      tasks: fc.array(
        fc.record({
          group: fc.integer({ min: 0, max: opts.maxGroups ?? 4 }),
          key: opts.keyed ? fc.option(fc.integer({ min: 0, max: 6 }), { freq: 2 }) : fc.constant(null),
          priority: fc.integer({ min: 0, max: 3 }),
        }),
        { maxLength: opts.maxTasks },
      ),
      stale: fc.integer({ min: 0, max: 3 }),
      seed: fc.integer(),
    })
    .map(({ workers, dead, tasks, stale, seed }) => {
      let s = seed >>> 0;
      const rnd = (n: number) => {
        s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
        return s % n;
      };
      const live = Array.from({ length: workers }, (_, i) => `w${i}`);
      const gone = Array.from({ length: dead }, (_, i) => `dead${i}`);
      const all = [...live, ...gone];
      const ts: Task[] = tasks.map((t, i) => ({
        id: `t${i}`,
        group: `g${t.group}`,
        key: t.key === null ? undefined : `k${t.key}`,
        priority: t.priority,
      }));
      const current = new Map<string, string[]>();
      if (all.length > 0) {
        for (const t of ts) {
          const r = rnd(10);
          if (r < 7) {
            const w = all[rnd(all.length)];
            current.set(w, [...(current.get(w) ?? []), t.id]);
            if (opts.duplicates && rnd(8) === 0) {
              const v = all[rnd(all.length)];
              if (!current.get(v)?.includes(t.id)) current.set(v, [...(current.get(v) ?? []), t.id]);
            }
          }
        }
        for (let i = 0; i < stale; i++) {
          const w = all[rnd(all.length)];
          current.set(w, [...(current.get(w) ?? []), `stale${i}`]);
        }
      }
      return { workers: live, tasks: ts, current } satisfies RebalanceInput;
    });
}

function shuffled<T>(xs: readonly T[], seed: number): T[] {
  const out = [...xs];
  let s = seed >>> 0 || 1;
  for (let i = out.length - 1; i > 0; i--) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    const j = (s >>> 0) % (i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

describe('planner properties', () => {
  it('every guarantee holds on random inputs (dead workers, stale ids, duplicate holders, keys)', () => {
    fc.assert(
      fc.property(inputArb({ maxTasks: 60, maxWorkers: 7, keyed: true, duplicates: true }), (input) => {
        checkPlan(input, rebalance(input));
      }),
      { numRuns: 400 },
    );
  });

  it('moves equal the brute-force minimum over all balanced quotas (unkeyed)', () => {
    fc.assert(
      fc.property(inputArb({ maxTasks: 14, maxWorkers: 4, keyed: false }), (input) => {
        const result = rebalance(input);
        checkPlan(input, result);
        const best = bruteForceLowerBound(input);
        assert.equal(result.lowerBound, best, 'lower bound is the true minimum');
        assert.equal(result.moves, best, 'moves equal the minimum');
      }),
      { numRuns: 400 },
    );
  });

  it('with keys, totals are as level as the groups allow: receivers ≤ M*, level ≥ m*, leveled when possible, moves = least over the quotas (brute force)', () => {
    let leveledCases = 0;
    let skewed = 0;
    fc.assert(
      fc.property(inputArb({ maxTasks: 16, maxWorkers: 4, keyed: true, maxGroups: 2 }), (input) => {
        const result = rebalance(input);
        checkPlan(input, result);
        if (input.workers.length === 0) return;
        const found = checkLevels(input, result);
        if (found.leveled) leveledCases++;
        if (result.stats.maxMinUnkeyed > 1) skewed++;
      }),
      { numRuns: 500 },
    );
    assert.ok(leveledCases > 100 && skewed > 10, `leveled ${leveledCases}, unkeyed skewed ${skewed}`);
  });

  it('a re-plan of its own output moves nothing and writes nothing', () => {
    fc.assert(
      fc.property(inputArb({ maxTasks: 60, maxWorkers: 7, keyed: true, duplicates: true }), (input) => {
        const first = rebalance(input);
        const again = rebalance({ ...input, current: currentOf(first) });
        assert.equal(again.moves, 0);
        assert.deepEqual(again.assign, []);
        assert.deepEqual(again.revoke, []);
        assert.deepEqual(shape(again), shape(first));
      }),
      { numRuns: 300 },
    );
  });

  it('same input, same output — whatever the order of workers, tasks and current', () => {
    fc.assert(
      fc.property(
        inputArb({ maxTasks: 50, maxWorkers: 6, keyed: true, duplicates: false }),
        fc.integer(),
        (input, seed) => {
          const a = rebalance(input);
          const b = rebalance(input);
          assert.deepEqual(b, a);
          const permuted: RebalanceInput = {
            workers: shuffled(input.workers, seed),
            tasks: shuffled(input.tasks, seed + 1),
            current: Object.fromEntries(
              shuffled([...(input.current as Map<string, string[]>)], seed + 2).map(([w, ids]) => [
                w,
                shuffled(ids, seed + 3),
              ]),
            ),
          };
          const c = rebalance(permuted);
          assert.deepEqual(shape(c), shape(a));
          assert.equal(c.moves, a.moves);
          assert.deepEqual(c.assign, a.assign);
          assert.deepEqual(c.revoke, a.revoke);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('a chain of random changes keeps every guarantee at every step', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ op: fc.integer({ min: 0, max: 4 }), n: fc.integer({ min: 1, max: 5 }) }), {
          minLength: 1,
          maxLength: 8,
        }),
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 1, max: 6 }),
        (ops, nTasks, nWorkers) => {
          let workers = Array.from({ length: nWorkers }, (_, i) => `w${i}`);
          let tasks: Task[] = Array.from({ length: nTasks }, (_, i) => ({ id: `t${i}`, group: `g${i % 3}` }));
          let next = nTasks;
          let nextWorker = nWorkers;
          let current = new Map<string, string[]>();
          for (const { op, n } of ops) {
            if (op === 0) workers = [...workers, ...Array.from({ length: n }, () => `w${nextWorker++}`)];
            else if (op === 1) workers = workers.slice(Math.min(n, workers.length - 1));
            else if (op === 2)
              tasks = [
                ...tasks,
                ...Array.from({ length: n }, () => ({ id: `t${next++}`, group: `g${next % 3}` })),
              ];
            else if (op === 3) tasks = tasks.slice(n);
            else workers = [...workers.slice(1), `w${nextWorker++}`];
            const input = { workers, tasks, current };
            const result = rebalance(input);
            checkPlan(input, result);
            assert.equal(result.moves, bruteForceIfSmall(input, result.moves));
            current = currentOf(result);
          }
        },
      ),
      { numRuns: 150 },
    );
  });
});

function bruteForceIfSmall(input: RebalanceInput, fallback: number): number {
  const groups = new Set(input.tasks.map((t) => t.group));
  if (input.workers.length > 5 || groups.size > 3 || input.tasks.length > 20) return fallback;
  return bruteForceLowerBound(input);
}

describe('the quota solver (extra units per group × worker)', () => {
  /** The most extras on good cells over every feasible placement, by enumeration. */
  function bruteForce(W: number, need: number[], good: number[][]): number {
    const R = need.reduce((x, y) => x + y, 0);
    const a = Math.floor(R / W);
    const extra = new Array(W).fill(0);
    let best = -1;
    const rec = (g: number, score: number) => {
      if (g === need.length) {
        if (extra.every((e) => e === a || e === a + 1)) best = Math.max(best, score);
        return;
      }
      for (const subset of subsets(W, need[g])) {
        for (const w of subset) extra[w]++;
        rec(g + 1, score + subset.filter((w) => good[g].includes(w)).length);
        for (const w of subset) extra[w]--;
      }
    };
    rec(0, 0);
    return best;
  }

  it('places the most extras on good cells, as the brute force does, and balances the totals', () => {
    const arb = fc.integer({ min: 1, max: 6 }).chain((W) =>
      fc.record({
        W: fc.constant(W),
        groups: fc.array(
          fc.record({
            need: fc.integer({ min: 0, max: W - 1 }),
            good: fc.uniqueArray(fc.integer({ min: 0, max: W - 1 }), { maxLength: W }),
          }),
          { minLength: 1, maxLength: 5 },
        ),
      }),
    );
    fc.assert(
      fc.property(arb, ({ W, groups }) => {
        const need = groups.map((g) => g.need);
        const good = groups.map((g) => g.good);
        const out = solveExtras({ workers: W, need, good });
        const R = need.reduce((x, y) => x + y, 0);
        const a = Math.floor(R / W);
        const extra = new Array(W).fill(0);
        let score = 0;
        out.forEach((ws, g) => {
          assert.equal(ws.length, need[g], `group ${g} gets exactly its extras`);
          assert.equal(new Set(ws).size, ws.length, `group ${g} on distinct workers`);
          for (const w of ws) {
            extra[w]++;
            if (good[g].includes(w)) score++;
          }
        });
        for (const e of extra) assert.ok(e === a || e === a + 1, `worker extras ${extra}`);
        assert.equal(score, bruteForce(W, need, good));
      }),
      { numRuns: 1500 },
    );
  });

  it('extraBounds: M* and m* as by brute force; the flow under [lo, hi] keeps the most (brute force)', () => {
    const arb = fc.integer({ min: 1, max: 5 }).chain((W) =>
      fc.record({
        base: fc.array(fc.integer({ min: 0, max: 6 }), { minLength: W, maxLength: W }),
        need: fc.array(fc.integer({ min: 0, max: W - 1 }), { minLength: 1, maxLength: 4 }),
        good: fc.array(fc.uniqueArray(fc.integer({ min: 0, max: W - 1 }), { maxLength: W }), {
          minLength: 4,
          maxLength: 4,
        }),
      }),
    );
    fc.assert(
      fc.property(arb, ({ base, need, good: good4 }) => {
        const good = need.map((_, g) => good4[g]);
        const W = base.length;
        const { lo, hi } = extraBounds(base, need);
        const R = need.reduce((x, y) => x + y, 0);
        const cap = need.filter((r) => r > 0).length;
        // every e vector a per-group-balanced placement can give
        const vectors: number[][] = [];
        const scores: number[] = []; // extras on good pairs
        const e = new Array(W).fill(0);
        const rec = (g: number, score: number) => {
          if (g === need.length) {
            vectors.push([...e]);
            scores.push(score);
            return;
          }
          for (const subset of subsets(W, need[g])) {
            for (const w of subset) e[w]++;
            rec(g + 1, score + subset.filter((w) => good[g].includes(w)).length);
            for (const w of subset) e[w]--;
          }
        };
        rec(0, 0);
        if (R === 0) {
          assert.deepEqual([...lo, ...hi], new Array(2 * W).fill(0));
          return;
        }
        const top = (x: number[]) => Math.max(...x.flatMap((v, w) => (v > 0 ? [base[w] + v] : [])));
        const M = Math.min(...vectors.map(top));
        assert.deepEqual(
          [...hi],
          base.map((b) => Math.max(0, Math.min(cap, M - b))),
          'hi = hi(M*)',
        );
        const under = vectors.filter((x) => x.every((v, w) => v <= hi[w]));
        const level = (x: number[]) => Math.min(M, ...x.flatMap((v, w) => (v < hi[w] ? [base[w] + v] : [])));
        const m = Math.max(...under.map(level));
        assert.deepEqual(
          [...lo],
          base.map((b, w) => Math.max(0, Math.min(m - b, hi[w]))),
          'lo = lo(m*)',
        );
        assert.ok(
          under.some((x) => x.every((v, w) => v >= lo[w])),
          'some placement fits [lo, hi]',
        );
        // and the flow finds the one with the most extras on good pairs
        const out = solveExtras({ workers: W, need, good, bounds: { lo, hi } });
        const got = new Array(W).fill(0);
        let score = 0;
        out.forEach((ws, g) => {
          assert.equal(new Set(ws).size, need[g]);
          for (const w of ws) got[w]++;
          score += ws.filter((w) => good[g].includes(w)).length;
        });
        const fits = (x: number[]) => x.every((v, w) => v >= lo[w] && v <= hi[w]);
        assert.equal(score, Math.max(...scores.filter((_, i) => fits(vectors[i]))), 'most on good pairs');
        assert.ok(fits(got), `e ${got} in [${[...lo]}, ${[...hi]}]`);
      }),
      { numRuns: 1500 },
    );
  });

  it('solves the case where a maximum good-only flow cannot be completed', () => {
    // W = 3, each group has 2 extras; A and B are good only on workers 0 and 1. Putting all four good
    // extras there leaves C with one worker of room and two extras to place: the optimum keeps 3, not 4.
    const out = solveExtras({ workers: 3, need: [2, 2, 2], good: [[0, 1], [0, 1], []] });
    const score = out[0].filter((w) => w < 2).length + out[1].filter((w) => w < 2).length;
    assert.equal(score, 3);
    assert.deepEqual(
      out.map((ws) => ws.length),
      [2, 2, 2],
    );
  });
});
