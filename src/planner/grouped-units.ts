/**
 * Step 2 of `grouped.ts` for weight-1 bundles ("units"), class by class: each unit goes to the allowed
 * worker first in the order (tier, R, s_w, worker hash, index), tier = 2·safe + fits — safe: one more unit
 * keeps (T)'s upper bound (R > C − C·max(s_w, 1)), fits: it does not lift the worker over fair_g (r_g ≥ C).
 * Allowed: while some worker is needy in g (r_g ≥ C·H_g), those with r_g ≥ C (no overshoot, rule (b) of
 * `grouped.ts`), until none is needy; then those with r_g > C·(1 − max(s_wg, 1)), s_wg its heaviest bundle
 * of g: it stays below fair_g + s_wg (rule (a)).
 *
 * Two ways to the same loads:
 * - `heap`: one unit at a time, the workers in a heap (cheap when a class has few units);
 * - `levels`: a worker's key only falls as it takes units (R falls by C a unit, tier never rises), so
 *   the first n picks of the greedy are the n largest keys of all workers' key sequences. Their count per
 *   worker follows from the n-th largest key: its tier by counting whole tiers, its R by a binary search
 *   over integers (each worker's count of keys above a level is one division), the rest by sorting the
 *   few workers with a key exactly at that level. The needy phase ends with the pick of the least of
 *   the needy workers' last needy keys: it takes every key at or above that one. O(W·log(range)) a class
 *   instead of O(units·log W). Which unit goes where among a worker's picks does not matter (all weigh
 *   1, none kept): runs in worker order.
 */
import type { PlaceState } from './grouped-place.js';

export type UnitsMethod = 'auto' | 'heap' | 'levels';

/** Places `units` (sorted by class); `method` is for tests (both give the same loads). */
export function placeUnits(st: PlaceState, units: ArrayLike<number>, method: UnitsMethod = 'auto'): void {
  const { W, C, Hg, r, cls } = st;
  const scratch = new Levels(W);
  for (let i = 0; i < units.length; ) {
    const g = cls[units[i]];
    let j = i;
    while (j < units.length && cls[units[j]] === g) j++;
    const base = g * W;
    const hC = C * Hg[g];
    let needy = false;
    for (let w = 0; w < W && !needy; w++) if (r[base + w] >= hC) needy = true;
    // phase (b): while someone is needy, no overshoot; phase (a): anywhere below fair_g + H_g
    for (let phase = needy ? 0 : 1; phase < 2 && i < j; phase++) {
      const levels = method === 'levels' || (method === 'auto' && 8 * (j - i) > W);
      const p: Phase = { base, hC, needyPhase: phase === 0, units, from: i, to: j };
      i += levels ? scratch.place(st, p) : byHeap(st, p);
    }
    i = j;
  }
}

/** One phase of a class: units[from .. to) of class base / W, whose heaviest bundle weighs hC / C. */
interface Phase {
  base: number;
  hC: number;
  /** Some worker is needy: rule (b), until none is. */
  needyPhase: boolean;
  units: ArrayLike<number>;
  from: number;
  to: number;
}

/** One phase, a unit at a time; returns how many it placed. */
function byHeap(st: PlaceState, { base, hC, needyPhase, units, from, to }: Phase): number {
  const { W, C, r, R, heaviestOn, heaviestIn, workerHash, put } = st;
  const heap = new Int32Array(W);
  const tier = new Int8Array(W);
  const rank = (w: number) => {
    tier[w] = (R[w] > C - C * Math.max(heaviestOn[w], 1) ? 2 : 0) + (r[base + w] >= C ? 1 : 0);
  };
  const before = (x: number, y: number) =>
    tier[x] !== tier[y]
      ? tier[x] > tier[y]
      : R[x] !== R[y]
        ? R[x] > R[y]
        : heaviestOn[x] !== heaviestOn[y]
          ? heaviestOn[x] > heaviestOn[y]
          : workerHash[x] !== workerHash[y]
            ? workerHash[x] < workerHash[y]
            : x < y;
  let size = 0;
  const down = (i: number) => {
    for (;;) {
      const l = 2 * i + 1;
      let m = i;
      if (l < size && before(heap[l], heap[m])) m = l;
      if (l + 1 < size && before(heap[l + 1], heap[m])) m = l + 1;
      if (m === i) return;
      const t = heap[i];
      heap[i] = heap[m];
      heap[m] = t;
      i = m;
    }
  };
  const allowed = (w: number) =>
    needyPhase ? r[base + w] >= C : r[base + w] > C - C * Math.max(heaviestIn[base + w], 1);
  let needy = 0;
  for (let w = 0; w < W; w++) {
    if (r[base + w] >= hC) needy++;
    if (!allowed(w)) continue;
    rank(w);
    heap[size++] = w;
  }
  for (let k = (size >> 1) - 1; k >= 0; k--) down(k);
  let i = from;
  while (i < to && size > 0 && (!needyPhase || needy > 0)) {
    const w = heap[0];
    const was = r[base + w];
    put(units[i++], w);
    rank(w);
    if (was >= hC && was - C < hC) needy--;
    if (!allowed(w)) heap[0] = heap[--size];
    down(0);
  }
  return i - from;
}

/**
 * The `levels` way (module comment). Worker w's k-th pick (k = 0, 1, …) has the key (tier_k, R − k·C,
 * s_k, hash, w): tier_k = 2·[k < kS] + [k < kF], s_k its heaviest bundle then (≥ 1 once it took one);
 * it may take `allow` units in the phase.
 */
class Levels {
  private readonly allow: Float64Array;
  private readonly kS: Float64Array;
  private readonly kF: Float64Array;
  private readonly lo: Float64Array;
  private readonly hi: Float64Array;
  private readonly take: Float64Array;
  private st!: PlaceState;

  constructor(W: number) {
    this.allow = new Float64Array(W);
    this.kS = new Float64Array(W);
    this.kF = new Float64Array(W);
    this.lo = new Float64Array(W);
    this.hi = new Float64Array(W);
    this.take = new Float64Array(W);
  }

  /** One phase; returns how many units it placed. */
  place(st: PlaceState, { base, hC, needyPhase, units, from, to }: Phase): number {
    this.st = st;
    const { W, C, r, R, heaviestOn, heaviestIn, put } = st;
    const { allow, kS, kF, take } = this;
    for (let w = 0; w < W; w++) {
      const room = r[base + w];
      const s = Math.max(heaviestOn[w], 1);
      kS[w] = Math.max(0, Math.ceil((R[w] - C + C * s) / C)); // R − kC > C − C·s
      kF[w] = Math.max(0, Math.floor(room / C)); // room − kC ≥ C
      // room − kC > C − C·max(s_wg, 1): below fair_g + its heaviest of g (rule (a))
      const sg = C * Math.max(heaviestIn[base + w], 1);
      allow[w] = needyPhase ? kF[w] : Math.max(0, Math.ceil((room - C + sg) / C));
    }
    let n = to - from;
    let picked = false;
    if (needyPhase) {
      // the last pick of the phase: the least of the needy workers' last needy keys
      let v = -1;
      let kv = 0;
      for (let w = 0; w < W; w++) {
        const room = r[base + w];
        if (room < hC) continue;
        const k = Math.floor((room - hC) / C); // room − kC ≥ hC > room − (k + 1)C
        if (v < 0 || this.beats(v, kv, w, k)) {
          v = w;
          kv = k;
        }
      }
      let total = 0;
      for (let w = 0; w < W; w++) {
        take[w] = w === v ? kv + 1 : this.countBeating(w, v, kv);
        total += take[w];
      }
      if (total <= n) {
        n = total;
        picked = true;
      }
    }
    if (!picked) this.selectTop(n);
    let i = from;
    for (let w = 0; w < W; w++) for (let k = 0; k < take[w] && i < to; k++) put(units[i++], w);
    return i - from;
  }

  private tierOf(w: number, k: number): number {
    return (k < this.kS[w] ? 2 : 0) + (k < this.kF[w] ? 1 : 0);
  }

  /** Worker w's k-th key comes before worker v's j-th (w ≠ v). */
  private beats(w: number, k: number, v: number, j: number): boolean {
    const { C, R, heaviestOn, workerHash } = this.st;
    const tw = this.tierOf(w, k);
    const tv = this.tierOf(v, j);
    if (tw !== tv) return tw > tv;
    const rw = R[w] - k * C;
    const rv = R[v] - j * C;
    if (rw !== rv) return rw > rv;
    const sw = k === 0 ? heaviestOn[w] : Math.max(heaviestOn[w], 1);
    const sv = j === 0 ? heaviestOn[v] : Math.max(heaviestOn[v], 1);
    if (sw !== sv) return sw > sv;
    return workerHash[w] !== workerHash[v] ? workerHash[w] < workerHash[v] : w < v;
  }

  /** How many of w's keys (within its allowance) come before v's j-th key. */
  private countBeating(w: number, v: number, j: number): number {
    let a = 0;
    let b = this.allow[w];
    while (a < b) {
      const m = a + Math.floor((b - a) / 2);
      if (this.beats(w, m, v, j)) a = m + 1;
      else b = m;
    }
    return a;
  }

  /** take[w] = how many of the n largest keys are w's. */
  private selectTop(n: number): void {
    const { W, C, R } = this.st;
    const { allow, kS, kF, lo, hi, take } = this;
    take.fill(0);
    let need = n;
    for (let t = 3; t >= 0 && need > 0; t--) {
      // tier t holds w's picks lo[w] ≤ k < hi[w]
      let total = 0;
      for (let w = 0; w < W; w++) {
        lo[w] = t === 3 ? 0 : Math.min(allow[w], prefix(t + 1, kS[w], kF[w]));
        hi[w] = Math.min(allow[w], prefix(t, kS[w], kF[w]));
        total += hi[w] - lo[w];
      }
      if (total <= need) {
        for (let w = 0; w < W; w++) take[w] = hi[w];
        need -= total;
        continue;
      }
      // the largest level ρ with at least `need` keys R − kC ≥ ρ in the tier
      const atLeast = (rho: number) => {
        let c = 0;
        for (let w = 0; w < W; w++) {
          if (hi[w] <= lo[w]) continue;
          const k = Math.floor((R[w] - rho) / C) + 1; // keys 0..k−1 are ≥ ρ
          c += Math.max(0, Math.min(hi[w], k) - lo[w]);
        }
        return c;
      };
      let a = Number.POSITIVE_INFINITY;
      let b = Number.NEGATIVE_INFINITY;
      for (let w = 0; w < W; w++) {
        if (hi[w] <= lo[w]) continue;
        a = Math.min(a, R[w] - (hi[w] - 1) * C);
        b = Math.max(b, R[w] - lo[w] * C);
      }
      while (a < b) {
        const m = a + Math.ceil((b - a) / 2);
        if (atLeast(m) >= need) a = m;
        else b = m - 1;
      }
      const rho = a;
      // every key above ρ, then those at ρ in tie order
      const at: number[] = [];
      for (let w = 0; w < W; w++) {
        if (hi[w] <= lo[w]) {
          take[w] = lo[w];
          continue;
        }
        const k = Math.floor((R[w] - rho - 1) / C) + 1; // keys 0..k−1 are > ρ
        take[w] = Math.max(lo[w], Math.min(hi[w], k));
        need -= take[w] - lo[w];
        if (take[w] < hi[w] && R[w] - take[w] * C === rho) at.push(w);
      }
      at.sort((x, y) => (this.beats(x, take[x], y, take[y]) ? -1 : 1));
      for (let q = 0; q < need; q++) take[at[q]]++;
      need = 0;
    }
  }
}

/** How many of a worker's picks have a tier ≥ t (t = 0..3): tier_k = 2·[k < kS] + [k < kF]. */
function prefix(t: number, kS: number, kF: number): number {
  return t === 3 ? Math.min(kS, kF) : t === 2 ? kS : t === 1 ? Math.max(kS, kF) : Number.POSITIVE_INFINITY;
}
