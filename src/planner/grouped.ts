/**
 * Weighted bundles balanced per group AND in total: the placement of `weighted` mode (see `unequal.ts`).
 * Every bundle has a class: the group of its task (unkeyed tasks), or one class for all key bundles (as in
 * the count planner, keyed tasks are balanced among themselves, whatever their groups).
 *
 * ## Bounds
 * C = total capacity; class g weighs L_g, its heaviest bundle H_g; L = Σ L_g, S = the heaviest bundle;
 * fair_g(w) = L_g·c_w/C, fair(w) = L·c_w/C = Σ_g fair_g(w); s_w = the heaviest bundle on w, s_wg the
 * heaviest of class g on w. A plan of this module satisfies, for every worker w and class g (load_g(w): its
 * weight of class g; the upper bounds for a worker with some weight of g, or some weight at all):
 *
 *   (G)  fair_g(w) − H_g < load_g(w) < fair_g(w) + s_wg
 *   (T)  fair(w) − S < load(w) < fair(w) + s_w        (hence load ≤ ⌈fair⌉ − 1 + s_w, ≥ ⌊fair⌋ − (S − 1))
 *
 * — nobody exceeds its fair share, per group or in total, by its own heaviest bundle there, nor falls below
 * it by the heaviest one. (G) is proven below; that some plan meets (G) and (T) together is not: it is
 * proven for classes whose bundles weigh the same, and an exhaustive search of small cases (up to 5
 * workers, 9 bundles, 8 classes; ~140M instances) and 740k adversarial ones found none where no plan does
 * (docs/research/joint-bounds.md).
 *
 * All arithmetic is on integers scaled by C: r_g(w) = C·(fair_g(w) − load_g(w)), R(w) = C·(fair(w) −
 * load(w)) = Σ_g r_g(w), exact while L·C ≤ 2^53 (beyond that, and beyond {@link MAX_CLASS_CELLS} class ×
 * worker cells, `planGrouped` declines and `weighted.ts` plans in total only).
 *
 * ## How
 * A bundle belongs to the live worker holding most of its weight. If the held bundles meet (G) and (T),
 * none split or orphaned, nothing moves — so a re-plan of this module's own output moves nothing.
 * Otherwise at most two attempts, each: keep, place, check; the first whose plan meets (G) and (T) wins.
 * 1. keep, per worker and class: a worker whose bundles of g fit fair_g(w) keeps them all; one over it
 *    sheds, heaviest first, every bundle not heavier than the excess still to shed. In the second,
 *    strict attempt it then also sheds the lightest bundle it kept if some excess is left, so that after
 *    keep every r_g(w) ≥ 0; the first attempt keeps it (fewer moves), and only its check vouches for it.
 * 2. place the rest heaviest first (weight-1 bundles last, class by class). A bundle of weight x and
 *    class g may go to w only if  (a) r_g(w) > C·(x − max(s_wg, x)) — it lands below fair_g(w) + s_wg
 *    (s_wg counted with it), and
 *    (b) if some worker is "needy" in g (r_g ≥ C·H_g), r_g(w) ≥ C·x — it does not overshoot fair_g(w).
 *    Among the workers allowed the choice steers the total (a heuristic: (T) is checked, not proven):
 *    preferably one where the bundle keeps (T)'s upper bound and, while some worker is ≥ S below its
 *    fair share, does not overshoot fair(w); among those, one where it does not overshoot fair_g(w) if
 *    any worker has that room in g (so re-plans after a change keep it); then the most total room net of
 *    what (G) still owes the worker, R(w) − Σ_g (r_g(w) − C·H_g + C) over the classes where it is needy —
 *    searched in heaps (by that room, and per class by r_g), all workers only when those searches fail.
 *    Weight-1 bundles of a class go one by one to the allowed worker where one more keeps (T)'s upper
 *    bound, then without overshooting fair_g, then with the most room R: while some worker is needy
 *    among those with r_g ≥ C (rule (b)), then among those (a) allows — computed for a whole class at
 *    once by levels when it has many (`grouped-units.ts`, the same loads as one by one).
 * 3. if (T) is missed, move single bundles to mend it (`repairTotal`); check (T) and (G). If both
 *    attempts fail — not seen in 400,000 random small plans (with joins and leaves) nor in the bench —
 *    `planGrouped` declines, `weighted.ts` plans in total only, and `stats.groupsBalanced` is false.
 *
 * ## Proof of (G) for the strict attempt (the first attempt's plans are checked)
 * Some worker is always allowed: if one is needy, it is (r_g ≥ C·H_g ≥ C·x > C·(x − max(s_wg, x))); if
 * none is, Σ_w r_g(w) = C·(the weight of g still to place) ≥ C·x > 0, so some r_g(w) > 0 ≥ C·(x −
 * max(s_wg, x)) (for weight-1 bundles, while one is needy it has r_g ≥ C·H_g ≥ C, so the first set is not
 * empty).
 * Upper: keep leaves load_g ≤ fair_g, and (a) puts a bundle only where load_g + x < fair_g + s_wg with the
 * bundle counted in s_wg; s_wg only grows after, so the bound holds at the end.
 * Lower: suppose w ends with r_g(w) ≥ C·H_g. r_g only shrinks, so w was needy at every placement in g,
 * so by (b) no placement in g overshot: every final r_g(v) ≥ 0 (keep leaves them ≥ 0). They sum to
 * C·(L_g − L_g) = 0, so all are 0 — against r_g(w) ≥ C·H_g > 0. Hence load_g(w) > fair_g(w) − H_g. ∎
 * (T) holds as it is checked. (G) ⇒ load_g ≤ ⌈fair_g⌉ − 1 + s_wg and ≥ ⌊fair_g⌋ − (H_g − 1).
 *
 * ## Moves
 * A worker sheds weight of class g only when the bundles of g it owns (F_g(w) at full weight, h of it
 * held) exceed fair_g(w); heaviest first it sheds at most that excess, and (strict attempt) the lightest
 * bundle kept, less than H_g more: < F_g(w) − fair_g(w) + H_g, of which it held at most h. So the moved
 * weight is at most Σ_{w,g : F_g(w) > fair_g(w)} min(h, ⌈F_g(w) − fair_g(w) + H_g⌉ − 1) + the split
 * bundles' minority weight: `movedWeightBound` (orphans are not moves). A join of a worker of capacity c
 * scales every share by C/(C + c): a worker at or below its shares before sheds less than its part of
 * the joiner's fair share L·c/(C + c) plus H_g per class it is over in. A leave orphans the leaver's
 * bundles (not moves) and raises every other share: a worker sheds only what it held above its new
 * share (plus less than H_g per such class), nothing when it was at or below its old one.
 */
import { type PlaceState, placeHeavy, repairTotal } from './grouped-place.js';
import { placeUnits } from './grouped-units.js';
import { sortByHash } from './order.js';
import { type Holdings, tie, type WeightedBundles } from './weighted.js';

/** Largest classes × workers the group-aware placement takes on (its tables are that large). */
export const MAX_CLASS_CELLS = 4_000_000;

export interface GroupedPlan {
  /** Owner (worker index) per bundle. */
  owner: Int32Array;
  /** The bound on the moved weight stated in the module comment. */
  movedWeightBound: number;
}

/**
 * Places bundles (class `cls[b]` in 0..G−1) on workers 0..W−1 (W ≥ 1) of capacities `cap` (total C),
 * meeting (G) and (T) of the module comment; null when it declines (see there).
 */
export function planGrouped(
  W: number,
  cap: ArrayLike<number>,
  C: number,
  bundles: WeightedBundles,
  cls: Int32Array,
  G: number,
  held: Holdings,
  workerHash: Uint32Array,
): GroupedPlan | null {
  const B = bundles.count;
  const { weight } = bundles;
  const owner = new Int32Array(B).fill(-1);
  if (B === 0) return { owner, movedWeightBound: 0 };
  if (G * W > MAX_CLASS_CELLS) return null;
  const Lg = new Float64Array(G);
  const Hg = new Float64Array(G);
  let L = 0;
  let S = 0;
  for (let i = 0; i < B; i++) {
    const g = cls[i];
    Lg[g] += weight[i];
    L += weight[i];
    if (weight[i] > Hg[g]) Hg[g] = weight[i];
    if (weight[i] > S) S = weight[i];
  }
  if (L * C > Number.MAX_SAFE_INTEGER) return null;
  const { heldBy, heldWeight, splitWeight } = held;

  // what each worker owns per class (full weight F, held part), and whether that already meets the bounds
  const full = new Float64Array(G * W);
  const heldPart = new Float64Array(G * W);
  const heaviest = new Float64Array(W);
  const heaviestIn = new Float64Array(G * W); // per (class, worker) cell
  let allHeld = true;
  for (let i = 0; i < B; i++) {
    const w = heldBy[i];
    if (heldWeight[i] !== weight[i]) allHeld = false;
    if (w < 0) continue;
    const cell = cls[i] * W + w;
    full[cell] += weight[i];
    heldPart[cell] += heldWeight[i];
    if (weight[i] > heaviest[w]) heaviest[w] = weight[i];
    if (weight[i] > heaviestIn[cell]) heaviestIn[cell] = weight[i];
  }
  let stable = allHeld;
  const total = new Float64Array(W);
  for (let g = 0; g < G && stable; g++) {
    for (let w = 0; w < W; w++) {
      const cell = g * W + w;
      const over = C * full[cell] - Lg[g] * cap[w]; // C · (F_g(w) − fair_g(w))
      if (over >= C * heaviestIn[cell] || -over >= C * Hg[g]) stable = false;
      total[w] += full[cell];
    }
  }
  for (let w = 0; w < W && stable; w++) {
    const R = L * cap[w] - C * total[w];
    if ((total[w] > 0 && R <= -C * heaviest[w]) || R >= C * S) stable = false;
  }
  if (stable) {
    owner.set(heldBy);
    return { owner, movedWeightBound: 0 };
  }

  // a worker over its share sheds less than its excess + H_g (module comment), of which it held heldPart
  let movedWeightBound = splitWeight;
  for (let g = 0; g < G; g++) {
    for (let w = 0; w < W; w++) {
      const over = C * full[g * W + w] - Lg[g] * cap[w];
      if (over > 0) movedWeightBound += Math.min(heldPart[g * W + w], Math.ceil((over + C * Hg[g]) / C) - 1);
    }
  }
  const r = new Float64Array(G * W);
  const R = new Float64Array(W);
  const heaviestOn = new Float64Array(W);
  const put = (b: number, w: number) => {
    const cell = cls[b] * W + w;
    owner[b] = w;
    r[cell] -= C * weight[b];
    R[w] -= C * weight[b];
    if (weight[b] > heaviestOn[w]) heaviestOn[w] = weight[b];
    if (weight[b] > heaviestIn[cell]) heaviestIn[cell] = weight[b];
  };
  const st: PlaceState = { W, C, S, Hg, r, R, heaviestOn, heaviestIn, weight, cls, workerHash, put };
  // held bundles by (class, worker) cell (counting sort); in a cell over its share, heaviest first, among
  // equals the less held one first (it is shed first)
  const cellStart = new Int32Array(G * W + 1);
  for (let i = 0; i < B; i++) if (heldBy[i] >= 0) cellStart[cls[i] * W + heldBy[i] + 1]++;
  for (let c = 0; c < G * W; c++) cellStart[c + 1] += cellStart[c];
  const mine = new Int32Array(cellStart[G * W]);
  const fill = cellStart.slice(0, G * W);
  for (let i = 0; i < B; i++) if (heldBy[i] >= 0) mine[fill[cls[i] * W + heldBy[i]]++] = i;
  const byShedOrder = (x: number, y: number) =>
    weight[y] - weight[x] || heldWeight[x] - heldWeight[y] || tie(bundles, x, y);
  for (let g = 0; g < G; g++) {
    for (let w = 0; w < W; w++) {
      const c = g * W + w;
      if (C * full[c] > Lg[g] * cap[w] && cellStart[c + 1] - cellStart[c] > 1) {
        const sorted = Array.from(mine.subarray(cellStart[c], cellStart[c + 1])).sort(byShedOrder);
        mine.set(sorted, cellStart[c]);
      }
    }
  }

  // every bundle in tie order: by hash, then first task id (never the input order)
  const order: number[] = new Array(B);
  for (let i = 0; i < B; i++) order[i] = i;
  sortByHash(order, bundles.hash, bundles.firstId);

  const { heavy, units } = placementOrder(order, weight, cls, G);
  const spare = new Uint8Array(B);
  const attempt = (strict: boolean): boolean => {
    owner.fill(-1);
    spare.fill(0);
    heaviestOn.fill(0);
    heaviestIn.fill(0);
    for (let w = 0; w < W; w++) R[w] = L * cap[w];
    for (let g = 0; g < G; g++) for (let w = 0; w < W; w++) r[g * W + w] = Lg[g] * cap[w];
    // 1. keep
    for (let g = 0; g < G; g++) {
      for (let w = 0; w < W; w++) {
        const c = g * W + w;
        let excess = C * full[c] - r[c]; // nothing of (w, g) put yet: r = C·fair_g(w)
        let lightest = -1;
        for (let k = cellStart[c]; k < cellStart[c + 1]; k++) {
          const b = mine[k];
          if (excess > 0 && C * weight[b] <= excess) {
            excess -= C * weight[b];
            continue;
          }
          put(b, w);
          lightest = b;
        }
        if (strict && excess > 0 && lightest >= 0) {
          owner[lightest] = -1;
          r[c] += C * weight[lightest];
          R[w] += C * weight[lightest];
        } else if (excess > 0 && lightest >= 0) spare[lightest] = 1; // the strict keep would shed it
      }
    }
    heaviestOn.fill(0);
    heaviestIn.fill(0);
    for (let i = 0; i < B; i++) {
      const w = owner[i];
      if (w < 0) continue;
      if (weight[i] > heaviestOn[w]) heaviestOn[w] = weight[i];
      if (weight[i] > heaviestIn[cls[i] * W + w]) heaviestIn[cls[i] * W + w] = weight[i];
    }
    // 2. place what keep left: heavier bundles heaviest first, then weight-1 bundles class by class
    const pending = unkept(heavy, owner);
    const unitOrder = unkept(units, owner);
    placeHeavy(st, G, pending);
    placeUnits(st, unitOrder);
    repairTotal(st, owner, heldBy, order, spare);
    // 3. check (T), and (G) (proven for the strict keep, checked all the same)
    for (let w = 0; w < W; w++) {
      const loaded = R[w] < L * cap[w];
      if ((loaded && R[w] <= -C * heaviestOn[w]) || R[w] >= C * S) return false;
    }
    for (let c = 0; c < G * W; c++) {
      if (r[c] >= C * Hg[(c / W) | 0]) return false;
      if (heaviestIn[c] > 0 && r[c] <= -C * heaviestIn[c]) return false;
    }
    return true;
  };
  // sticky first (a worker over fair_g keeps its lightest bundle in excess), then the strict keep
  if (!attempt(false) && !attempt(true)) return null;
  return { owner, movedWeightBound };
}

/**
 * The order of step 2 over all bundles (each attempt skips those it kept): bundles heavier than 1 heaviest
 * first, then the weight-1 bundles class by class; each in `order` (tie order) among equals.
 */
function placementOrder(
  order: readonly number[],
  weight: Float64Array,
  cls: Int32Array,
  G: number,
): { heavy: Int32Array; units: Int32Array } {
  const B = order.length;
  const perClass = new Int32Array(G + 1);
  let heavy = new Int32Array(B);
  let n = 0;
  let most = 0;
  for (let k = 0; k < B; k++) {
    const i = order[k];
    const x = weight[i];
    if (x > 1) {
      heavy[n++] = i;
      if (x > most) most = x;
    } else perClass[cls[i] + 1]++;
  }
  heavy = heavy.subarray(0, n);
  for (let g = 0; g < G; g++) perClass[g + 1] += perClass[g];
  const units = new Int32Array(B - n);
  for (let k = 0; k < B; k++) {
    const i = order[k];
    if (weight[i] <= 1) units[perClass[cls[i]]++] = i;
  }
  if (most > 4 * n + 1024) {
    const list = Array.from(heavy).sort((x, y) => weight[y] - weight[x]); // stable: tie order among equals
    return { heavy: Int32Array.from(list), units };
  }
  // a counting sort by weight (integers), heaviest first, stable
  const at = new Int32Array(most + 2);
  for (let k = 0; k < n; k++) at[most - weight[heavy[k]] + 1]++;
  for (let x = 0; x <= most; x++) at[x + 1] += at[x];
  const sorted = new Int32Array(n);
  for (let k = 0; k < n; k++) sorted[at[most - weight[heavy[k]]]++] = heavy[k];
  return { heavy: sorted, units };
}

/** The bundles of `list` no keep step kept (owner −1), in their order. */
function unkept(list: Int32Array, owner: Int32Array): Int32Array {
  let n = 0;
  for (let k = 0; k < list.length; k++) if (owner[list[k]] < 0) n++;
  if (n === list.length) return list;
  const out = new Int32Array(n);
  n = 0;
  for (let k = 0; k < list.length; k++) if (owner[list[k]] < 0) out[n++] = list[k];
  return out;
}
