import { dinic } from './dinic.js';
import { slotCapacities } from './levels.js';
import { PairSet } from './pairset.js';
import { ShortestPaths } from './paths.js';

/**
 * The joint per-group + total quota problem, solved exactly.
 *
 * ## Problem
 * W workers, groups g with T_g unkeyed tasks. Write T_g = f_g·W + r_g (0 ≤ r_g < W). A plan balanced per
 * group gives worker w either f_g or f_g + 1 tasks of g: q[w][g] = f_g + x[g][w] with x ∈ {0,1} and
 * Σ_w x[g][w] = r_g (the r_g "extra units" of g land on distinct workers). Write R = Σ_g r_g = a·W + b
 * (0 ≤ b < W). Worker w takes e_w = Σ_g x[g][w] extras, and its unkeyed load is Σ_g f_g + e_w.
 * The caller bounds them: lo_w ≤ e_w ≤ hi_w. Without keys (or with equal keyed loads) lo = a and hi = a + 1
 * (hi = a when b = 0): total balance (max − min ≤ 1) holds iff every e_w ∈ {a, a + 1}, i.e. exactly b
 * workers take a + 1. With unequal keyed loads `levels.ts` widens them so the totals level out.
 *
 * A worker holding h = held[w][g] tasks of g keeps min(h, q) of them; the rest must move. So moves =
 * Σ max(0, h − q), and minimising moves means maximising Σ min(h, q) = Σ min(h, f_g) + #{extras placed on a
 * "good" cell}, where a cell (g, w) is good iff h > f_g (only there does the extra unit keep a task).
 * The problem is therefore: choose x (row sums r_g, column sums in [lo_w, hi_w]) maximising the number of
 * extras on good cells.
 *
 * ## Flow model
 * s → g (capacity r_g), g → w (capacity 1, one per pair), w → t (capacity lo_w), w → h (capacity
 * hi_w − lo_w), h → t (capacity R − Σ lo). Total capacity into t is R = capacity out of s, so a flow of
 * value R saturates every w → t and h → t edge: every worker takes lo_w extras plus up to hi_w − lo_w more,
 * R in all. Integral flows of value R are exactly the feasible x. A value-R flow exists whenever some x
 * fits the bounds: for a, a + 1 lay the extras of the groups one after another round-robin over the
 * workers (as r_g < W, a group never hits a worker twice); `levels.ts` proves it for its bounds. Give
 * g → w cost 1 when the cell is NOT good, 0 when good; a min-cost flow of value R is then an optimal x,
 * and its cost is the number of extras on cells that keep nothing.
 *
 * ## Algorithm (successive shortest paths, started from a maximum good-only flow)
 * 1. Max flow using only the good cells: a greedy pass in rounds (one unit per group per round), then
 *    Dinic's algorithm on the sparse good graph (at most one edge per held cell) from that flow. A re-plan
 *    of our own output is completed by the greedy pass alone.
 *    Every unit of that flow costs 0, so it is a min-cost flow for its value, and its residual graph has
 *    no negative edge (good edges cost 0 both ways; no non-good edge carries flow yet).
 *    As it is a maximum flow on the cost-0 edges, no augmenting path of cost 0 is left: from here on,
 *    the shortest augmenting path costs ≥ 1.
 * 2. Successive shortest paths: augmenting a min-cost flow along a shortest s–t path keeps it min-cost
 *    for its new value, and shortest-path lengths never decrease (standard SSP theorems). Hence:
 *    a. a "direct" path s → g → w → t (or → h → t) through a non-good pair costs exactly 1, which is
 *       the least any path can cost now; so every direct path is a shortest path and can be taken
 *       greedily (round-robin over the workers, largest residual need first — this alone completes the
 *       flow in all common cases);
 *    b. when no direct path is left and flow < R, a phase: exact distances d from s by label correcting
 *       (costs −1, 0, 1; no negative cycle by the SSP invariant) over the implicit complete bipartite
 *       residual graph, then augmentations along paths of tight edges (d(v) = d(u) + cost) found by
 *       breadth-first search, until none is left; then the next phase. With d as potentials every
 *       residual edge has reduced cost ≥ 0 and a tight path has reduced cost 0, so each such path is a
 *       shortest one, and reverses of tight edges are tight, so d stays a valid potential.
 *    The final flow has value R and minimum cost: it maximises the extras on good cells, i.e. it
 *    minimises moves over all per-group-balanced quota assignments within the bounds (for a, a + 1: all
 *    per-group- and total-balanced ones). ∎
 *
 * Cost: Dinic on O(#held cells) edges; the direct fill is O(R + #cells + W) amortised; each search in 2b
 * is O(#groups + W + R) using per-distance buckets of unreached workers (a group scans only workers still
 * worse than its own distance + 1, skipping its own few taken/good pairs), so the implicit W × G pairs
 * are never enumerated.
 *
 * Where each step lives: 1 and 2a are `Residual.goodFlow` and `Residual.directFill` below (Dinic's
 * algorithm in `dinic.ts`), 2b is `ShortestPaths.phase` in `paths.ts`.
 */

/** Input of {@link solveExtras}. */
export interface ExtrasProblem {
  /** Number of workers W ≥ 1; workers are 0..W-1 (the caller orders them by hash). */
  workers: number;
  /** r_g per group, each 0 ≤ r_g < W. */
  need: ArrayLike<number>;
  /** Per group, its good workers (held > f_g), in the order to prefer them. */
  good: ArrayLike<number>[];
  /**
   * Per worker, the least and the most extra units it takes (lo_w ≤ e_w ≤ hi_w, Σ lo ≤ R ≤ Σ hi, and
   * some placement must fit them: `levels.ts` computes such bounds). Default: lo = a, hi = a + 1 (a when
   * W divides R), the per-group- and total-balanced quotas.
   */
  bounds?: { lo: ArrayLike<number>; hi: ArrayLike<number> };
}

/** Per group, the workers that receive one of its extra units (in no particular order). */
export type ExtrasSolution = number[][];

export function solveExtras(p: ExtrasProblem): ExtrasSolution {
  const W = p.workers;
  const G = p.need.length;
  let R = 0;
  for (let g = 0; g < G; g++) {
    const r = p.need[g];
    if (!(r >= 0 && r < W)) throw new RangeError(`extras: need ${r} of group ${g} not in [0, ${W})`);
    R += r;
  }
  const { regCap, hubCap, hubTotal } = slotCapacities(W, R, p.bounds);
  const state = new Residual(W, p.need, p.good, regCap, hubCap, hubTotal);
  if (R === 0) return state.result();
  state.goodFlow();
  if (state.missing > 0) state.directFill();
  if (state.missing > 0) {
    const paths = new ShortestPaths(state);
    while (state.missing > 0) {
      if (!paths.phase()) {
        throw new Error('planner: no way to place the extra units (internal error, please report)');
      }
    }
  }
  return state.result();
}

/** Flow state: which pairs carry an extra unit, plus the worker-side slots they use. */
export class Residual {
  /** Good pairs, flattened: group g's are goodW[goodOff[g] .. goodOff[g+1]). */
  readonly goodOff: Int32Array;
  readonly goodW: Int32Array;
  /** 1 when good pair i carries a unit (only until `taken` is built). */
  readonly goodUsed: Uint8Array;
  /** Pairs carrying a unit; built when the good-only flow is not enough. */
  taken: PairSet | undefined;
  /** Units of g placed so far. */
  readonly fill: Int32Array;
  /** Units of w on its lo_w regular slots (edge w → t). */
  readonly reg: Int32Array;
  /** Units of w on its hi_w − lo_w optional slots (edge w → h). */
  readonly hub: Int32Array;
  /** Units through h → t (capacity R − Σ lo). */
  hubUsed = 0;
  missing: number;

  constructor(
    readonly W: number,
    readonly need: ArrayLike<number>,
    good: ArrayLike<number>[],
    /** lo_w: the capacity of w → t. */
    readonly regCap: Int32Array,
    /** hi_w − lo_w: the capacity of w → h. */
    readonly hubCap: Int32Array,
    /** R − Σ lo: the capacity of h → t. */
    readonly hubTotal: number,
  ) {
    const G = need.length;
    this.goodOff = new Int32Array(G + 1);
    let n = 0;
    for (let g = 0; g < G; g++) {
      this.goodOff[g] = n;
      if (need[g] > 0) n += good[g].length;
    }
    this.goodOff[G] = n;
    this.goodW = new Int32Array(n);
    for (let g = 0; g < G; g++) if (need[g] > 0) this.goodW.set(good[g], this.goodOff[g]);
    this.goodUsed = new Uint8Array(n);
    this.fill = new Int32Array(G);
    this.reg = new Int32Array(W);
    this.hub = new Int32Array(W);
    let R = 0;
    for (let g = 0; g < G; g++) R += need[g];
    this.missing = R;
  }

  result(): ExtrasSolution {
    const out: ExtrasSolution = Array.from({ length: this.need.length }, () => []);
    if (this.taken)
      this.taken.forEach((g, w) => {
        out[g].push(w);
      });
    else {
      for (let g = 0; g < this.need.length; g++) {
        for (let i = this.goodOff[g]; i < this.goodOff[g + 1]; i++)
          if (this.goodUsed[i]) out[g].push(this.goodW[i]);
      }
    }
    return out;
  }

  private capacity(w: number): number {
    const spare = this.hubTotal - this.hubUsed;
    return this.regCap[w] - this.reg[w] + (spare > 0 ? Math.min(this.hubCap[w] - this.hub[w], spare) : 0);
  }

  /** Uses one slot of worker w (a regular one first); false when it has none left. */
  private useSlot(w: number): boolean {
    if (this.reg[w] < this.regCap[w]) this.reg[w]++;
    else if (this.hub[w] < this.hubCap[w] && this.hubUsed < this.hubTotal) {
      this.hub[w]++;
      this.hubUsed++;
    } else return false;
    return true;
  }

  /**
   * Step 1: a maximum flow over the good pairs only. A greedy pass first (enough when nothing changed:
   * a re-plan of our own output fills every unit on a good pair), then Dinic's algorithm from there.
   */
  goodFlow(): void {
    const { need, fill, goodOff, goodW, goodUsed } = this;
    const G = need.length;
    // in rounds, one unit per group per round, so that a shortfall is spread over many groups (which the
    // direct fill of step 2a then completes) instead of piling up on the last groups
    const next = goodOff.slice(0, G);
    const active: number[] = [];
    for (let g = 0; g < G; g++) if (need[g] > 0 && goodOff[g] < goodOff[g + 1]) active.push(g);
    while (active.length > 0) {
      let kept = 0;
      for (const g of active) {
        let i = next[g];
        while (i < goodOff[g + 1] && !this.useSlot(goodW[i])) i++;
        if (i === goodOff[g + 1]) continue;
        goodUsed[i] = 1;
        next[g] = i + 1;
        fill[g]++;
        this.missing--;
        if (fill[g] < need[g] && next[g] < goodOff[g + 1]) active[kept++] = g;
      }
      active.length = kept;
    }
    if (this.missing > 0) dinic(this);
    const taken = new PairSet(this.goodW.length + this.missing);
    for (let g = 0; g < G; g++) {
      for (let i = goodOff[g]; i < goodOff[g + 1]; i++) if (goodUsed[i]) taken.add(g, goodW[i]);
    }
    if (this.missing > 0) this.taken = taken;
  }

  /** Step 2a: every direct path s → g → w → t costs 1 = the current shortest length; take them greedily. */
  directFill(): void {
    const { W, need, fill } = this;
    const taken = this.taken!;
    const groups: number[] = [];
    for (let g = 0; g < need.length; g++) if (fill[g] < need[g]) groups.push(g);
    groups.sort((x, y) => need[y] - fill[y] - (need[x] - fill[x]) || x - y);
    let ring: number[] = [];
    for (let w = 0; w < W; w++) if (this.capacity(w) > 0) ring.push(w);
    let ptr = 0;
    let full = 0;
    for (const g of groups) {
      if (full * 2 > ring.length) {
        const next: number[] = [];
        let newPtr = 0;
        for (let i = 0; i < ring.length; i++) {
          if (this.capacity(ring[i]) === 0) continue;
          if (i < ptr) newPtr++;
          next.push(ring[i]);
        }
        ring = next;
        ptr = ring.length === 0 ? 0 : newPtr % ring.length;
        full = 0;
      }
      const L = ring.length;
      if (L === 0) break;
      let k = need[g] - fill[g];
      for (let scanned = 0; k > 0 && scanned < L; scanned++) {
        const w = ring[ptr];
        ptr = ptr + 1 === L ? 0 : ptr + 1;
        if (this.capacity(w) === 0 || taken.has(g, w)) continue;
        this.useSlot(w);
        taken.add(g, w);
        fill[g]++;
        this.missing--;
        if (this.capacity(w) === 0) full++;
        k--;
      }
    }
  }
}
