/**
 * Step 2 of `grouped.ts` (see its module comment): placing the bundles the keep step left, by rules (a)
 * and (b) there, steered by the total. Tables are flat class × worker arrays scaled by C.
 */
/** The placement state `grouped.ts` shares with these steps. */
export interface PlaceState {
  W: number;
  C: number;
  /** The heaviest bundle of all. */
  S: number;
  /** Heaviest bundle per class. */
  Hg: Float64Array;
  /** r[g·W + w] = C·(fair_g(w) − load_g(w)). */
  r: Float64Array;
  /** R[w] = C·(fair(w) − load(w)). */
  R: Float64Array;
  /** The heaviest bundle on each worker so far. */
  heaviestOn: Float64Array;
  /** The heaviest bundle of each class on each worker so far (heaviestIn[g·W + w]). */
  heaviestIn: Float64Array;
  weight: Float64Array;
  cls: Int32Array;
  workerHash: Uint32Array;
  /** Puts bundle b on worker w (updates r, R, heaviestOn). */
  put: (b: number, w: number) => void;
}

/** Step 2 for bundles heavier than 1: rules (a), (b) and the total steering of the module comment. */
export function placeHeavy(st: PlaceState, G: number, pending: ArrayLike<number>): void {
  if (pending.length === 0) return;
  const { W, C, S, Hg, r, R, heaviestOn, heaviestIn, weight, cls, workerHash, put } = st;
  // needy[g]: workers ≥ H_g below fair_g; due[w]: what w must still take to be needy nowhere (about);
  // farBelow: workers ≥ S below fair
  const needy = new Int32Array(G);
  const due = new Float64Array(W);
  for (let g = 0; g < G; g++) {
    for (let w = 0; w < W; w++) {
      const over = r[g * W + w] - C * Hg[g];
      if (over >= 0) {
        needy[g]++;
        due[w] += over + C;
      }
    }
  }
  let farBelow = 0;
  for (let w = 0; w < W; w++) if (R[w] >= C * S) farBelow++;
  // workers in a heap by room net of dues (R − due), then R, then hash: the choice among the allowed
  const heap = new Int32Array(W);
  const pos = new Int32Array(W);
  const key = new Float64Array(W);
  for (let w = 0; w < W; w++) key[w] = R[w] - due[w];
  const above = (x: number, y: number) => {
    const kx = key[x];
    const ky = key[y];
    return kx !== ky
      ? kx > ky
      : R[x] !== R[y]
        ? R[x] > R[y]
        : workerHash[x] !== workerHash[y]
          ? workerHash[x] < workerHash[y]
          : x < y;
  };
  const down = (i: number) => {
    for (;;) {
      const l = 2 * i + 1;
      let m = i;
      if (l < W && above(heap[l], heap[m])) m = l;
      if (l + 1 < W && above(heap[l + 1], heap[m])) m = l + 1;
      if (m === i) return;
      const t = heap[i];
      heap[i] = heap[m];
      heap[m] = t;
      pos[heap[i]] = i;
      pos[heap[m]] = m;
      i = m;
    }
  };
  for (let w = 0; w < W; w++) heap[w] = pos[w] = w;
  for (let i = (W >> 1) - 1; i >= 0; i--) down(i);
  // 64: the balance of 128 (max load / fair 1.002 and 1.003 on bench:planner's speed case) in 2/3 the time
  const VISITS = 64;
  const frontier = new Int32Array(2 * VISITS + 2);
  // per class, the workers in a heap by room in the class r_g (cheap[g·W + i], position cpos[g·W + w])
  const cheap = new Int32Array(G * W);
  const cpos = new Int32Array(G * W);
  const cdown = (base: number, i: number) => {
    for (;;) {
      const l = 2 * i + 1;
      let m = i;
      if (l < W && r[base + cheap[base + l]] > r[base + cheap[base + m]]) m = l;
      if (l + 1 < W && r[base + cheap[base + l + 1]] > r[base + cheap[base + m]]) m = l + 1;
      if (m === i) return;
      const t = cheap[base + i];
      cheap[base + i] = cheap[base + m];
      cheap[base + m] = t;
      cpos[base + cheap[base + i]] = i;
      cpos[base + cheap[base + m]] = m;
      i = m;
    }
  };
  for (let g = 0; g < G; g++) {
    for (let w = 0; w < W; w++) cheap[g * W + w] = cpos[g * W + w] = w;
    for (let i = (W >> 1) - 1; i >= 0; i--) cdown(g * W, i);
  }

  // per bundle: allowed by (a) and (b); ok: (T) kept — it lands below fair(w) + max(s_w, x) and does not
  // overshoot fair(w) while someone is far below; fits: no overshoot of fair_g (so re-plans keep it)
  let base = 0;
  let x = 0;
  let xC = 0;
  let floor = 0; // (a) for the worker with the heaviest bundle of g: the weakest form of (a), to prune
  let need = 0;
  const allowed = (w: number) =>
    r[base + w] > xC - C * Math.max(heaviestIn[base + w], x) && r[base + w] >= need;
  const ok = (w: number) => R[w] > xC - C * Math.max(heaviestOn[w], x) && (farBelow === 0 || R[w] >= xC);
  for (let q = 0; q < pending.length; q++) {
    const b = pending[q];
    const g = cls[b];
    x = weight[b];
    xC = C * x;
    const hC = C * Hg[g];
    floor = xC - hC;
    need = needy[g] > 0 ? xC : -Infinity;
    base = g * W;
    // wanted: allowed and ok, fitting if any worker fits in g, the first in heap order. Looked for among
    // the first few in heap order, then (if some worker fits) among the roomiest in g; else all of them
    const fit = r[base + cheap[base]] >= xC ? xC : -Infinity;
    let best = heap[0];
    if (!(allowed(best) && ok(best) && r[base + best] >= fit)) {
      // the best of the next three levels of the heap (positions 1–14)
      best = -1;
      const end = Math.min(15, W);
      for (let i = 1; i < end; i++) {
        const w = heap[i];
        if (r[base + w] >= fit && (best < 0 || above(w, best)) && allowed(w) && ok(w)) best = w;
      }
    }
    if (best < 0) {
      // among those that fit in g if any does, else those (a) allows: a subtree of the class heap
      const least = fit > 0 ? xC : floor + 1;
      // breadth first (the roomiest first), the first VISITS of them at most; with a fit, r ≥ xC is allowed
      const check = fit <= 0;
      let head = 0;
      let tail = 1;
      frontier[0] = 0;
      while (head < tail && head < VISITS) {
        const i = frontier[head++];
        const w = cheap[base + i];
        const rw = r[base + w];
        if (rw < least) continue; // nor do its children (a heap)
        if ((best < 0 || above(w, best)) && (!check || allowed(w)) && ok(w)) best = w;
        const l = 2 * i + 1;
        if (l < W) {
          frontier[tail++] = l;
          if (l + 1 < W) frontier[tail++] = l + 1;
        }
      }
    }
    if (best < 0) {
      // all of them: ok first, then fitting, then heap order
      let bestRank = -1;
      for (let w = 0; w < W; w++) {
        if (!allowed(w)) continue;
        const rank = (ok(w) ? 2 : 0) + (r[base + w] >= xC ? 1 : 0);
        if (rank > bestRank || (rank === bestRank && above(w, best))) {
          best = w;
          bestRank = rank;
        }
      }
    }
    const cell = base + best; // some worker is always allowed (module comment)
    const before = r[cell] - hC;
    const wasFar = R[best] >= C * S;
    put(b, best);
    const after = r[cell] - hC;
    if (before >= 0 && after < 0) needy[g]--;
    due[best] -= (before >= 0 ? before + C : 0) - (after >= 0 ? after + C : 0);
    key[best] = R[best] - due[best];
    if (wasFar && R[best] < C * S) farBelow--;
    down(pos[best]); // R − due only fell (due fell by less than x·C)
    cdown(base, cpos[base + best]);
  }
}

/**
 * Step 3 of `grouped.ts` when the placement missed (T): moves single bundles off a worker at or above
 * fair(w) + s_w, or onto one at or below fair(w) − S, each move keeping (G) for both workers and leaving
 * neither of them beyond the other bound of (T), until (T) holds or no such move is left (at most B
 * moves). Only bundles the plan moves anyway (not kept on their holder), or that the strict keep would
 * shed (`spare`: the lightest bundle the sticky keep kept in excess), move, so the moved weight stays
 * within its bound. `owner` is updated.
 */
export function repairTotal(
  st: PlaceState,
  owner: Int32Array,
  heldBy: Int32Array,
  order: readonly number[],
  spare: Uint8Array,
): void {
  const { W, C, S, Hg, r, R, heaviestOn, heaviestIn, weight, cls } = st;
  const B = owner.length;
  const over = (w: number) => R[w] < 0 && R[w] <= -C * heaviestOn[w];
  const under = (w: number) => R[w] >= C * S;
  let w = -1;
  for (let x = 0; x < W && w < 0; x++) if (over(x) || under(x)) w = x;
  if (w < 0) return;
  // the bundles on each worker, in tie order (a moved bundle joins the end of its new worker's list)
  const on: number[][] = Array.from({ length: W }, () => []);
  for (const b of order) if (owner[b] >= 0) on[owner[b]].push(b);
  // the heaviest bundle on w without bundle `without`: of all (g < 0), or of class g
  const heaviestOf = (w: number, without: number, g = -1) => {
    let h = 0;
    for (const i of on[w]) if (i !== without && (g < 0 || cls[i] === g) && weight[i] > h) h = weight[i];
    return h;
  };
  // b may leave u for v: (G) holds for both afterwards, v stays below fair + s_v, u above fair − S. The
  // repair looks at B + W (bundle, worker) pairs at most, so it costs what the placement costs (a worker far
  // below its share with no movable bundle anywhere would otherwise cost a look at every pair)
  let budget = B + W;
  const movable = (b: number, u: number, v: number) => {
    if (--budget < 0) return false;
    if (heldBy[b] === u && spare[b] === 0) return false;
    const g = cls[b];
    const xC = C * weight[b];
    const hC = C * Hg[g];
    if (r[g * W + u] + xC >= hC || r[g * W + v] - xC <= -C * Math.max(heaviestIn[g * W + v], weight[b]))
      return false;
    if (R[v] - xC <= -C * Math.max(heaviestOn[v], weight[b]) || R[u] + xC >= C * S) return false;
    // u keeps its upper bound in g with what is left of g on it
    const left = weight[b] < heaviestIn[g * W + u] ? heaviestIn[g * W + u] : heaviestOf(u, b, g);
    return left === 0 || r[g * W + u] + xC > -C * left;
  };
  const move = (b: number, u: number, v: number) => {
    const xC = C * weight[b];
    r[cls[b] * W + u] += xC;
    R[u] += xC;
    heaviestOn[u] = heaviestOf(u, b);
    heaviestIn[cls[b] * W + u] = heaviestOf(u, b, cls[b]);
    on[u].splice(on[u].indexOf(b), 1);
    on[v].push(b);
    owner[b] = v;
    r[cls[b] * W + v] -= xC;
    R[v] -= xC;
    if (weight[b] > heaviestOn[v]) heaviestOn[v] = weight[b];
    if (weight[b] > heaviestIn[cls[b] * W + v]) heaviestIn[cls[b] * W + v] = weight[b];
  };
  const others = new Array<number>(W - 1);
  for (let step = 0; step < B && w >= 0; step++) {
    let done = false;
    // the workers by most room first for an over one, least for an under one
    for (let x = 0, k = 0; x < W; x++) if (x !== w) others[k++] = x;
    if (over(w)) {
      others.sort((x, y) => R[y] - R[x] || x - y);
      for (const b of on[w]) {
        const v = others.find((v) => movable(b, w, v));
        if (v !== undefined) {
          move(b, w, v);
          done = true;
          break;
        }
      }
    } else {
      others.sort((x, y) => R[x] - R[y] || x - y);
      for (const u of others) {
        const b = on[u].find((b) => movable(b, u, w));
        if (b !== undefined) {
          move(b, u, w);
          done = true;
          break;
        }
      }
    }
    if (!done || budget < 0) return;
    w = -1;
    for (let x = 0; x < W && w < 0; x++) if (over(x) || under(x)) w = x;
  }
}
