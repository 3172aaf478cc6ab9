/**
 * Pins, applied to a plan's placement: a pinned task goes to its worker, and a task of the same group
 * that the plan put there goes the other way, so the per-group and total counts the planner balanced stay
 * as they were (pins count toward balance). With weights (issue 14) the task sent back is the one whose
 * weight is closest to the pinned task's, so the loads move by at most the difference of the two. A keyed task's pin takes its whole key bundle along, and as
 * many unkeyed tasks go back the other way. A pin only applies while its worker may take tasks (online,
 * neither cordoned nor draining) and the task is not held elsewhere; otherwise the task is placed as usual.
 */
import { compareStrings } from '../../planner/hash.js';
import type { Task } from '../../task.js';
import type { PinControl } from './state.js';

export interface PinInput {
  pins: readonly PinControl[];
  tasks: readonly Task[];
  /** Task ids whose placement is fixed (held on a cordoned worker): pins do not touch them. */
  held: ReadonlySet<string>;
  /** Workers that may take tasks. */
  eligible: ReadonlySet<string>;
  /** Task id → every worker holding it now. */
  holders: ReadonlyMap<string, readonly string[]>;
}

/**
 * Applies the pins to `final` (task id → worker), in place; returns the ids pinned in effect and the
 * problems (conflicting pins of one key bundle).
 */
export function applyPins(
  p: PinInput,
  final: Map<string, string>,
): { pinned: Set<string>; problems: string[] } {
  const problems: string[] = [];
  const byId = new Map<string, Task>();
  const bundles = new Map<string, string[]>();
  for (const t of p.tasks) {
    if (p.held.has(t.id)) continue;
    byId.set(t.id, t);
    const key = t.key ?? '';
    if (key === '') continue;
    const list = bundles.get(key);
    if (list) list.push(t.id);
    else bundles.set(key, [t.id]);
  }
  // Pins in effect: task id → worker; one worker per key bundle (the first pin by task id wins).
  const pinnedTo = new Map<string, string>();
  const keyPin = new Map<string, PinControl>();
  const units: { ids: string[]; worker: string }[] = [];
  for (const pin of p.pins) {
    const task = byId.get(pin.task);
    if (!task || !p.eligible.has(pin.worker)) continue;
    const key = task.key ?? '';
    if (key === '') {
      pinnedTo.set(pin.task, pin.worker);
      units.push({ ids: [pin.task], worker: pin.worker });
      continue;
    }
    const first = keyPin.get(key);
    if (first) {
      if (first.worker !== pin.worker) {
        problems.push(
          `pin of task ${JSON.stringify(pin.task)} to ${JSON.stringify(pin.worker)} ignored: task ${JSON.stringify(first.task)} of the same key is pinned to ${JSON.stringify(first.worker)}`,
        );
      }
      continue;
    }
    keyPin.set(key, pin);
    const ids = bundles.get(key) ?? [pin.task];
    for (const id of ids) pinnedTo.set(id, pin.worker);
    units.push({ ids, worker: pin.worker });
  }

  for (const unit of units) {
    const w = unit.worker;
    for (const id of unit.ids) {
      const from = final.get(id);
      if (from === w) continue;
      final.set(id, w);
      if (from === undefined) continue;
      const task = byId.get(id)!;
      // Same group first (unkeyed pins keep the per-group counts), then any unkeyed task.
      const group = (task.key ?? '') === '' ? (task.group ?? '') : undefined;
      const weight = task.weight ?? 1;
      const partner =
        (group !== undefined
          ? pickPartner(byId, final, pinnedTo, p.holders, { w, to: from, group, weight })
          : undefined) ??
        pickPartner(byId, final, pinnedTo, p.holders, { w, to: from, group: undefined, weight });
      if (partner !== undefined) final.set(partner, from);
    }
  }
  return { pinned: new Set(pinnedTo.keys()), problems };
}

/**
 * The key bundles whose pin applies, as task id → pinned worker (the first pin by task id of each key).
 * The plan starts from a `current` in which these bundles already sit on their workers: the planner keeps
 * a bundle where it is when it can, and levels the unkeyed tasks around it.
 */
export function keyedPins(p: Omit<PinInput, 'holders'>): Map<string, string> {
  const out = new Map<string, string>();
  const byId = new Map<string, Task>();
  const bundles = new Map<string, string[]>();
  for (const t of p.tasks) {
    const key = t.key ?? '';
    if (key === '' || p.held.has(t.id)) continue;
    byId.set(t.id, t);
    const list = bundles.get(key);
    if (list) list.push(t.id);
    else bundles.set(key, [t.id]);
  }
  const done = new Set<string>();
  for (const pin of p.pins) {
    const key = byId.get(pin.task)?.key;
    if (key === undefined || done.has(key) || !p.eligible.has(pin.worker)) continue;
    done.add(key);
    for (const id of bundles.get(key) ?? []) out.set(id, pin.worker);
  }
  return out;
}

/**
 * An unkeyed, unpinned task the plan put on `w` to send to `to` instead: the weight closest to `weight`
 * first (all equal without weights), then one `to` holds now (sending it back costs no move), then one
 * `w` does not hold (it was arriving anyway), then any; ties by id.
 */
function pickPartner(
  byId: ReadonlyMap<string, Task>,
  final: ReadonlyMap<string, string>,
  pinnedTo: ReadonlyMap<string, string>,
  holders: ReadonlyMap<string, readonly string[]>,
  want: { w: string; to: string; group: string | undefined; weight: number },
): string | undefined {
  const { w, to, group, weight } = want;
  let best: string | undefined;
  let bestGap = Number.POSITIVE_INFINITY;
  let bestRank = 3;
  for (const [id, worker] of final) {
    if (worker !== w || pinnedTo.has(id)) continue;
    const t = byId.get(id);
    if (!t || (t.key ?? '') !== '') continue;
    if (group !== undefined && (t.group ?? '') !== group) continue;
    const gap = Math.abs((t.weight ?? 1) - weight);
    const hs = holders.get(id) ?? [];
    const rank = hs.includes(to) ? 0 : hs.includes(w) ? 2 : 1;
    const better =
      gap < bestGap ||
      (gap === bestGap &&
        (rank < bestRank || (rank === bestRank && best !== undefined && compareStrings(id, best) < 0)));
    if (better) {
      best = id;
      bestGap = gap;
      bestRank = rank;
    }
  }
  return best;
}
