/**
 * Holding workers' assignments fixed around the planner (pure, no I/O). A held worker keeps every desired
 * task it holds now, gets nothing new, and is not planned: the planner balances the other tasks over the
 * other workers. Used for workers restarting within their grace (issue 15: not online, their tasks wait for
 * them); written to serve any "keep this worker's tasks where they are" rule (a cordon whose tasks stay).
 */

import type { Revocation } from '../../planner/diff.js';
import { type RebalanceInput, type RebalanceResult, rebalance } from '../../planner/rebalance.js';
import type { Task } from '../../task.js';

/** Input of {@link rebalanceHolding}: the planner's input and the workers whose tasks stay fixed. */
export interface HoldingInput extends RebalanceInput {
  /**
   * Workers whose current desired tasks stay where they are. A held worker may be online (listed in
   * `workers`: it is then left out of the plan) or not (a restarting worker). Tasks no longer desired are
   * revoked from it as from anyone.
   */
  held: ReadonlySet<string>;
}

/** {@link RebalanceResult} with what was held. */
export interface HoldingResult extends RebalanceResult {
  /** Held worker → the desired tasks it keeps (in the order of `tasks`). Also in `target`. */
  held: Map<string, Task[]>;
}

/**
 * Plans with the held workers' tasks fixed: each desired task a held worker holds stays there (a task held
 * by two held workers stays with the first by name, the other copy is revoked; a copy on a planned worker is
 * revoked, so no task is on two workers), the rest is planned by `rebalance()` over the workers that are not
 * held. `target` lists the held workers too, so rewrites of a changed payload reach their keys; `moves`
 * counts only the planner's moves (a held task never moves).
 */
export function rebalanceHolding(input: HoldingInput): HoldingResult {
  const { held } = input;
  if (held.size === 0) return { ...rebalance(input), held: new Map() };
  const byId = new Map<string, Task>();
  for (const t of input.tasks) byId.set(t.id, t);
  const entries = [...currentEntries(input.current)];

  const fixedOn = new Map<string, string>(); // id → held worker keeping it
  const revoke: Revocation[] = [];
  const byName = [...entries].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  for (const [worker, ids] of byName) {
    if (!held.has(worker)) continue;
    for (const id of ids) {
      if (!byId.has(id)) revoke.push({ worker, id });
      else if (fixedOn.has(id) && fixedOn.get(id) !== worker) revoke.push({ worker, id });
      else fixedOn.set(id, worker);
    }
  }

  const current = new Map<string, string[]>();
  for (const [worker, ids] of entries) {
    // A copy of a held task on a planned worker is not desired as far as the planner knows: revoked.
    if (!held.has(worker)) current.set(worker, [...ids]);
  }
  const plan = rebalance({
    workers: input.workers.filter((w) => !held.has(w)),
    tasks: input.tasks.filter((t) => !fixedOn.has(t.id)),
    current,
    capacities: input.capacities,
  });

  const heldTasks = new Map<string, Task[]>();
  for (const w of held) heldTasks.set(w, []);
  for (const t of input.tasks) {
    const w = fixedOn.get(t.id);
    if (w !== undefined) heldTasks.get(w)!.push(t);
  }
  const target = new Map(plan.target);
  for (const [w, list] of heldTasks) if (list.length > 0 || input.workers.includes(w)) target.set(w, list);
  return { ...plan, target, revoke: [...revoke, ...plan.revoke], held: heldTasks };
}

function currentEntries(current: RebalanceInput['current']): Iterable<[string, Iterable<string>]> {
  if (!current) return [];
  if (current instanceof Map) return current.entries();
  return Object.entries(current as Readonly<Record<string, readonly string[]>>);
}
