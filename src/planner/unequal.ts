/**
 * The planner for unequal work or unequal machines: chosen by `rebalance` when a task's weight or an
 * online worker's capacity is not 1 (with all of them 1 the count planner runs, unchanged).
 * - `proportional`: every weight 1, no keyed task, some capacity ≠ 1 — per-group and total proportional
 *   quotas with the fewest moves (`proportional.ts`);
 * - `weighted`: some weight ≠ 1, or keys with capacities — every task in a bundle (its key's, or alone),
 *   bundles balanced by weight per class (each group; all key bundles) and in total (`grouped.ts`), or in
 *   total only when that one declines (`weighted.ts`).
 */

import { planGrouped } from './grouped.js';
import { fnv1a } from './hash.js';
import type { IdIndex } from './ids.js';
import { sortSmallByIds } from './order.js';
import { planProportional } from './proportional.js';
import { holdings, planWeighted, type WeightedBundles } from './weighted.js';

export type PlanMode = 'count' | 'proportional' | 'weighted';

export interface UnequalInput {
  W: number;
  /** Capacity per worker (planning order). */
  cap: Float64Array;
  /** Weight per task, undefined when all are 1. */
  weight: Float64Array | undefined;
  bundleOf: Map<string, number[]>;
  groupOf: Map<string, number[]>;
  index: IdIndex;
  prio: Float64Array;
  holder: Int32Array;
  final: Int32Array;
  workerHash: Uint32Array;
}

export interface UnequalPlan {
  mode: PlanMode;
  /** Proportional: the exact least moves; weighted: the moves split keys force. */
  lowerBound: number;
  keyedForcedMoves: number;
  /** Weighted: the bound on the moved weight (`grouped.ts`, or `weighted.ts` when that one planned). */
  movedWeightBound?: number;
  /** Weighted: true when `grouped.ts` planned (each group balanced too), false when `weighted.ts` did. */
  groupsBalanced?: boolean;
}

/** Fills `final` for W ≥ 1 workers. */
export function planUnequal(p: UnequalInput): UnequalPlan {
  const { W, cap, weight, bundleOf, groupOf, index, prio, holder, final, workerHash } = p;
  let C = 0;
  for (let w = 0; w < W; w++) C += cap[w];
  if (!weight && bundleOf.size === 0) {
    const groups = [...groupOf.keys()].map((name) => ({ name, hash: fnv1a(name) }));
    groups.sort((x, y) => x.hash - y.hash || (x.name < y.name ? -1 : x.name > y.name ? 1 : 0));
    const lists = groups.map((g) => groupOf.get(g.name)!);
    const { lowerBound } = planProportional(W, cap, C, lists, index, prio, holder, final);
    return { mode: 'proportional', lowerBound, keyedForcedMoves: 0 };
  }
  // every task in a bundle: its key's, or alone; flattened (no object per bundle). Classes: the groups of
  // the unkeyed tasks in hash order (never the input order), then one class for all key bundles
  const { ids, hash } = index;
  const groupNames = [...groupOf.keys()].map((name) => ({ name, hash: fnv1a(name) }));
  groupNames.sort((x, y) => x.hash - y.hash || (x.name < y.name ? -1 : x.name > y.name ? 1 : 0));
  const classOf = new Map(groupNames.map((g, i) => [g.name, i]));
  const G = groupNames.length + (bundleOf.size > 0 ? 1 : 0);
  let count = bundleOf.size;
  for (const list of groupOf.values()) count += list.length;
  const N = ids.length;
  const start = new Int32Array(count + 1);
  const flat = new Int32Array(N);
  const bWeight = new Float64Array(count);
  const bHash = new Uint32Array(count);
  const firstId: string[] = new Array(count);
  const cls = new Int32Array(count);
  let b = 0;
  let n = 0;
  for (const [key, list] of bundleOf) {
    if (list.length > 1) sortSmallByIds(list, ids);
    start[b] = n;
    let sum = 0;
    for (const t of list) {
      flat[n++] = t;
      sum += weight ? weight[t] : 1;
    }
    bWeight[b] = sum;
    bHash[b] = fnv1a(key);
    firstId[b] = ids[list[0]];
    cls[b] = groupNames.length;
    b++;
  }
  for (const [name, list] of groupOf) {
    const g = classOf.get(name)!;
    for (const t of list) {
      cls[b] = g;
      start[b] = n;
      flat[n++] = t;
      bWeight[b] = weight ? weight[t] : 1;
      bHash[b] = hash[t];
      firstId[b] = ids[t];
      b++;
    }
  }
  start[count] = n;
  const bundles: WeightedBundles = { count, start, tasks: flat, weight: bWeight, hash: bHash, firstId };
  const ones = weight ?? new Float64Array(N).fill(1);
  const held = holdings(bundles, ones, holder, workerHash);
  const grouped = planGrouped(W, cap, C, bundles, cls, G, held, workerHash);
  const plan = grouped ?? planWeighted(W, cap, C, bundles, held, workerHash);
  for (let i = 0; i < count; i++)
    for (let j = start[i]; j < start[i + 1]; j++) final[flat[j]] = plan.owner[i];
  return {
    mode: 'weighted',
    lowerBound: held.forcedMoves,
    keyedForcedMoves: held.forcedMoves,
    movedWeightBound: plan.movedWeightBound,
    groupsBalanced: grouped !== null,
  };
}
