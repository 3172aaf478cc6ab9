/**
 * The diff of a controlled plan: from the stored assignment and the final placement of every desired task
 * (task id → worker) to what a schedule writes. The planner's own diff works on its indices; this one
 * works on names, so the control steps (holds, pins, pause, the move budget) can edit the placement first.
 * Without control it gives exactly the planner's revocations, assignments and moves.
 */

import { compareStrings } from '../../planner/hash.js';
import type { Assignment, Revocation } from '../../planner/rebalance.js';
import type { Task } from '../../task.js';

/** A task leaving a live worker for another one. */
export interface Move {
  id: string;
  from: string;
  to: string;
}

/** Worker → ids it holds now; may name dead workers and ids no longer desired. */
export type Current = ReadonlyMap<string, readonly string[]>;

/** Task id → every worker that holds it now (live or not), in the order `current` lists them. */
export function holdersOf(current: Current, desired: ReadonlyMap<string, Task>): Map<string, string[]> {
  const holders = new Map<string, string[]>();
  for (const [worker, ids] of current) {
    for (const id of ids) {
      if (!desired.has(id)) continue;
      const list = holders.get(id);
      if (!list) holders.set(id, [worker]);
      else if (!list.includes(worker)) list.push(worker);
    }
  }
  return holders;
}

export interface FinalDiff {
  /** Every online worker (in the order given), then any other worker a task stays on → its tasks. */
  target: Map<string, Task[]>;
  revoke: Revocation[];
  assign: Assignment[];
  /** Moves, by id. */
  moveList: Move[];
}

/**
 * Compares the stored assignment with `final`: a task stays where `final` puts it if that worker holds it
 * (other copies revoked); otherwise it is assigned there and every holder's key revoked — a move when one
 * of them is online. Ids no longer desired are revoked; a desired task without a place is only revoked.
 */
export function diffFinal(
  tasks: readonly Task[],
  final: ReadonlyMap<string, string>,
  current: Current,
  online: readonly string[],
  /** {@link holdersOf}(current, the desired tasks), when the caller has it already. */
  known?: ReadonlyMap<string, readonly string[]>,
): FinalDiff {
  const desired = new Map<string, Task>();
  for (const t of tasks) desired.set(t.id, t);
  const live = new Set(online);
  const revoke: Revocation[] = [];
  for (const [worker, ids] of current) {
    const seen = new Set<string>();
    for (const id of ids) {
      if (desired.has(id) || seen.has(id)) continue;
      seen.add(id);
      revoke.push({ worker, id });
    }
  }
  const holders = known ?? holdersOf(current, desired);
  const target = new Map<string, Task[]>();
  for (const w of online) target.set(w, []);
  const assign: Assignment[] = [];
  const moveList: Move[] = [];
  for (const task of tasks) {
    const to = final.get(task.id);
    const hs = holders.get(task.id) ?? [];
    if (to !== undefined) {
      const list = target.get(to);
      if (list) list.push(task);
      else target.set(to, [task]);
    }
    if (to !== undefined && hs.includes(to)) {
      for (const h of hs) if (h !== to) revoke.push({ worker: h, id: task.id });
      continue;
    }
    for (const h of hs) revoke.push({ worker: h, id: task.id });
    if (to === undefined) continue;
    assign.push({ worker: to, task });
    let from: string | undefined; // the first live holder by name, as the planner's sorted revocations
    for (const h of hs) if (live.has(h) && (from === undefined || h < from)) from = h;
    if (from !== undefined) moveList.push({ id: task.id, from, to });
  }
  assign.sort(
    (x, y) => (y.task.priority ?? 0) - (x.task.priority ?? 0) || compareStrings(x.task.id, y.task.id),
  );
  revoke.sort((x, y) => compareStrings(x.worker, y.worker) || compareStrings(x.id, y.id));
  moveList.sort((x, y) => compareStrings(x.id, y.id));
  return { target, revoke, assign, moveList };
}
