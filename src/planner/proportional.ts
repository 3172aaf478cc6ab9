/**
 * Unit-weight, unkeyed tasks on workers of unequal capacity: per-group and total proportional quotas
 * with the fewest moves, exactly.
 *
 * ## Problem
 * C = Σ c_w. Group g has T_g tasks; worker w's share of it is T_g·c_w/C and its quota q_gw is the floor
 * or the ceiling of that share (Σ_w q_gw = T_g). Write f_gw = ⌊T_g·c_w/C⌋: the r_g = T_g − Σ_w f_gw extra
 * units of g go to distinct workers among those whose share is fractional. In total, worker w's count
 * Σ_g q_gw should be ⌊T·c_w/C⌋ or ⌈T·c_w/C⌉: its extras e_w within lo_w = ⌊T·c_w/C⌋ − Σ_g f_gw and
 * hi_w = ⌈T·c_w/C⌉ − Σ_g f_gw. Such quotas always exist: the matrix of shares T_g·c_w/C has integer row
 * sums, and every real matrix can be rounded entry by entry to a neighbouring integer keeping every row
 * and column sum rounded too (Bacharach 1966, by the integrality of a flow). Should that ever fail here
 * the planner drops the total bounds and keeps the per-group ones (a flow short of R tells).
 *
 * A worker holding h tasks of g keeps min(h, q_gw); moves = Σ max(0, h − q_gw). As in `extras.ts` this is
 * minimised by placing the most extras on good cells (h > f_gw): a min-cost flow s → g (r_g) → w (1 per
 * fractional cell, cost 0 if good, 1 if not) → t (lo_w) or → hub (hi_w − lo_w) → t (R − Σ lo). A flow of
 * value R is a quota choice, its cost the extras that keep nothing, so the min-cost one has the fewest
 * moves over all quotas within the bounds; the moves it leads to are that lower bound. With capacities
 * all 1 this is the problem of `extras.ts`, solved there without listing the W × G cells.
 */
import { shares } from './capacity.js';
import type { IdIndex } from './ids.js';
import { FlowGraph } from './mcmf.js';
import { compareIds, moveWorstToEnd, sortByHash } from './order.js';

/** Places every group's tasks (fills `final`); returns the moves' lower bound (= the moves it makes). */
export function planProportional(
  W: number,
  cap: ArrayLike<number>,
  C: number,
  groups: readonly number[][],
  index: IdIndex,
  prio: Float64Array,
  holder: Int32Array,
  final: Int32Array,
): { lowerBound: number } {
  const G = groups.length;
  const floors: Float64Array[] = [];
  const fracs: Float64Array[] = [];
  let T = 0;
  const base = new Float64Array(W);
  const need = new Float64Array(G);
  const held = new Map<number, number>(); // g·W + w → held count, only cells with a held task
  for (let g = 0; g < G; g++) {
    const list = groups[g];
    T += list.length;
    const { floor, rem } = shares(list.length, cap, C);
    floors.push(floor);
    fracs.push(rem);
    let r = list.length;
    for (let w = 0; w < W; w++) {
      base[w] += floor[w];
      r -= floor[w];
    }
    need[g] = r;
    for (const t of list)
      if (holder[t] >= 0) held.set(g * W + holder[t], (held.get(g * W + holder[t]) ?? 0) + 1);
  }
  const total = shares(T, cap, C);
  const extras = solve(W, G, need, fracs, floors, held, total.floor, total.rem, base);

  // place each group's tasks on its quotas: holders keep their highest-priority tasks, the rest fill the
  // free quota in hash order
  const { ids, hash } = index;
  const byRank = (x: number, y: number) => prio[y] - prio[x] || hash[x] - hash[y] || compareIds(ids, x, y);
  let lowerBound = 0;
  const quota = new Float64Array(W);
  const kept = new Float64Array(W);
  for (let g = 0; g < G; g++) {
    quota.set(floors[g]);
    for (const w of extras[g]) quota[w]++;
    kept.fill(0);
    const byHolder = new Map<number, number[]>();
    const pending: number[] = [];
    for (const t of groups[g]) {
      const w = holder[t];
      if (w < 0) {
        pending.push(t);
        continue;
      }
      let cell = byHolder.get(w);
      if (!cell) {
        cell = [];
        byHolder.set(w, cell);
      }
      cell.push(t);
    }
    for (const [w, cell] of byHolder) {
      const q = quota[w];
      if (cell.length > q) {
        lowerBound += cell.length - q;
        if (cell.every((t) => prio[t] === prio[cell[0]])) sortByHash(cell, hash, ids);
        else moveWorstToEnd(cell, cell.length - q, byRank);
      }
      for (let i = 0; i < cell.length; i++) {
        if (i < q) {
          final[cell[i]] = w;
          kept[w]++;
        } else pending.push(cell[i]);
      }
    }
    sortByHash(pending, hash, ids);
    let p = 0;
    for (let w = 0; w < W && p < pending.length; w++) {
      while (kept[w] < quota[w] && p < pending.length) {
        final[pending[p++]] = w;
        kept[w]++;
      }
    }
  }
  return { lowerBound };
}

/** The min-cost choice of extras (see the module comment): per group, the workers taking one. */
function solve(
  W: number,
  G: number,
  need: Float64Array,
  fracs: Float64Array[],
  floors: Float64Array[],
  held: Map<number, number>,
  totalFloor: Float64Array,
  totalRem: Float64Array,
  base: Float64Array,
): number[][] {
  let R = 0;
  for (let g = 0; g < G; g++) R += need[g];
  const out: number[][] = Array.from({ length: G }, () => []);
  if (R === 0) return out;
  for (const withTotals of [true, false]) {
    const s = 0;
    const t = 1;
    const hub = 2;
    const graph = new FlowGraph(3 + G + W);
    const cells: [number, number, number][] = [];
    const degree = new Float64Array(W);
    for (let g = 0; g < G; g++) {
      if (need[g] === 0) continue;
      graph.addEdge(s, 3 + g, need[g], 0);
      const rem = fracs[g];
      const floor = floors[g];
      for (let w = 0; w < W; w++) {
        if (rem[w] === 0) continue;
        degree[w]++;
        const good = (held.get(g * W + w) ?? 0) > floor[w];
        cells.push([graph.addEdge(3 + g, 3 + G + w, 1, good ? 0 : 1), g, w]);
      }
    }
    let loSum = 0;
    for (let w = 0; w < W; w++) {
      let lo = 0;
      let hi = degree[w];
      if (withTotals) {
        lo = Math.max(0, Math.min(degree[w], totalFloor[w] - base[w]));
        hi = Math.max(lo, Math.min(degree[w], totalFloor[w] + (totalRem[w] > 0 ? 1 : 0) - base[w]));
      }
      if (lo > 0) graph.addEdge(3 + G + w, t, lo, 0);
      if (hi > lo) graph.addEdge(3 + G + w, hub, hi - lo, 0);
      loSum += lo;
    }
    if (loSum > R) continue;
    graph.addEdge(hub, t, R - loSum, 0);
    if (graph.minCostMaxFlow(s, t) < R) continue;
    for (const [e, g, w] of cells) if (graph.flowOn(e) > 0) out[g].push(w);
    return out;
  }
  throw new Error('planner: no way to place the extra units (internal error, please report)');
}
