/**
 * The move budget (`maxMoves`): when a plan moves more tasks between live workers than the budget, keep
 * the budget's worth — the moves that reduce imbalance most — and leave the others where they are, for
 * the next schedule. Orphans (new tasks, dead workers' tasks) are never moves, so they never wait.
 */
import { compareStrings } from '../../planner/hash.js';

/** A move the budget may keep or defer: one task, or a key bundle that moves as one. */
export interface MoveUnit {
  ids: string[];
  from: string;
  to: string;
}

/**
 * Picks units within `maxMoves` tasks, greedily: each step takes the unit whose source is furthest above
 * its target load and whose destination furthest below (given the choices so far); a bundle larger than
 * the whole budget moves alone when nothing else fits, so a schedule always makes progress. Reverts the
 * others in `final` (to their source) and returns how many tasks were deferred.
 */
export function applyBudget(
  units: readonly MoveUnit[],
  maxMoves: number,
  final: Map<string, string>,
): number {
  let total = 0;
  for (const u of units) total += u.ids.length;
  if (total <= maxMoves) return 0;
  // Excess over the planned load of each worker if nothing moved; each kept move lowers it at the source
  // and raises it at the destination.
  const excess = new Map<string, number>();
  const bump = (w: string, n: number) => excess.set(w, (excess.get(w) ?? 0) + n);
  const pairs = new Map<string, MoveUnit[]>();
  for (const u of units) {
    bump(u.from, u.ids.length);
    bump(u.to, -u.ids.length);
    const key = `${u.from}\u0000${u.to}`;
    const list = pairs.get(key);
    if (list) list.push(u);
    else pairs.set(key, [u]);
  }
  const queues = [...pairs.entries()]
    .sort((a, b) => compareStrings(a[0], b[0]))
    .map(([, list]) =>
      list.sort((x, y) => x.ids.length - y.ids.length || compareStrings(x.ids[0], y.ids[0])),
    );
  const heads = new Array<number>(queues.length).fill(0);
  const kept = new Set<MoveUnit>();
  let budget = maxMoves;
  const pick = (oversize: boolean): number => {
    let best = -1;
    let bestScore = Number.NEGATIVE_INFINITY;
    for (let q = 0; q < queues.length; q++) {
      const unit = queues[q][heads[q]];
      if (!unit || (unit.ids.length > budget && !oversize)) continue;
      const score = (excess.get(unit.from) ?? 0) - (excess.get(unit.to) ?? 0);
      if (score > bestScore) {
        best = q;
        bestScore = score;
      }
    }
    return best;
  };
  for (;;) {
    let best = pick(false);
    if (best < 0 && kept.size === 0) best = pick(true);
    if (best < 0) break;
    const unit = queues[best][heads[best]++];
    kept.add(unit);
    budget -= unit.ids.length;
    bump(unit.from, -unit.ids.length);
    bump(unit.to, unit.ids.length);
    if (budget <= 0) break;
  }
  let deferred = 0;
  for (const u of units) {
    if (kept.has(u)) continue;
    deferred += u.ids.length;
    for (const id of u.ids) final.set(id, u.from);
  }
  return deferred;
}
