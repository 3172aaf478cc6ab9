/** The diff between the current and the target assignment: what to revoke, what to write, what moved. */
import type { Task } from '../task.js';
import { compareStrings } from './hash.js';
import type { IdIndex } from './ids.js';
import { sortByPriorityThenId } from './order.js';

/** An assignment to delete: task `id` under `worker`. */
export interface Revocation {
  worker: string;
  id: string;
}

/** An assignment to write: `task` under `worker`. */
export interface Assignment {
  worker: string;
  task: Task;
}

/** Input of {@link diff}: tasks and workers by index (workers in planning order). */
export interface DiffInput {
  tasks: readonly Task[];
  /** Worker names by index. */
  names: readonly string[];
  index: IdIndex;
  /** Task → its priority. */
  prio: Float64Array;
  /** Task → 1 when it carries a key. */
  isKeyed: Uint8Array;
  /** Task → its live holder now, −1 when none. */
  holder: Int32Array;
  /** Task → its other live holders (an inconsistent `current`). */
  copies: Map<number, number[]>;
  /** Task → the worker the plan puts it on (−1 only without workers). */
  final: Int32Array;
  /** Task → its weight; absent: all 1. */
  weight?: ArrayLike<number>;
}

/** The result of {@link diff}. */
export interface Diff {
  /** Worker → its target tasks, in the order of `tasks`. */
  perWorker: Task[][];
  /** Worker → its unkeyed target load. */
  unkeyedLoad: Int32Array;
  /** Assignments to write, highest priority first, ties by id. */
  assign: Assignment[];
  unkeyedMoves: number;
  keyedMoves: number;
  /** Total weight of the moved tasks. */
  movedWeight: number;
}

/**
 * Compares `holder` (and `copies`) with `final`: pushes to `revoke` every copy the plan does not keep, then
 * sorts `revoke` by worker and id. A task that leaves a live worker for another is a move; a task kept where
 * one of its copies runs is not.
 */
export function diff(d: DiffInput, revoke: Revocation[]): Diff {
  const { tasks, names, index, prio, isKeyed, holder, copies, final, weight } = d;
  const ids = index.ids;
  const N = tasks.length;
  const W = names.length;
  const assigned: number[] = [];
  let unkeyedMoves = 0;
  let keyedMoves = 0;
  let movedWeight = 0;
  const perWorker: Task[][] = Array.from({ length: W }, () => []);
  const unkeyedLoad = new Int32Array(W);
  for (let i = 0; i < N; i++) {
    const w = final[i];
    const h = holder[i];
    if (w >= 0) {
      perWorker[w].push(tasks[i]);
      if (isKeyed[i] === 0) unkeyedLoad[w]++;
    }
    const others = copies.size > 0 ? copies.get(i) : undefined;
    if (w === h) {
      if (others) for (const x of others) revoke.push({ worker: names[x], id: ids[i] });
      continue;
    }
    if (others) {
      revoke.push({ worker: names[h], id: ids[i] });
      for (const x of others) if (x !== w) revoke.push({ worker: names[x], id: ids[i] });
      if (others.includes(w)) continue; // kept where one of its copies runs: not a move
      if (w >= 0) assigned.push(i);
      if (w >= 0) {
        if (isKeyed[i] === 0) unkeyedMoves++;
        else keyedMoves++;
        movedWeight += weight ? weight[i] : 1;
      }
      continue;
    }
    if (w >= 0) assigned.push(i);
    if (h >= 0) {
      revoke.push({ worker: names[h], id: ids[i] });
      if (w >= 0) {
        if (isKeyed[i] === 0) unkeyedMoves++;
        else keyedMoves++;
        movedWeight += weight ? weight[i] : 1;
      }
    }
  }
  sortByPriorityThenId(assigned, prio, index);
  const assign: Assignment[] = assigned.map((i) => ({ worker: names[final[i]], task: tasks[i] }));
  revoke.sort((x, y) => compareStrings(x.worker, y.worker) || compareStrings(x.id, y.id));
  return { perWorker, unkeyedLoad, assign, unkeyedMoves, keyedMoves, movedWeight };
}
