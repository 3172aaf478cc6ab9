/**
 * The planner for unequal work or unequal machines: chosen by `rebalance` when a task's weight or an
 * online worker's capacity is not 1 (with all of them 1 the count planner runs, unchanged).
 * - `proportional`: every weight 1, no keyed task, some capacity ≠ 1 — per-group and total proportional
 *   quotas with the fewest moves (`proportional.ts`);
 * - `weighted`: some weight ≠ 1, or keys with capacities — every task in a bundle (its key's, or alone),
 *   bundles balanced by weight against capacity quotas (`weighted.ts`).
 */

import { fnv1a } from './hash.js';
import type { IdIndex } from './ids.js';
import { compareIds, sortSmallByIds } from './order.js';
import { planProportional } from './proportional.js';
import { planWeighted, type WeightedBundle } from './weighted.js';

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
  /** Weighted: the bound on the moved weight (`weighted.ts`). */
  movedWeightBound?: number;
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
  const { ids, hash } = index;
  const wt = (t: number) => (weight ? weight[t] : 1);
  const bundles: WeightedBundle[] = [];
  for (const [key, list] of bundleOf) {
    let sum = 0;
    for (const t of list) sum += wt(t);
    if (list.length > 1) sortSmallByIds(list, ids);
    bundles.push({ tasks: list, weight: sum, hash: fnv1a(key) });
  }
  for (const list of groupOf.values())
    for (const t of list) bundles.push({ tasks: [t], weight: wt(t), hash: hash[t] });
  bundles.sort((x, y) => x.hash - y.hash || compareIds(ids, x.tasks[0], y.tasks[0]));
  const ones = weight ?? new Float64Array(index.ids.length).fill(1);
  const plan = planWeighted(W, cap, C, bundles, ones, holder, workerHash);
  for (let i = 0; i < bundles.length; i++) for (const t of bundles[i].tasks) final[t] = plan.owner[i];
  return {
    mode: 'weighted',
    lowerBound: plan.forcedMoves,
    keyedForcedMoves: plan.forcedMoves,
    movedWeightBound: plan.movedWeightBound,
  };
}
