/**
 * Keyed tasks: all tasks sharing a non-empty key form a bundle that lives on one worker.
 *
 * Bundles are balanced by their total size K with bounded loads. Every worker gets a quota
 * Q_w ∈ {⌊K/W⌋, ⌈K/W⌉} (exactly K mod W workers get the larger one). A bundle may be added to a worker
 * only while that worker's load is below its quota, so the last bundle added may overshoot:
 *
 *   keyed load(w) ≤ Q_w − 1 + size of the largest bundle on w  ≤  ⌈K/W⌉ − 1 + largest bundle on w
 *
 * — a hot key exceeds the average only by its own size; with bundles of size 1 loads are exactly
 * ⌊K/W⌋ or ⌈K/W⌉.
 *
 * Stickiness: a bundle belongs to the live worker holding most of its tasks. Each worker keeps its
 * bundles in this order: its largest-held bundle is kept last (it may overshoot), the others are kept
 * while they fit in Q_w − 1, largest-held first. The larger quotas go to the workers whose held load minus
 * their largest held bundle is largest (then: that hold most). Then the bundles not kept go, largest first, to the worker
 * furthest below its quota. A plan produced this way satisfies "load − largest bundle ≤ Q_w − 1" for
 * every worker, and at most K mod W workers reach exactly ⌊K/W⌋ there, so a re-plan of it keeps every
 * bundle where it is (zero moves). Unlike the unkeyed part, the number of keyed moves is not proven
 * minimal (choosing which bundles to keep is a knapsack); the moves that keeping a bundle together forces
 * (tasks of one key held by several live workers) are reported as the keyed part of the lower bound.
 */

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
  const byHeld = (x: number, y: number) =>
    heldCount[y] - heldCount[x] ||
    bundles[x].tasks.length - bundles[y].tasks.length ||
    bundles[x].hash - bundles[y].hash ||
    x - y;
  // larger quotas to the workers whose held load without their largest bundle is largest
  const base = new Float64Array(W);
  const heldTotal = new Float64Array(W);
  for (let w = 0; w < W; w++) {
    const list = owned[w];
    if (list.length === 0) continue;
    list.sort(byHeld);
    let sum = 0;
    for (const i of list) sum += heldCount[i];
    heldTotal[w] = sum;
    base[w] = sum - heldCount[list[0]];
  }
  const quota = new Int32Array(W).fill(lo);
  if (extra > 0) {
    const order = Array.from({ length: W }, (_, w) => w);
    order.sort(
      (x, y) => base[y] - base[x] || heldTotal[y] - heldTotal[x] || workerHash[x] - workerHash[y] || x - y,
    );
    for (let i = 0; i < extra; i++) quota[order[i]]++;
  }

  // keep phase
  const load = new Float64Array(W);
  for (let w = 0; w < W; w++) {
    const list = owned[w];
    if (list.length === 0 || quota[w] === 0) continue;
    for (let j = 1; j < list.length; j++) {
      const size = bundles[list[j]].tasks.length;
      if (load[w] + size <= quota[w] - 1) {
        load[w] += size;
        owner[list[j]] = w;
      }
    }
    owner[list[0]] = w;
    load[w] += bundles[list[0]].tasks.length;
  }

  // place the rest, largest first, on the worker furthest below its quota (a binary heap)
  const rest: number[] = [];
  for (let i = 0; i < B; i++) if (owner[i] < 0) rest.push(i);
  rest.sort(
    (x, y) => bundles[y].tasks.length - bundles[x].tasks.length || bundles[x].hash - bundles[y].hash || x - y,
  );
  if (rest.length > 0) {
    const heap = Array.from({ length: W }, (_, w) => w);
    const less = (x: number, y: number) => {
      const dx = load[x] - quota[x];
      const dy = load[y] - quota[y];
      return dx !== dy ? dx < dy : load[x] !== load[y] ? load[x] < load[y] : workerHash[x] < workerHash[y];
    };
    const down = (i: number) => {
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < W && less(heap[l], heap[m])) m = l;
        if (r < W && less(heap[r], heap[m])) m = r;
        if (m === i) return;
        [heap[i], heap[m]] = [heap[m], heap[i]];
        i = m;
      }
    };
    for (let i = (W >> 1) - 1; i >= 0; i--) down(i);
    for (const i of rest) {
      const w = heap[0];
      owner[i] = w;
      load[w] += bundles[i].tasks.length;
      down(0);
    }
  }
  return { owner, forcedMoves };
}

function tieBefore(w: number, best: number, keyHash: number, workerHash: Uint32Array): boolean {
  if (best < 0) return true;
  const hw = (workerHash[w] ^ keyHash) >>> 0;
  const hb = (workerHash[best] ^ keyHash) >>> 0;
  return hw !== hb ? hw < hb : w < best;
}
