/** Shared checks for the planner tests: every guarantee of `rebalance`, verified from the outside. */
import assert from 'node:assert/strict';
import type { RebalanceInput, RebalanceResult } from '../src/planner/rebalance.js';
import type { Task } from '../src/task.js';

export type Current = Map<string, string[]>;

export function currentOf(result: RebalanceResult): Current {
  return new Map([...result.target].map(([w, ts]) => [w, ts.map((t) => t.id)]));
}

export function tasksOf(
  n: number,
  opts: { groups?: number; prefix?: string; priority?: (i: number) => number } = {},
): Task[] {
  const groups = opts.groups ?? 1;
  const prefix = opts.prefix ?? 't';
  return Array.from({ length: n }, (_, i) => ({
    id: `${prefix}${i}`,
    group: groups > 1 ? `g${i % groups}` : undefined,
    priority: opts.priority?.(i),
  }));
}

export function workersOf(n: number, prefix = 'w'): string[] {
  return Array.from({ length: n }, (_, i) => `${prefix}${i}`);
}

function spread(values: number[]): number {
  return values.length === 0 ? 0 : Math.max(...values) - Math.min(...values);
}

function entries(current: RebalanceInput['current']): [string, string[]][] {
  if (!current) return [];
  if (current instanceof Map) return [...current].map(([w, ids]) => [w, [...ids]]);
  return Object.entries(current).map(([w, ids]) => [w, [...ids]]);
}

/** Moves counted from the outside: desired tasks held by a live worker and targeted at another one. */
export function countMoves(input: RebalanceInput, result: RebalanceResult): number {
  const live = new Set(input.workers);
  const holders = new Map<string, Set<string>>();
  for (const [w, ids] of entries(input.current)) {
    if (!live.has(w)) continue;
    for (const id of ids) {
      let set = holders.get(id);
      if (!set) {
        set = new Set();
        holders.set(id, set);
      }
      set.add(w);
    }
  }
  let moves = 0;
  for (const [w, ts] of result.target) {
    for (const t of ts) {
      const set = holders.get(t.id);
      if (set && set.size > 0 && !set.has(w)) moves++;
    }
  }
  return moves;
}

/** Asserts every guarantee that holds for any input. */
export function checkPlan(input: RebalanceInput, result: RebalanceResult): void {
  const where = checkCoverage(input, result);
  if (input.workers.length > 0) checkCountBalance(input, result, where);
  checkDiff(input, result);
}

/** Target names every online worker and holds every desired task exactly once; returns id → worker. */
export function checkCoverage(input: RebalanceInput, result: RebalanceResult): Map<string, string> {
  const { workers, tasks } = input;
  const W = workers.length;
  // target covers exactly the online workers, every desired task exactly once
  assert.deepEqual([...result.target.keys()].sort(), [...workers].sort(), 'target names every online worker');
  const where = new Map<string, string>();
  for (const [w, ts] of result.target) {
    for (const t of ts) {
      assert.ok(!where.has(t.id), `task ${t.id} placed twice`);
      where.set(t.id, w);
    }
  }
  if (W > 0) assert.equal(where.size, tasks.length, 'every desired task placed');
  else assert.equal(where.size, 0);
  const byId = new Map(tasks.map((t) => [t.id, t]));
  for (const id of where.keys()) assert.ok(byId.has(id), `unknown task ${id} placed`);

  return where;
}

/** The count balance of the all-ones planner: per group, in total, keyed bounds. */
function checkCountBalance(input: RebalanceInput, result: RebalanceResult, where: Map<string, string>): void {
  const { workers, tasks } = input;
  const W = workers.length;
  {
    // unkeyed balance: per group and in total
    const unkeyedLoad = new Map(workers.map((w) => [w, 0]));
    const perGroup = new Map<string, Map<string, number>>();
    const keyWorker = new Map<string, Set<string>>();
    const bundleSize = new Map<string, number>();
    let K = 0;
    for (const t of tasks) {
      const w = where.get(t.id)!;
      if (t.key) {
        K++;
        bundleSize.set(t.key, (bundleSize.get(t.key) ?? 0) + 1);
        let s = keyWorker.get(t.key);
        if (!s) {
          s = new Set();
          keyWorker.set(t.key, s);
        }
        s.add(w);
        continue;
      }
      unkeyedLoad.set(w, unkeyedLoad.get(w)! + 1);
      const g = t.group ?? '';
      let m = perGroup.get(g);
      if (!m) {
        m = new Map(workers.map((x) => [x, 0]));
        perGroup.set(g, m);
      }
      m.set(w, m.get(w)! + 1);
    }
    // without keys the unkeyed load is the total: max − min ≤ 1; with keys the unkeyed extras lean
    // toward the workers with less keyed load (see checkLevels), so only per-group balance is exact
    if (K === 0) {
      assert.ok(
        spread([...unkeyedLoad.values()]) <= 1,
        `unkeyed total spread ${spread([...unkeyedLoad.values()])}`,
      );
    }
    for (const [g, m] of perGroup) assert.ok(spread([...m.values()]) <= 1, `group ${g} spread`);
    // keyed: one worker per key, bounded load
    const keyedLoad = new Map(workers.map((w) => [w, 0]));
    const largest = new Map(workers.map((w) => [w, 0]));
    for (const [key, set] of keyWorker) {
      assert.equal(set.size, 1, `key ${key} split over ${[...set].join(', ')}`);
      const w = [...set][0];
      const size = bundleSize.get(key)!;
      keyedLoad.set(w, keyedLoad.get(w)! + size);
      largest.set(w, Math.max(largest.get(w)!, size));
    }
    const cap = Math.ceil(K / W);
    const S = Math.max(1, ...bundleSize.values());
    for (const w of workers) {
      assert.ok(
        keyedLoad.get(w)! >= Math.floor(K / W) - (S - 1),
        `keyed load ${keyedLoad.get(w)} of ${w} below ⌊K/W⌋ − (largest bundle − 1)`,
      );
      if (keyedLoad.get(w)! === 0) continue;
      assert.ok(
        keyedLoad.get(w)! <= cap - 1 + largest.get(w)!,
        `keyed load ${keyedLoad.get(w)} of ${w} above ⌈K/W⌉ − 1 + largest bundle = ${cap - 1 + largest.get(w)!}`,
      );
    }
    // total load: never above ⌈T/W⌉ + S (S the largest bundle; planner/levels.ts)
    const T = tasks.length;
    for (const w of workers) {
      const total = keyedLoad.get(w)! + unkeyedLoad.get(w)!;
      assert.ok(total <= Math.ceil(T / W) + S, `total ${total} of ${w} above ⌈T/W⌉ + S`);
    }
    // stats agree
    assert.equal(result.stats.maxMinUnkeyed, spread([...unkeyedLoad.values()]));
  }
}

/**
 * The diff turns current into target, assignments come highest priority first, moves counted from the
 * outside equal `moves`; and, without live copies, moves ≥ lower bound and unkeyed moves = their bound.
 */
export function checkDiff(input: RebalanceInput, result: RebalanceResult): void {
  const { workers } = input;
  // the diff turns current into target
  const live = new Set(workers);
  const state = new Map<string, Set<string>>();
  for (const [w, ids] of entries(input.current)) {
    let s = state.get(w);
    if (!s) {
      s = new Set();
      state.set(w, s);
    }
    for (const id of ids) s.add(id);
  }
  for (const r of result.revoke) {
    assert.ok(state.get(r.worker)?.has(r.id), `revoke of ${r.worker}/${r.id} that is not held`);
    state.get(r.worker)!.delete(r.id);
  }
  for (const a of result.assign) {
    assert.ok(live.has(a.worker), `assign to dead worker ${a.worker}`);
    let s = state.get(a.worker);
    if (!s) {
      s = new Set();
      state.set(a.worker, s);
    }
    assert.ok(!s.has(a.task.id), `assign of ${a.worker}/${a.task.id} already held`);
    s.add(a.task.id);
  }
  for (const [w, s] of state) {
    if (!live.has(w)) {
      assert.equal(s.size, 0, `dead worker ${w} keeps ${[...s].join(',')}`);
      continue;
    }
    assert.deepEqual([...s].sort(), (result.target.get(w) ?? []).map((t) => t.id).sort(), `diff of ${w}`);
  }
  // assignments highest priority first, ties by id
  for (let i = 1; i < result.assign.length; i++) {
    const p = result.assign[i - 1].task;
    const q = result.assign[i].task;
    const pp = p.priority ?? 0;
    const qp = q.priority ?? 0;
    assert.ok(pp > qp || (pp === qp && p.id < q.id), `assign order at ${i}`);
  }
  // moves, counted from the outside, and the lower bound
  assert.equal(result.moves, countMoves(input, result), 'moves');
  // (a task held by several live workers is planned from one of them: the bound is then approximate)
  if (!hasLiveCopies(input)) {
    assert.ok(result.moves >= result.lowerBound, 'moves ≥ lower bound');
    if (result.stats.mode === 'weighted') return; // no exact bound there: the moved weight is bounded instead
    assert.equal(
      result.stats.unkeyedMoves,
      result.stats.unkeyedLowerBound,
      'unkeyed moves equal the lower bound',
    );
  }
}

function hasLiveCopies(input: RebalanceInput): boolean {
  const live = new Set(input.workers);
  const seen = new Set<string>();
  for (const [w, ids] of entries(input.current)) {
    if (!live.has(w)) continue;
    for (const id of new Set(ids)) {
      if (seen.has(id)) return true;
      seen.add(id);
    }
  }
  return false;
}

/**
 * The least moves of unkeyed tasks over every per-group- and total-balanced quota, by enumeration (small
 * inputs only). Assumes no task is held by two live workers.
 */
export function bruteForceLowerBound(input: RebalanceInput): number {
  const W = input.workers.length;
  if (W === 0) return 0;
  const widx = new Map(input.workers.map((w, i) => [w, i]));
  const groups = new Map<string, string[]>();
  for (const t of input.tasks) {
    if (t.key) continue;
    const g = t.group ?? '';
    let l = groups.get(g);
    if (!l) {
      l = [];
      groups.set(g, l);
    }
    l.push(t.id);
  }
  const holder = new Map<string, number>();
  for (const [w, ids] of entries(input.current)) {
    const i = widx.get(w);
    if (i === undefined) continue;
    for (const id of ids) holder.set(id, i);
  }
  const gs = [...groups.values()];
  const held = gs.map((ids) => {
    const h = new Array(W).fill(0);
    for (const id of ids) if (holder.has(id)) h[holder.get(id)!]++;
    return h;
  });
  const f = gs.map((ids) => Math.floor(ids.length / W));
  const r = gs.map((ids) => ids.length % W);
  const R = r.reduce((x, y) => x + y, 0);
  const a = Math.floor(R / W);
  let best = Number.POSITIVE_INFINITY;
  const extra = new Array(W).fill(0);
  const rec = (g: number, cost: number) => {
    if (g === gs.length) {
      if (extra.every((e) => e === a || e === a + 1)) best = Math.min(best, cost);
      return;
    }
    for (const subset of subsets(W, r[g])) {
      let c = cost;
      for (let w = 0; w < W; w++) {
        const q = f[g] + (subset.includes(w) ? 1 : 0);
        c += Math.max(0, held[g][w] - q);
      }
      for (const w of subset) extra[w]++;
      rec(g + 1, c);
      for (const w of subset) extra[w]--;
    }
  };
  rec(0, 0);
  return best;
}

export function subsets(n: number, k: number): number[][] {
  const out: number[][] = [];
  const cur: number[] = [];
  const go = (start: number) => {
    if (cur.length === k) {
      out.push([...cur]);
      return;
    }
    for (let i = start; i < n; i++) {
      cur.push(i);
      go(i + 1);
      cur.pop();
    }
  };
  go(0);
  return out;
}

/** Target as worker → sorted ids, for comparing plans. */
export function shape(result: RebalanceResult): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [w, ts] of [...result.target].sort(([x], [y]) => (x < y ? -1 : 1))) {
    out[w] = ts.map((t) => t.id).sort();
  }
  return out;
}

/**
 * The balance of totals with keys, by enumeration (small inputs only; no task held by two live workers).
 * Given the keyed loads k_w of `result`, base_w = k_w + F (F = Σ_g ⌊T_g/W⌋) and every per-group-balanced
 * choice of the unkeyed extras (r_g = T_g mod W units of group g on distinct workers, e_w per worker):
 * - M* = the least, over all choices, of the highest total reached by a worker that takes an extra;
 * - with hi_w = clamp(M* − base_w, 0, #groups with extras), the level of a choice under hi is the lowest
 *   total among workers below their hi; m* = the highest level (at most M*);
 * - the quota set: the choices with lo_w ≤ e_w ≤ hi_w, lo_w = clamp(m* − base_w, 0, hi_w); minMoves = the
 *   least unkeyed moves over it;
 * - leveled: whether some choice makes every total L or L + 1.
 * Asserts the plan meets them: its receivers end ≤ M*, its level is ≥ m*, its unkeyed moves and lower
 * bound equal minMoves, and it is leveled when some choice is. Returns what it found.
 */
export function checkLevels(
  input: RebalanceInput,
  result: RebalanceResult,
): { M: number; m: number; leveled: boolean; minMoves: number } {
  const W = input.workers.length;
  const wi = new Map(input.workers.map((w, i) => [w, i]));
  const where = new Map<string, number>();
  for (const [w, ts] of result.target) for (const t of ts) where.set(t.id, wi.get(w)!);
  const holder = new Map<string, number>();
  for (const [w, ids] of entries(input.current)) {
    const i = wi.get(w);
    if (i !== undefined) for (const id of ids) holder.set(id, i);
  }
  const keyed = new Array(W).fill(0);
  const groups = new Map<string, string[]>();
  for (const t of input.tasks) {
    if (t.key) {
      keyed[where.get(t.id)!]++;
      continue;
    }
    const g = t.group ?? '';
    groups.set(g, [...(groups.get(g) ?? []), t.id]);
  }
  const gs = [...groups.values()];
  const f = gs.map((ids) => Math.floor(ids.length / W));
  const r = gs.map((ids) => ids.length % W);
  const F = f.reduce((x, y) => x + y, 0);
  const cap = r.filter((x) => x > 0).length;
  const base = keyed.map((k) => k + F);
  const held = gs.map((ids) => {
    const h = new Array(W).fill(0);
    for (const id of ids) if (holder.has(id)) h[holder.get(id)!]++;
    return h;
  });
  // every choice: e per worker and its unkeyed moves
  const choices: { e: number[]; moves: number }[] = [];
  const e = new Array(W).fill(0);
  const rec = (g: number, moves: number) => {
    if (g === gs.length) {
      choices.push({ e: [...e], moves });
      return;
    }
    for (const subset of subsets(W, r[g])) {
      let c = moves;
      for (let w = 0; w < W; w++) c += Math.max(0, held[g][w] - f[g] - (subset.includes(w) ? 1 : 0));
      for (const w of subset) e[w]++;
      rec(g + 1, c);
      for (const w of subset) e[w]--;
    }
  };
  rec(0, 0);
  const top = (x: number[]) =>
    Math.max(Number.NEGATIVE_INFINITY, ...x.flatMap((v, w) => (v > 0 ? [base[w] + v] : [])));
  const M = Math.min(...choices.map((c) => top(c.e)));
  const hi = base.map((b) => Math.max(0, Math.min(cap, M - b)));
  const levelOf = (x: number[]) => Math.min(M, ...x.flatMap((v, w) => (v < hi[w] ? [base[w] + v] : [])));
  const under = choices.filter((c) => c.e.every((v, w) => v <= hi[w]));
  const m = Math.max(...under.map((c) => levelOf(c.e)));
  const lo = base.map((b, w) => Math.max(0, Math.min(m - b, hi[w])));
  const quota = under.filter((c) => c.e.every((v, w) => v >= lo[w]));
  const minMoves = Math.min(...quota.map((c) => c.moves));
  const leveled = choices.some((c) => spread(c.e.map((v, w) => base[w] + v)) <= 1);

  // the plan's own choice
  const ours = new Array(W).fill(0);
  const names = [...groups.keys()];
  for (let g = 0; g < gs.length; g++) {
    const count = new Array(W).fill(0);
    for (const id of gs[g]) count[where.get(id)!]++;
    for (let w = 0; w < W; w++) if (count[w] > f[g]) ours[w]++;
    assert.equal(count.filter((c) => c > f[g]).length, r[g], `group ${names[g]}: r_g extras`);
  }
  const totals = ours.map((v, w) => base[w] + v);
  if (R(r) > 0) {
    assert.ok(top(ours) <= M, `a receiver ends at ${top(ours)} > M* = ${M} (totals ${totals})`);
    assert.ok(levelOf(ours) >= m, `level ${levelOf(ours)} < m* = ${m} (totals ${totals})`);
  }
  if (leveled) assert.ok(spread(totals) <= 1, `totals ${totals} not leveled though some choice is`);
  assert.equal(result.stats.unkeyedMoves, minMoves, 'unkeyed moves = least over the quota set');
  assert.equal(result.stats.unkeyedLowerBound, minMoves, 'unkeyed lower bound = least over the quota set');
  return { M, m, leveled, minMoves };
}

function R(r: number[]): number {
  return r.reduce((x, y) => x + y, 0);
}
