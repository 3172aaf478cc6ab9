/**
 * Weighted bundles on workers of unequal capacity, balanced in total only: the fallback of `weighted`
 * mode when the per-group placement of `grouped.ts` declines (see there and `unequal.ts`). Every task
 * belongs to a bundle: the tasks sharing a key, or a task alone. A bundle's weight is the sum of its
 * tasks' weights; a worker's load is the sum of its bundles' weights.
 *
 * ## Quotas
 * K = total weight, C = total capacity, fair share of worker w: K·c_w/C. Quota Q_w is ⌊K·c_w/C⌋ or
 * ⌈K·c_w/C⌉, Σ Q_w = K (the ceilings go to workers whose share is fractional, those holding the most
 * weight first). With S the heaviest bundle and s_w the heaviest on w, every plan satisfies
 *
 *   load(w) ≤ Q_w − 1 + s_w < fair_w + s_w       — nobody exceeds its fair share by its heaviest bundle
 *   load(w) ≥ Q_w − (S − 1) > fair_w − S         — nobody falls below its fair share by the heaviest one
 *
 * (with weights and capacities all 1, these are the keyed bounds of `keyed.ts`).
 *
 * ## How, and the proof
 * A bundle belongs to the live worker holding most of its weight. If the held bundles already meet both
 * bounds (none split or partly orphaned), nothing moves: as every plan meets them, a re-plan of the
 * planner's own output moves nothing. Otherwise:
 * 1. keep: a worker whose bundles fit its quota keeps them all. Otherwise it sheds, heaviest first, every
 *    bundle not heavier than the excess still to shed (few moves for the weight), and if some excess is
 *    left, the lightest bundle it kept (heavier than that rest): what it keeps then fits its quota. A bundle
 *    heavier than the quota is kept alone instead, and only when max_w Q_w < S;
 * 2. place: the rest, heaviest first, each on the worker with the largest deficit Q_w − load(w) (its
 *    current holder among equals); bundles of weight 1 go, once only they are left, to their holder if it
 *    is below its quota, else to any worker below its quota (a deficit ≥ 1: no overshoot, as below).
 * Upper bound: keep never exceeds Q_w except with one bundle and Q_w ≥ 1; while bundles remain, the deficits
 * sum to the weight still to place, so the chosen deficit is ≥ 1 and the bundle lands on a load ≤ Q_w − 1
 * (a weight-1 bundle on any deficit ≥ 1: the same).
 * Lower bound: if max Q < S, load ≥ 0 ≥ Q_w − (S − 1). Otherwise no keep exceeds a quota; suppose some w
 * ends with deficit ≥ S. Deficits only shrink, so the largest deficit was ≥ S ≥ the bundle's weight at every
 * placement: no placement overshoots (a weight-1 bundle never does), every final deficit is ≥ 0 and they sum to 0, so all are 0 — a
 * contradiction. ∎
 *
 * ## Moves
 * Let F_w be the full weight of the bundles w owns (holds most of) and H_w ≤ F_w the part it holds. When
 * F_w ≤ Q_w, w keeps all of them. Otherwise the heaviest-first pass sheds at most the excess F_w − Q_w,
 * and the last bundle shed (if any) less than S more, so it sheds < F_w − Q_w + S (keeping one hot bundle
 * alone sheds less), of which it held at most H_w. So the weight that moves
 * (orphans are not moves; split bundles force their minority part to move) is at most
 *   Σ_{w : F_w > Q_w} min(H_w, F_w − Q_w + S − 1)  +  the split bundles' minority weight,
 * while Σ (F_w − Q_w)⁺ (bundles fully held) is the least any plan with these quotas must move. A join of
 * a worker of capacity c lowers the others' quotas by about K·c/C in all, so it moves about K·c/C, plus
 * at most S − 1 per worker over its new quota; a leave orphans the leaver's bundles (not moves) and raises
 * the other quotas, so only split bundles move weight. `stats.movedWeightBound` is this bound for the
 * input (when the held bundles already meet the bounds, nothing moves).
 */

import { shares } from './capacity.js';
import { QuotaHeap, tieBefore } from './pick.js';

/**
 * The bundles, flattened: bundle b holds tasks `tasks[start[b] .. start[b + 1])`, weighs `weight[b]`, and
 * `hash[b]` (its key's hash, or its task's) and `firstId[b]` break ties.
 */
export interface WeightedBundles {
  count: number;
  start: Int32Array;
  tasks: Int32Array;
  weight: Float64Array;
  hash: Uint32Array;
  firstId: string[];
}

export interface WeightedPlan {
  /** Owner (worker index) per bundle. */
  owner: Int32Array;
  /** Tasks that must move because their bundle is split among live workers. */
  forcedMoves: number;
  /** The bound on the moved weight stated in the module comment. */
  movedWeightBound: number;
}

/** Bundle order for ties: hash, then the first task's id (so the input order never matters). */
export function tie(b: WeightedBundles, x: number, y: number): number {
  if (b.hash[x] !== b.hash[y]) return b.hash[x] - b.hash[y];
  const p = b.firstId[x];
  const q = b.firstId[y];
  return p < q ? -1 : p > q ? 1 : 0;
}

/**
 * Places bundles on workers 0..W-1 (W ≥ 1) of capacities `cap` (total C), `held` saying who holds them
 * now ({@link holdings}); `workerHash` breaks ties.
 */
export function planWeighted(
  W: number,
  cap: ArrayLike<number>,
  C: number,
  bundles: WeightedBundles,
  held: Holdings,
  workerHash: Uint32Array,
): WeightedPlan {
  const B = bundles.count;
  const { weight } = bundles;
  const owner = new Int32Array(B).fill(-1);
  if (B === 0) return { owner, forcedMoves: 0, movedWeightBound: 0 };
  let S = 0;
  let K = 0;
  for (let i = 0; i < B; i++) {
    K += weight[i];
    if (weight[i] > S) S = weight[i];
  }

  const { heldBy, heldWeight, forcedMoves, splitWeight } = held;

  // bundles per current owner (counting sort by owner)
  const ownStart = new Int32Array(W + 1);
  const heldTotal = new Float64Array(W);
  const full = new Float64Array(W);
  for (let i = 0; i < B; i++) {
    const w = heldBy[i];
    if (w < 0) continue;
    ownStart[w + 1]++;
    heldTotal[w] += heldWeight[i];
    full[w] += weight[i];
  }
  for (let w = 0; w < W; w++) ownStart[w + 1] += ownStart[w];
  const owned = new Int32Array(ownStart[W]);
  const fillPos = ownStart.slice(0, W);
  for (let i = 0; i < B; i++) if (heldBy[i] >= 0) owned[fillPos[heldBy[i]]++] = i;

  // quotas: ⌊fair⌋, and ⌈fair⌉ for the fractional shares holding the most weight, Σ = K
  const { floor, rem } = shares(K, cap, C);
  const quota = Float64Array.from(floor);
  let extra = K;
  for (let w = 0; w < W; w++) extra -= floor[w];
  if (extra > 0) {
    const order: number[] = [];
    for (let w = 0; w < W; w++) if (rem[w] > 0) order.push(w);
    order.sort((x, y) => heldTotal[y] - heldTotal[x] || workerHash[x] - workerHash[y] || x - y);
    for (let i = 0; i < extra; i++) quota[order[i]]++;
  }
  let maxQ = 0;
  for (let w = 0; w < W; w++) if (quota[w] > maxQ) maxQ = quota[w];
  // the bound on the moved weight: a worker whose bundles (at full weight F_w) fit its quota sheds nothing
  let movedWeightBound = splitWeight;
  for (let w = 0; w < W; w++) {
    if (full[w] > quota[w]) movedWeightBound += Math.min(heldTotal[w], full[w] - quota[w] + S - 1);
  }

  if (isStable(W, B, weight, heldWeight, owned, ownStart, floor, rem, S)) {
    for (let i = 0; i < B; i++) owner[i] = heldBy[i];
    return { owner, forcedMoves, movedWeightBound };
  }

  // 1. keep
  const load = new Float64Array(W);
  const hotKeep = maxQ < S;
  for (let w = 0; w < W; w++) {
    const a = ownStart[w];
    const e = ownStart[w + 1];
    if (a === e || quota[w] === 0) continue;
    if (full[w] <= quota[w]) {
      for (let j = a; j < e; j++) owner[owned[j]] = w;
      load[w] = full[w];
      continue;
    }
    const list = Array.from(owned.subarray(a, e));
    // heaviest first; among equals the less held one is shed first, then by hash
    list.sort((x, y) => weight[y] - weight[x] || heldWeight[x] - heldWeight[y] || tie(bundles, x, y));
    if (hotKeep && weight[list[0]] > quota[w]) {
      owner[list[0]] = w; // kept alone (the lower bound holds trivially when max Q < S)
      load[w] = weight[list[0]];
      continue;
    }
    let excess = full[w] - quota[w];
    let lightestKept = -1;
    for (const i of list) {
      if (weight[i] <= excess) {
        excess -= weight[i];
        continue;
      }
      owner[i] = w;
      load[w] += weight[i];
      lightestKept = i; // the list is heaviest first: the last kept is the lightest
    }
    if (excess > 0 && lightestKept >= 0) {
      owner[lightestKept] = -1;
      load[w] -= weight[lightestKept];
    }
  }

  // 2. place the rest, heaviest first: by weight buckets, each in tie order
  const byWeight = new Map<number, number[]>();
  for (let i = 0; i < B; i++) {
    if (owner[i] >= 0) continue;
    let list = byWeight.get(weight[i]);
    if (!list) {
      list = [];
      byWeight.set(weight[i], list);
    }
    list.push(i);
  }
  if (byWeight.size === 0) return { owner, forcedMoves, movedWeightBound };
  const weights = [...byWeight.keys()].sort((x, y) => y - x);
  const heap = new QuotaHeap(W, quota, load, workerHash);
  for (const wt of weights) {
    const list = byWeight.get(wt)!;
    list.sort((x, y) => tie(bundles, x, y));
    if (wt === 1) {
      // only weight-1 bundles left: to the holder while below its quota, then to any worker below it
      const rest: number[] = [];
      for (const i of list) {
        const p = heldBy[i];
        if (p >= 0 && load[p] < quota[p]) {
          owner[i] = p;
          load[p]++;
        } else rest.push(i);
      }
      let w = 0;
      for (const i of rest) {
        while (load[w] >= quota[w]) w++; // the deficits sum to what is left, so some w is below
        owner[i] = w;
        load[w]++;
      }
      break;
    }
    for (const i of list) {
      const top = heap.top;
      const p = heldBy[i];
      const w = p >= 0 && quota[p] - load[p] === quota[top] - load[top] ? p : top;
      owner[i] = w;
      load[w] += wt;
      heap.sink(w);
    }
  }
  return { owner, forcedMoves, movedWeightBound };
}

/**
 * True when the held bundles already meet the bounds every plan meets: none split or partly orphaned, and
 * every worker has load − heaviest ≤ ⌈fair⌉ − 1 and load ≥ ⌊fair⌋ − (S − 1) (⌈fair⌉ = ⌊fair⌋ + 1 exactly
 * when the share is fractional, rem > 0).
 */
function isStable(
  W: number,
  B: number,
  weight: Float64Array,
  heldWeight: Float64Array,
  owned: Int32Array,
  ownStart: Int32Array,
  floor: Float64Array,
  rem: Float64Array,
  S: number,
): boolean {
  for (let i = 0; i < B; i++) if (heldWeight[i] !== weight[i]) return false;
  for (let w = 0; w < W; w++) {
    let load = 0;
    let largest = 0;
    for (let j = ownStart[w]; j < ownStart[w + 1]; j++) {
      const size = weight[owned[j]];
      load += size;
      if (size > largest) largest = size;
    }
    const hi = floor[w] + (rem[w] > 0 ? 1 : 0);
    if (load - largest > hi - 1 || load < floor[w] - (S - 1)) return false;
  }
  return true;
}

/** Who holds each bundle now, as {@link holdings} finds it. */
export interface Holdings {
  /** The live worker holding most of the bundle's weight (ties by the key's hash order), or −1. */
  heldBy: Int32Array;
  /** The weight of the bundle that `heldBy` holds (0 without a holder). */
  heldWeight: Float64Array;
  /** Tasks that must move because their bundle is split among live workers (a lower bound, in tasks). */
  forcedMoves: number;
  /** The weight split bundles' minority parts hold: it moves whatever the plan. */
  splitWeight: number;
}

/** The current owner of each bundle: the live worker holding most of its weight. */
export function holdings(
  bundles: WeightedBundles,
  taskWeight: ArrayLike<number>,
  holder: Int32Array,
  workerHash: Uint32Array,
): Holdings {
  const B = bundles.count;
  const { start, tasks, weight } = bundles;
  const heldBy = new Int32Array(B).fill(-1);
  const heldWeight = new Float64Array(B);
  let forcedMoves = 0;
  let splitWeight = 0;
  const counts = new Map<number, number>();
  const tasksOn = new Map<number, number>();
  for (let i = 0; i < B; i++) {
    const a = start[i];
    const e = start[i + 1];
    if (e - a === 1) {
      const w = holder[tasks[a]];
      heldBy[i] = w;
      heldWeight[i] = w >= 0 ? weight[i] : 0;
      continue;
    }
    counts.clear();
    let held = 0;
    for (let j = a; j < e; j++) {
      const t = tasks[j];
      const w = holder[t];
      if (w >= 0) {
        counts.set(w, (counts.get(w) ?? 0) + taskWeight[t]);
        held += taskWeight[t];
      }
    }
    let best = -1;
    let bestWeight = 0;
    for (const [w, c] of counts) {
      if (c > bestWeight || (c === bestWeight && tieBefore(w, best, bundles.hash[i], workerHash))) {
        best = w;
        bestWeight = c;
      }
    }
    if (best >= 0 && counts.size > 1) {
      // whichever worker the bundle ends on, the tasks the others hold move: at least all but the most
      // tasks any one of them holds (a lower bound in tasks), and in weight all but the owner's part
      tasksOn.clear();
      let heldTasks = 0;
      for (let j = a; j < e; j++) {
        const w = holder[tasks[j]];
        if (w < 0) continue;
        heldTasks++;
        tasksOn.set(w, (tasksOn.get(w) ?? 0) + 1);
      }
      forcedMoves += heldTasks - Math.max(...tasksOn.values());
      splitWeight += held - bestWeight;
    }
    heldBy[i] = best;
    heldWeight[i] = bestWeight;
  }

  return { heldBy, heldWeight, forcedMoves, splitWeight };
}
