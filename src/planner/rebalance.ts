/**
 * The planner: online workers + desired tasks + current assignment → target assignment and the diff.
 * A pure, deterministic function with no I/O (DESIGN §5).
 *
 * Guarantees of {@link rebalance}:
 * - every desired task is on exactly one online worker; nothing stays on a dead worker; ids no longer
 *   desired are revoked;
 * - unkeyed tasks: per group max − min ≤ 1, always; without keyed tasks also total max − min ≤ 1;
 * - keyed tasks (same non-empty `key`) share one worker; keyed load(w) ≤ ⌈K/W⌉ − 1 + the largest bundle on w
 *   and ≥ ⌊K/W⌋ − (S − 1) (K = keyed tasks, S = largest bundle): a hot key exceeds the average only by its
 *   own size, and nobody is starved by more than a bundle (see `planner/keyed.ts`);
 * - total load (keyed + unkeyed) with keys: bundles are placed first (keyed load k_w); then each worker's
 *   share of the unkeyed groups' extra units (group g has T_g mod W of them, on distinct workers) is
 *   bounded so that the totals are as level as the groups allow (`planner/levels.ts`): no extra lifts a
 *   worker above M*, the least level any per-group-balanced placement can keep its extras under, and
 *   under that the lowest total is as high as possible. Hence: whenever some per-group-balanced placement
 *   of the unkeyed tasks makes total max − min ≤ 1 around these bundles, the plan's total max − min ≤ 1;
 *   and always total(w) ≤ ⌈T/W⌉ + S. The unkeyed load alone is then uneven on purpose (workers with less
 *   keyed load take more); with equal keyed loads it is exactly the unkeyed case;
 * - a task held by several live workers (an inconsistent `current`) keeps the copy the plan targets, the
 *   others are revoked without counting as moves; the plan is made from the copy first by hash;
 * - sticky: for unkeyed tasks the number of moves equals the lower bound — orphans (tasks that are new or
 *   whose holder is gone) are not moves, and each worker gives up only its excess over a quota chosen, among
 *   all per-group-balanced quotas within the level bounds above (without keys: all per-group- and
 *   total-balanced quotas), to keep the most (proof in `planner/extras.ts`); a re-plan of the planner's own
 *   output moves nothing (keyed bundles that meet their bounds stay, so the levels, and with them the
 *   quotas the held tasks already fill, are the same). With keys, leveling has a price in moves: a bundle
 *   of s tasks that lands on (leave) or leaves (join) a worker whose total was level makes it shed or
 *   regain about s − 1 unkeyed tasks, which a plan with total max − min ≤ 1 cannot avoid;
 * - deterministic: ties are broken by FNV-1a hashes of names, never by name order or `Math.random`; the
 *   result does not depend on the order of `workers`, `tasks` or `current`.
 *
 * Unequal work and machines (`Task.weight`, `capacities`): a worker's load is the sum of its tasks' weights,
 * its fair share L·c_w/C (L the total weight, C the total capacity), per group likewise. When every weight
 * and every online worker's capacity is 1, the plan is exactly the count plan above (the same code runs;
 * `test/planner.allones.test.ts` checks it against the plans of the planner as it was before weights).
 * Otherwise (`planner/unequal.ts`):
 * - unit weights, no keys, some capacity ≠ 1 (`stats.mode` 'proportional'): per group every worker's count
 *   is ⌊T_g·c_w/C⌋ or ⌈T_g·c_w/C⌉, in total ⌊T·c_w/C⌋ or ⌈T·c_w/C⌉ (such quotas always exist), and the
 *   moves equal the lower bound over those quotas (`planner/proportional.ts`);
 * - otherwise ('weighted'): every task is in a bundle (its key's, whose weight is the sum of its tasks'
 *   weights, or alone) and has a class: its group (unkeyed tasks), or one class for all key bundles. Per
 *   class, |load_g(w) − fair_g(w)| < H_g (the class's heaviest bundle); in total fair_w − S < load(w) <
 *   fair_w + s_w (s_w the heaviest bundle on w, S the heaviest of all), so load(w) ≤ Q_w − 1 + s_w and
 *   ≥ Q_w − (S − 1) with Q_w = ⌊fair_w⌋ or ⌈fair_w⌉; a re-plan of the planner's own output moves nothing;
 *   the moved weight is bounded (`stats.movedWeightBound`), proofs in `planner/grouped.ts`. The per-class
 *   bounds are proven for its placement and the total ones checked: on inputs where the check fails (none
 *   seen in 300,000 random small plans), `planner/weighted.ts` plans in total only and `stats.groupsBalanced` is false.
 * - deterministic and order-independent as above.
 *
 * `workers: []` is well defined: every current assignment is revoked, nothing is assigned (the master treats
 * zero workers as "leave everything as it is" and does not call the planner then).
 */
import type { Task } from '../task.js';
import { type Capacities, readCapacities, readWeights } from './capacity.js';
import { type CurrentAssignment, readCurrent } from './current.js';
import { type Assignment, diff, type Revocation } from './diff.js';
import { fnv1a } from './hash.js';
import { indexTasks, orderWorkers } from './input.js';
import { type Bundle, planBundles } from './keyed.js';
import { compareIds, sortSmallByIds, spread } from './order.js';
import { type PlanMode, planUnequal } from './unequal.js';
import { planUnkeyed } from './unkeyed.js';

export type { Assignment, Capacities, CurrentAssignment, PlanMode, Revocation };

/** Input of {@link rebalance}. */
export interface RebalanceInput {
  /** Names of the online workers (unique). */
  workers: readonly string[];
  /** The desired tasks (unique ids). */
  tasks: readonly Task[];
  /** What each worker holds now. @default empty */
  current?: CurrentAssignment;
  /** Worker name → capacity (a positive integer); workers not named have capacity 1. @default all 1 */
  capacities?: Capacities;
}

/** Figures about a plan, for status, metrics and tests. */
export interface RebalanceStats {
  /** Online workers. */
  workers: number;
  /** Desired tasks. */
  tasks: number;
  /** Desired tasks that carry a key. */
  keyedTasks: number;
  /** Distinct keys. */
  keys: number;
  /** Desired tasks that no live worker holds now (new, or their holder is gone): assigned, not moves. */
  orphans: number;
  /** Moves of unkeyed tasks (equal to `unkeyedLowerBound` in 'count' and 'proportional' modes). */
  unkeyedMoves: number;
  /**
   * Minimum moves of unkeyed tasks over every balanced plan (given the keyed placement, see `rebalance`);
   * 0 in 'weighted' mode, where `movedWeightBound` bounds the moved weight instead.
   */
  unkeyedLowerBound: number;
  /** Moves of keyed tasks. */
  keyedMoves: number;
  /** Keyed moves forced by tasks of one key held by several live workers. */
  keyedForcedMoves: number;
  /** Target load (task count) per online worker. */
  load: Map<string, number>;
  /** max − min of the total target load over online workers. */
  maxMinTotal: number;
  /** max − min of the unkeyed target load over online workers (≤ 1 without keyed tasks). */
  maxMinUnkeyed: number;
  /** Largest max − min, over groups, of the unkeyed tasks of that group. */
  worstMaxMinPerGroup: number;
  /** Which planner ran: 'count' when every weight and capacity is 1 (see `rebalance`). */
  mode: PlanMode;
  /** Target load in weight (sum of the tasks' weights) per online worker; equals `load` without weights. */
  weight: Map<string, number>;
  /** The largest, over online workers, of its weight load over its fair share L·c_w/C (1 without tasks). */
  maxLoadOverFair: number;
  /** Total weight of the moved tasks. */
  movedWeight: number;
  /** In 'weighted' mode, the bound on `movedWeight` proven in `planner/grouped.ts` (or `weighted.ts`). */
  movedWeightBound?: number;
  /**
   * In 'weighted' mode: true when every group (and the key bundles as one class) is balanced as well as
   * the total (`planner/grouped.ts`), false when the plan is balanced in total only (`planner/weighted.ts`).
   */
  groupsBalanced?: boolean;
}

/** The result of {@link rebalance}. */
export interface RebalanceResult {
  /** Every online worker (in the order of `workers`) → the tasks it should hold (in the order of `tasks`). */
  target: Map<string, Task[]>;
  /** Assignments to delete: dead workers' tasks, ids no longer desired, duplicates and moved tasks. */
  revoke: Revocation[];
  /** Assignments to write, highest priority first, ties by id. */
  assign: Assignment[];
  /** Tasks leaving a live worker for another one. */
  moves: number;
  /**
   * Least possible moves for this input: exact for unkeyed tasks (the least over every quota the plan
   * could have chosen: per-group balanced and, with keys, within the level bounds around the keyed
   * placement), plus the keyed moves that keeping each key's tasks together forces. Computed from the
   * quotas and the held counts, independently of the diff.
   */
  lowerBound: number;
  stats: RebalanceStats;
}

/** Plans where every task runs; see the module comment for what it guarantees. */
export function rebalance(input: RebalanceInput): RebalanceResult {
  const tasks = input.tasks;
  const names = orderWorkers(input.workers);
  const W = names.length;
  const widx = new Map<string, number>();
  for (let w = 0; w < W; w++) widx.set(names[w], w);
  const workerHash = new Uint32Array(W);
  for (let w = 0; w < W; w++) workerHash[w] = fnv1a(names[w]);

  const N = tasks.length;
  const index = indexTasks(tasks);
  const ids = index.ids;
  const cap = readCapacities(names, input.capacities);
  const weights = readWeights(tasks);
  let mode: PlanMode = 'count';
  let movedWeightBound: number | undefined;
  let groupsBalanced: boolean | undefined;
  // current holders; everything on dead workers, stale ids and duplicate copies is revoked
  const revoke: Revocation[] = [];
  const { holder, copies } = readCurrent(input.current, widx, index, revoke);
  const final = new Int32Array(N).fill(-1);
  let orphans = 0;
  for (let i = 0; i < N; i++) if (holder[i] < 0) orphans++;

  let keyedTasks = 0;
  let unkeyedLowerBound = 0;
  let worstMaxMin = 0;
  let keyedForcedMoves = 0;
  // partition: bundles by key, unkeyed tasks by group
  const prio = new Float64Array(N);
  const isKeyed = new Uint8Array(N);
  const bundleOf = new Map<string, number[]>();
  const groupOf = new Map<string, number[]>();
  for (let i = 0; i < N; i++) {
    const task = tasks[i];
    prio[i] = task.priority ?? 0;
    const key = task.key ?? '';
    if (key !== '') {
      keyedTasks++;
      isKeyed[i] = 1;
      let list = bundleOf.get(key);
      if (!list) {
        list = [];
        bundleOf.set(key, list);
      }
      list.push(i);
      continue;
    }
    const group = task.group ?? '';
    let list = groupOf.get(group);
    if (!list) {
      list = [];
      groupOf.set(group, list);
    }
    list.push(i);
  }
  if (W > 0 && (cap || weights)) {
    const plan = planUnequal({
      W,
      cap: cap ?? new Float64Array(W).fill(1),
      weight: weights,
      bundleOf,
      groupOf,
      index,
      prio,
      holder,
      final,
      workerHash,
    });
    mode = plan.mode;
    movedWeightBound = plan.movedWeightBound;
    groupsBalanced = plan.groupsBalanced;
    keyedForcedMoves = plan.keyedForcedMoves;
    unkeyedLowerBound = plan.lowerBound - plan.keyedForcedMoves;
  } else if (W > 0) {
    // keyed bundles first; the unkeyed extras then level the totals around them
    const keyedLoad = new Int32Array(W);
    if (bundleOf.size > 0) {
      const bundles: Bundle[] = [];
      for (const [key, list] of bundleOf) bundles.push({ tasks: list, hash: fnv1a(key) });
      bundles.sort((x, y) => x.hash - y.hash || compareIds(ids, x.tasks[0], y.tasks[0]));
      for (const bundle of bundles) if (bundle.tasks.length > 1) sortSmallByIds(bundle.tasks, ids);
      const keyed = planBundles(W, bundles, holder, workerHash);
      keyedForcedMoves = keyed.forcedMoves;
      for (let i = 0; i < bundles.length; i++) {
        const w = keyed.owner[i];
        keyedLoad[w] += bundles[i].tasks.length;
        for (const t of bundles[i].tasks) final[t] = w;
      }
    }
    const unkeyed = planUnkeyed(W, groupOf, index, prio, holder, final, workerHash, keyedLoad);
    unkeyedLowerBound = unkeyed.lowerBound;
    worstMaxMin = unkeyed.worstMaxMin;
  }

  const { perWorker, unkeyedLoad, assign, unkeyedMoves, keyedMoves, movedWeight } = diff(
    { tasks, names, index, prio, isKeyed, holder, copies, final, weight: weights },
    revoke,
  );
  const target = new Map<string, Task[]>();
  const load = new Map<string, number>();
  const weightLoad = new Map<string, number>();
  let L = 0;
  let C = 0;
  for (let w = 0; w < W; w++) C += cap ? cap[w] : 1;
  for (let i = 0; i < N; i++) L += weights ? weights[i] : 1;
  let maxLoadOverFair = W > 0 && L > 0 ? 0 : 1;
  for (const name of input.workers) {
    const w = widx.get(name)!;
    const list = perWorker[w];
    target.set(name, list);
    load.set(name, list.length);
    let sum = list.length;
    if (weights) {
      sum = 0;
      for (const t of list) sum += t.weight ?? 1;
    }
    weightLoad.set(name, sum);
    if (L > 0) maxLoadOverFair = Math.max(maxLoadOverFair, (sum * C) / (L * (cap ? cap[w] : 1)));
  }
  return {
    target,
    revoke,
    assign,
    moves: unkeyedMoves + keyedMoves,
    lowerBound: unkeyedLowerBound + keyedForcedMoves,
    stats: {
      workers: W,
      tasks: N,
      keyedTasks,
      keys: bundleOf.size,
      orphans,
      unkeyedMoves,
      unkeyedLowerBound,
      keyedMoves,
      keyedForcedMoves,
      load,
      maxMinTotal: spread(Array.from(perWorker, (l) => l.length)),
      maxMinUnkeyed: spread(unkeyedLoad),
      worstMaxMinPerGroup: worstMaxMin,
      mode,
      weight: weightLoad,
      maxLoadOverFair,
      movedWeight,
      ...(movedWeightBound !== undefined ? { movedWeightBound } : {}),
      ...(groupsBalanced !== undefined ? { groupsBalanced } : {}),
    },
  };
}
