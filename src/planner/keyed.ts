/**
 * Keyed tasks: all tasks sharing a non-empty key form a bundle that lives on one worker.
 *
 * Bundles are balanced by their total size K with bounded loads. Every worker gets a quota
 * Q_w ∈ {⌊K/W⌋, ⌈K/W⌉} (exactly K mod W workers get the larger one: those holding the most keyed tasks).
 * With S the largest bundle, every plan satisfies, for every worker w:
 *
 *   keyed load(w) ≤ ⌈K/W⌉ − 1 + (largest bundle on w)      — a hot key exceeds the average only by its size
 *   keyed load(w) ≥ ⌊K/W⌋ − (S − 1)                          — nobody is starved by more than a bundle
 *
 * so with bundles of size 1 the keyed loads are exactly ⌊K/W⌋ or ⌈K/W⌉.
 *
 * How: a bundle belongs to the live worker holding most of its tasks. If the held bundles already meet
 * both bounds (none split or partly orphaned), nothing moves — this makes a re-plan of our own output
 * move nothing. Otherwise each worker keeps, most-held first, the bundles that fit in its quota (a hot
 * bundle larger than the quota only alone); the rest go, largest first, to the worker furthest below its
 * quota. Upper bound: a bundle is only added below the quota. Lower bound: a placement overshoots only
 * when every deficit is already below the bundle's size ≤ S, and a hot bundle exists only when Q < S, so
 * no deficit reaches S. Unlike the unkeyed part, keyed moves are not proven minimal (which bundles to
 * keep is a knapsack); the moves that keeping a bundle together forces (tasks of one key held by several
 * live workers) are reported as the keyed part of the lower bound.
 */

import { QuotaHeap, tieBefore } from './pick.js';

/** One bundle: the task indices sharing a key, and the key's hash for tie-breaks. */
export interface Bundle {
  tasks: number[];
  hash: number;
}

export interface KeyedPlan {
  /** Owner (worker index) per bundle. */
  owner: Int32Array;
  /** Moves that keeping bundles together forces whatever the balance (split bundles). */
  forcedMoves: number;
}

/**
 * Places bundles on workers 0..W-1 (W ≥ 1). `holder[t]` is the live worker holding task t now, or −1.
 * `workerHash[w]` breaks ties.
 */
export function planBundles(
  W: number,
  bundles: readonly Bundle[],
  holder: Int32Array,
  workerHash: Uint32Array,
): KeyedPlan {
  const B = bundles.length;
  const owner = new Int32Array(B).fill(-1);
  let K = 0;
  for (const bundle of bundles) K += bundle.tasks.length;
  if (B === 0) return { owner, forcedMoves: 0 };
  const lo = Math.floor(K / W);
  const extra = K % W;

  // current owner of each bundle: the live worker holding most of its tasks
  const heldBy = new Int32Array(B).fill(-1);
  const heldCount = new Int32Array(B);
  let forcedMoves = 0;
  const counts = new Map<number, number>();
  for (let i = 0; i < B; i++) {
    const tasks = bundles[i].tasks;
    counts.clear();
    let held = 0;
    for (const t of tasks) {
      const w = holder[t];
      if (w >= 0) {
        counts.set(w, (counts.get(w) ?? 0) + 1);
        held++;
      }
    }
    let best = -1;
    let bestCount = 0;
    for (const [w, c] of counts) {
      if (c > bestCount || (c === bestCount && tieBefore(w, best, bundles[i].hash, workerHash))) {
        best = w;
        bestCount = c;
      }
    }
    heldBy[i] = best;
    heldCount[i] = bestCount;
    forcedMoves += held - bestCount;
  }

  // bundles per current owner
  const owned: number[][] = Array.from({ length: W }, () => []);
  for (let i = 0; i < B; i++) if (heldBy[i] >= 0) owned[heldBy[i]].push(i);

  // already balanced (typically: a re-plan of our own output)? then keep everything where it is
  if (isStable(W, bundles, owned, heldCount, lo, extra)) {
    for (let w = 0; w < W; w++) for (const i of owned[w]) owner[i] = w;
    return { owner, forcedMoves };
  }

  const heldTotal = new Float64Array(W);
  for (let w = 0; w < W; w++) {
    const list = owned[w];
    list.sort(
      (x, y) =>
        heldCount[y] - heldCount[x] ||
        bundles[x].tasks.length - bundles[y].tasks.length ||
        bundles[x].hash - bundles[y].hash ||
        x - y,
    );
    for (const i of list) heldTotal[w] += heldCount[i];
  }
  // the larger quotas go to the workers that hold the most
  const quota = new Int32Array(W).fill(lo);
  if (extra > 0) {
    const order = Array.from({ length: W }, (_, w) => w);
    order.sort((x, y) => heldTotal[y] - heldTotal[x] || workerHash[x] - workerHash[y] || x - y);
    for (let i = 0; i < extra; i++) quota[order[i]]++;
  }

  // keep phase: bundles that fit in the quota, most-held first; a hot bundle larger than the quota is
  // kept only alone
  const load = new Float64Array(W);
  for (let w = 0; w < W; w++) {
    if (quota[w] === 0) continue;
    for (const i of owned[w]) {
      const size = bundles[i].tasks.length;
      if (load[w] + size <= quota[w] || load[w] === 0) {
        load[w] += size;
        owner[i] = w;
      }
    }
  }

  // place the rest, largest first, on the worker furthest below its quota (a binary heap with positions);
  // among workers equally far below, the bundle's current holder, so that it does not move
  const rest: number[] = [];
  for (let i = 0; i < B; i++) if (owner[i] < 0) rest.push(i);
  rest.sort(
    (x, y) => bundles[y].tasks.length - bundles[x].tasks.length || bundles[x].hash - bundles[y].hash || x - y,
  );
  if (rest.length > 0) {
    const heap = new QuotaHeap(W, quota, load, workerHash);
    for (const i of rest) {
      const top = heap.top;
      const p = heldBy[i];
      const w = p >= 0 && load[p] - quota[p] === load[top] - quota[top] ? p : top;
      owner[i] = w;
      load[w] += bundles[i].tasks.length;
      heap.sink(w);
    }
  }
  return { owner, forcedMoves };
}

/**
 * True when the held bundles already meet the balance the planner guarantees: none split or partly
 * orphaned, and every worker w with load L_w and largest bundle s_w has L_w − s_w ≤ ⌈K/W⌉ − 1 and
 * L_w ≥ ⌊K/W⌋ − (S − 1), S the largest bundle. Every plan of {@link planBundles} meets it (its keep phase
 * never exceeds a quota except with a single bundle; its placement adds a bundle only below the quota and
 * leaves no worker S or more below its quota), so a re-plan of it moves nothing.
 */
function isStable(
  W: number,
  bundles: readonly Bundle[],
  owned: number[][],
  heldCount: Int32Array,
  lo: number,
  extra: number,
): boolean {
  const hi = lo + (extra > 0 ? 1 : 0);
  let S = 0;
  for (let i = 0; i < bundles.length; i++) {
    const size = bundles[i].tasks.length;
    if (heldCount[i] !== size) return false;
    if (size > S) S = size;
  }
  for (let w = 0; w < W; w++) {
    let load = 0;
    let largest = 0;
    for (const i of owned[w]) {
      const size = bundles[i].tasks.length;
      load += size;
      if (size > largest) largest = size;
    }
    if (load - largest > hi - 1 || load < lo - (S - 1)) return false;
  }
  return true;
}
