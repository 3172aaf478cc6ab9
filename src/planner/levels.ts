/**
 * How many extra units of the unkeyed groups each worker may take, so that keyed + unkeyed totals are as
 * level as the groups allow.
 *
 * ## Problem
 * W workers; worker w already carries base_w = k_w + F (k_w its keyed load, F = Σ_g f_g the unkeyed load
 * every worker gets anyway). Groups g have r_g < W extra units each, to land on r_g distinct workers
 * (per-group balance). A choice of extras gives worker w e_w units and the total base_w + e_w.
 *
 * Which vectors e are possible? Exactly the column sums of 0/1 matrices with row sums r_g. By Gale–Ryser,
 * e is one iff Σ e = R = Σ r_g and, for every k, the k largest e_w sum to at most φ(k) = Σ_g min(r_g, k).
 * φ is concave and φ(|S|) is a polymatroid rank function, so these vectors are the integer bases of
 * B(φ) = { e : e(S) ≤ φ(|S|) for all S, e(V) = R }.
 *
 * Frank's intersection theorem for generalized polymatroids (a base polyhedron met with a box): there is
 * an integer base with lo ≤ e ≤ hi iff lo ≤ hi and, for every set S,
 *   (i)  lo(S) ≤ φ(|S|)                     — worst S of size k: the k largest lo;
 *   (ii) hi(S) ≥ R − φ(W − |S|)             — worst S of size k: the k smallest hi.
 * Both are O(W) checks once the workers are sorted by base, as below lo and hi never increase with base.
 *
 * ## Levels
 * With G⁺ = φ(1) the number of groups that have extras (no worker can take more than G⁺):
 *   hi_w(M) = clamp(M − base_w, 0, G⁺)   — no extra unit lifts a worker above M;
 *   lo_w(m) = clamp(m − base_w, 0, hi_w) — every worker reaches m, or takes all it may.
 * M* = the least M for which some e fits 0 ≤ e ≤ hi(M) (feasibility grows with M; M = max base + a + 1
 * always fits, a = ⌊R/W⌋, by the round-robin a/a+1 layout); then m* = the largest m ≤ M* for which some
 * e fits lo(m) ≤ e ≤ hi(M*) (feasibility shrinks as m grows; m = min base fits). Both by binary search.
 * The planner's extras are then any e with lo(m*) ≤ e ≤ hi(M*), and among those the min-cost flow of
 * `extras.ts` picks one keeping the most tasks where they are.
 *
 * ## What it guarantees
 * - Every worker that receives an extra unit ends at total ≤ M*, and M* is the least such level over every
 *   per-group-balanced placement; under that, the level (the lowest total among workers below their hi)
 *   is as high as possible: every total is ≥ min(m*, base_w + hi_w).
 * - If some per-group-balanced placement makes every total L or L + 1, so does ours. Proof: that
 *   placement fits hi(L + 1), so M* ≤ L + 1: receivers end ≤ L + 1, and a non-receiver's total base_w is
 *   ≤ L + 1 too (it is so in the leveled placement, where e_w ≥ 0). For the minimum: if M* = L + 1, the
 *   leveled placement fits hi(M*) and lo(L) (its totals are ≥ L), so m* ≥ L. If M* ≤ L, a placement y
 *   under hi(M*) has total_w ≤ max(base_w, L) for all w, while the leveled one has total_w ≥
 *   max(base_w, L); both sum to Σ base + R, so y's totals equal max(base_w, L) ≥ L (as R > 0 some
 *   receiver then ends at L, so M* = L) and y fits lo(L): m* ≥ L. Then every total is ≥ min(m*, base_w + hi_w) ≥ L: hi_w < m* − base_w only when hi_w = G⁺
 *   (and base_w + G⁺ ≥ L, as in the leveled placement, where e_w ≤ G⁺) or when hi_w = 0 because
 *   base_w ≥ M* ≥ m* ≥ L.
 * - total_w ≤ ⌈T/W⌉ + S for every w (T all tasks, S the largest bundle; with the keyed bound of `keyed.ts`,
 *   k_w ≤ ⌈K/W⌉ − 1 + S). Proof: T/W = F + a + (K + b)/W, so ⌈T/W⌉ ≥ F + a + ⌈K/W⌉. A non-receiver has
 *   total base_w ≤ F + ⌈K/W⌉ − 1 + S. A receiver has total ≤ M* ≤ max base + a + 1 (the round-robin a/a+1
 *   layout fits hi(max base + a + 1)) ≤ F + ⌈K/W⌉ + S + a ≤ ⌈T/W⌉ + S.
 * - All keyed loads equal (no keys, in particular; base_w = B): hi(M) is the same h = clamp(M − B, 0, G⁺)
 *   for all, which must hold R (W·h ≥ R, h ≥ ⌈R/W⌉) and does at h = ⌈R/W⌉ (round-robin), so
 *   M* = B + ⌈R/W⌉; lo(m) is the same l = m − B ≤ h for all, W·l ≤ R gives l ≤ a, and l = a fits, so
 *   m* = B + a. Hence lo = a, hi = ⌈R/W⌉ (a + 1, or a when W divides R): exactly the per-group- and
 *   total-balanced quotas of before, and the same min-cost flow.
 */

/** Per-worker bounds on the extras: lo_w ≤ e_w ≤ hi_w, with Σ lo ≤ R ≤ Σ hi. */
export interface ExtraBounds {
  lo: Int32Array;
  hi: Int32Array;
}

/**
 * Computes lo(m*) and hi(M*) (see the module comment) for workers 0..W-1 with loads `base` and groups
 * with `need[g]` = r_g < W extra units each.
 */
export function extraBounds(base: ArrayLike<number>, need: ArrayLike<number>): ExtraBounds {
  const W = base.length;
  const lo = new Int32Array(W);
  const hi = new Int32Array(W);
  // φ(k) = Σ_g min(r_g, k), k = 0..W, from the histogram of r_g: φ(k) − φ(k−1) = #{g : r_g ≥ k}
  const atLeast = new Int32Array(W + 1);
  let R = 0;
  for (let g = 0; g < need.length; g++) {
    const r = need[g];
    if (r <= 0) continue;
    atLeast[r]++;
    R += r;
  }
  if (R === 0 || W === 0) return { lo, hi };
  for (let k = W - 1; k >= 1; k--) atLeast[k] += atLeast[k + 1];
  const phi = new Float64Array(W + 1);
  for (let k = 1; k <= W; k++) phi[k] = phi[k - 1] + atLeast[k];
  const cap = atLeast[1]; // G⁺
  // workers by base, ascending: lo and hi never increase along this order
  const order = Array.from({ length: W }, (_, w) => w);
  order.sort((x, y) => base[x] - base[y] || x - y);
  const b = new Float64Array(W);
  for (let i = 0; i < W; i++) b[i] = base[order[i]];
  const hiOf = (M: number, i: number) => Math.max(0, Math.min(cap, M - b[i]));
  // (ii) for hi(M) with lo = 0: the k smallest hi are the k largest bases
  const fitsHi = (M: number): boolean => {
    let sum = 0;
    for (let k = 1; k <= W; k++) {
      sum += hiOf(M, W - k);
      if (sum < R - phi[W - k]) return false;
    }
    return true;
  };
  // (i) for lo(m) under hi(M): the k largest lo are the k smallest bases ((ii) holds already)
  const fitsLo = (m: number, M: number): boolean => {
    let sum = 0;
    for (let k = 1; k <= W; k++) {
      sum += Math.max(0, Math.min(m - b[k - 1], hiOf(M, k - 1)));
      if (sum > phi[k]) return false;
    }
    return true;
  };
  const a = Math.floor(R / W);
  let bad = b[0]; // hi = 0 everywhere: does not fit, as R > 0
  let good = b[W - 1] + a + 1;
  while (good - bad > 1) {
    const mid = bad + Math.floor((good - bad) / 2);
    if (fitsHi(mid)) good = mid;
    else bad = mid;
  }
  const M = good;
  let ok = b[0]; // lo = 0 everywhere: fits, as hi(M) does
  let no = M + 1;
  while (no - ok > 1) {
    const mid = ok + Math.floor((no - ok) / 2);
    if (fitsLo(mid, M)) ok = mid;
    else no = mid;
  }
  for (let i = 0; i < W; i++) {
    const w = order[i];
    hi[w] = hiOf(M, i);
    lo[w] = Math.max(0, Math.min(ok - b[i], hi[w]));
  }
  return { lo, hi };
}

/**
 * The flow's worker-side capacities for bounds lo ≤ e ≤ hi (default: lo = a, hi = ⌈R/W⌉): w → t holds
 * lo_w, w → h holds hi_w − lo_w, h → t holds R − Σ lo.
 */
export function slotCapacities(
  W: number,
  R: number,
  bounds?: { lo: ArrayLike<number>; hi: ArrayLike<number> },
): { regCap: Int32Array; hubCap: Int32Array; hubTotal: number } {
  const regCap = new Int32Array(W);
  const hubCap = new Int32Array(W);
  if (!bounds) {
    regCap.fill(Math.floor(R / W));
    if (R % W > 0) hubCap.fill(1);
    return { regCap, hubCap, hubTotal: R % W };
  }
  let loSum = 0;
  let hiSum = 0;
  for (let w = 0; w < W; w++) {
    const lo = bounds.lo[w];
    const hi = bounds.hi[w];
    if (!(lo >= 0 && hi >= lo)) throw new RangeError(`extras: bounds [${lo}, ${hi}] of worker ${w}`);
    regCap[w] = lo;
    hubCap[w] = hi - lo;
    loSum += lo;
    hiSum += hi;
  }
  if (!(loSum <= R && R <= hiSum))
    throw new RangeError(`extras: bounds sum to [${loSum}, ${hiSum}], R = ${R}`);
  return { regCap, hubCap, hubTotal: R - loSum };
}
