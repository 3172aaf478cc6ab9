/**
 * Weighted bundles on workers of unequal capacity: the placement of {@link rebalance} whenever a task
 * weighs more than 1 or a worker's capacity is not 1 and the tasks cannot be planned by count alone
 * (see `rebalance.ts`). Every task belongs to a bundle: the tasks sharing a key, or a task alone. A
 * bundle's weight is the sum of its tasks' weights; a worker's load is the sum of its bundles' weights.
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
 * 1. keep: each worker keeps, most-held weight first, the bundles that fit in its quota; a bundle heavier
 *    than the quota is kept alone, and only when max_w Q_w < S;
 * 2. place: the rest, heaviest first, each on the worker with the largest deficit Q_w − load(w) (its
 *    current holder among equals).
 * Upper bound: keep never exceeds Q_w except with one bundle and Q_w ≥ 1; while bundles remain, the deficits
 * sum to the weight still to place, so the chosen deficit is ≥ 1 and the bundle lands on a load ≤ Q_w − 1.
 * Lower bound: if max Q < S, load ≥ 0 ≥ Q_w − (S − 1). Otherwise no keep exceeds a quota; suppose some w
 * ends with deficit ≥ S. Deficits only shrink, so the largest deficit was ≥ S ≥ the bundle's weight at every
 * placement: no placement overshoots, every final deficit is ≥ 0 and they sum to 0, so all are 0 — a
 * contradiction. ∎
 *
 * ## Moves
 * Let F_w be the full weight of the bundles w owns (holds most of) and H_w ≤ F_w the part it holds. When
 * F_w ≤ Q_w, w keeps all of them. Otherwise each bundle it sheds did not fit, so what it keeps is
 * > Q_w − S, and it sheds < F_w − Q_w + S, of which it held at most H_w. So the weight that moves
 * (orphans are not moves; split bundles force their minority part to move) is at most
 *   Σ_{w : F_w > Q_w} min(H_w, F_w − Q_w + S − 1)  +  the split bundles' minority weight,
 * while Σ (F_w − Q_w)⁺ (bundles fully held) is the least any plan with these quotas must move. A join of
 * a worker of capacity c lowers the others' quotas by about K·c/C in all, so it moves about K·c/C, plus
 * at most S − 1 per worker over its new quota; a leave orphans the leaver's bundles (not moves) and raises
 * the other quotas, so only split bundles move weight. `stats.movedWeightBound` is this bound for the
 * input (when the held bundles already meet the bounds, nothing moves).
 */

import { shares } from './capacity.js';

/** One bundle: its task indices, their total weight, and a hash for tie-breaks. */
export interface WeightedBundle {
  tasks: number[];
  weight: number;
  hash: number;
}

export interface WeightedPlan {
  /** Owner (worker index) per bundle. */
  owner: Int32Array;
  /** Tasks that must move because their bundle is split among live workers. */
  forcedMoves: number;
  /** The bound on the moved weight stated in the module comment. */
  movedWeightBound: number;
}

/**
 * Places bundles on workers 0..W-1 (W ≥ 1) of capacities `cap` (total C). `holder[t]` is the live worker
 * holding task t now, or −1; `weight[t]` the task's weight; `workerHash` breaks ties.
 */
export function planWeighted(
  W: number,
  cap: ArrayLike<number>,
  C: number,
  bundles: readonly WeightedBundle[],
  weight: ArrayLike<number>,
  holder: Int32Array,
  workerHash: Uint32Array,
): WeightedPlan {
  const B = bundles.length;
  const owner = new Int32Array(B).fill(-1);
  if (B === 0) return { owner, forcedMoves: 0, movedWeightBound: 0 };
  let S = 0;
  let K = 0;
  for (const b of bundles) {
    K += b.weight;
    if (b.weight > S) S = b.weight;
  }

  // current owner of each bundle: the live worker holding most of its weight
  const heldBy = new Int32Array(B).fill(-1);
  const heldWeight = new Float64Array(B);
  let forcedMoves = 0;
  let splitWeight = 0;
  const counts = new Map<number, number>();
  const tasksOn = new Map<number, number>();
  for (let i = 0; i < B; i++) {
    const tasks = bundles[i].tasks;
    let held = 0;
    let best = -1;
    let bestWeight = 0;
    if (tasks.length === 1) {
      best = holder[tasks[0]];
      bestWeight = best >= 0 ? bundles[i].weight : 0;
    } else {
      counts.clear();
      for (const t of tasks) {
        const w = holder[t];
        if (w >= 0) {
          counts.set(w, (counts.get(w) ?? 0) + weight[t]);
          held += weight[t];
        }
      }
      for (const [w, c] of counts) {
        if (c > bestWeight || (c === bestWeight && tieBefore(w, best, bundles[i].hash, workerHash))) {
          best = w;
          bestWeight = c;
        }
      }
      if (best >= 0 && counts.size > 1) {
        // whichever worker the bundle ends on, the tasks the others hold move: at least all but the most
        // tasks any one of them holds (a lower bound in tasks), and in weight all but the owner's part
        tasksOn.clear();
        let heldTasks = 0;
        for (const t of tasks) {
          const w = holder[t];
          if (w < 0) continue;
          heldTasks++;
          tasksOn.set(w, (tasksOn.get(w) ?? 0) + 1);
        }
        forcedMoves += heldTasks - Math.max(...tasksOn.values());
        splitWeight += held - bestWeight;
      }
    }
    heldBy[i] = best;
    heldWeight[i] = bestWeight;
  }

  const owned: number[][] = Array.from({ length: W }, () => []);
  const heldTotal = new Float64Array(W);
  for (let i = 0; i < B; i++) {
    if (heldBy[i] < 0) continue;
    owned[heldBy[i]].push(i);
    heldTotal[heldBy[i]] += heldWeight[i];
  }
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
    let full = 0;
    for (const i of owned[w]) full += bundles[i].weight;
    if (full > quota[w]) movedWeightBound += Math.min(heldTotal[w], full - quota[w] + S - 1);
  }

  if (isStable(W, bundles, owned, heldWeight, floor, rem, S)) {
    for (let w = 0; w < W; w++) for (const i of owned[w]) owner[i] = w;
    return { owner, forcedMoves, movedWeightBound };
  }

  // 1. keep: most-held weight first, then the lighter bundle (fits more), then hash
  const load = new Float64Array(W);
  const hotKeep = maxQ < S;
  for (let w = 0; w < W; w++) {
    if (quota[w] === 0) continue;
    const list = owned[w];
    list.sort(
      (x, y) =>
        heldWeight[y] - heldWeight[x] ||
        bundles[x].weight - bundles[y].weight ||
        bundles[x].hash - bundles[y].hash ||
        x - y,
    );
    for (const i of list) {
      const size = bundles[i].weight;
      if (load[w] + size <= quota[w] || (hotKeep && load[w] === 0)) {
        load[w] += size;
        owner[i] = w;
      }
    }
  }

  // 2. place the rest, heaviest first, on the largest deficit (a binary heap with positions)
  const rest: number[] = [];
  for (let i = 0; i < B; i++) if (owner[i] < 0) rest.push(i);
  if (rest.length === 0) return { owner, forcedMoves, movedWeightBound };
  rest.sort((x, y) => bundles[y].weight - bundles[x].weight || bundles[x].hash - bundles[y].hash || x - y);
  const heap = Array.from({ length: W }, (_, w) => w);
  const pos = Int32Array.from(heap);
  const less = (x: number, y: number) => {
    const dx = quota[x] - load[x];
    const dy = quota[y] - load[y];
    return dx !== dy ? dx > dy : load[x] !== load[y] ? load[x] < load[y] : workerHash[x] < workerHash[y];
  };
  const swap = (i: number, j: number) => {
    [heap[i], heap[j]] = [heap[j], heap[i]];
    pos[heap[i]] = i;
    pos[heap[j]] = j;
  };
  const down = (i: number) => {
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < W && less(heap[l], heap[m])) m = l;
      if (r < W && less(heap[r], heap[m])) m = r;
      if (m === i) return;
      swap(i, m);
      i = m;
    }
  };
  for (let i = (W >> 1) - 1; i >= 0; i--) down(i);
  for (const i of rest) {
    const top = heap[0];
    const p = heldBy[i];
    const w = p >= 0 && quota[p] - load[p] === quota[top] - load[top] ? p : top;
    owner[i] = w;
    load[w] += bundles[i].weight;
    down(pos[w]);
  }
  return { owner, forcedMoves, movedWeightBound };
}

function tieBefore(w: number, best: number, keyHash: number, workerHash: Uint32Array): boolean {
  if (best < 0) return true;
  const hw = (workerHash[w] ^ keyHash) >>> 0;
  const hb = (workerHash[best] ^ keyHash) >>> 0;
  return hw !== hb ? hw < hb : w < best;
}

/**
 * True when the held bundles already meet the bounds every plan meets: none split or partly orphaned, and
 * every worker has load − heaviest ≤ ⌈fair⌉ − 1 and load ≥ ⌊fair⌋ − (S − 1) (⌈fair⌉ = ⌊fair⌋ + 1 exactly
 * when the share is fractional, rem > 0).
 */
function isStable(
  W: number,
  bundles: readonly WeightedBundle[],
  owned: number[][],
  heldWeight: Float64Array,
  floor: Float64Array,
  rem: Float64Array,
  S: number,
): boolean {
  for (let i = 0; i < bundles.length; i++) if (heldWeight[i] !== bundles[i].weight) return false;
  for (let w = 0; w < W; w++) {
    let load = 0;
    let largest = 0;
    for (const i of owned[w]) {
      const size = bundles[i].weight;
      load += size;
      if (size > largest) largest = size;
    }
    const hi = floor[w] + (rem[w] > 0 ? 1 : 0);
    if (load - largest > hi - 1 || load < floor[w] - (S - 1)) return false;
  }
  return true;
}
