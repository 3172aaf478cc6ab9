/** The planner's view of the current assignment: who holds each desired task now, and what to revoke. */
import type { Revocation } from './diff.js';
import type { IdIndex } from './ids.js';

/** Worker name → ids of the tasks it holds now; may name dead workers and ids no longer desired. */
export type CurrentAssignment =
  | ReadonlyMap<string, Iterable<string>>
  | Readonly<Record<string, readonly string[]>>;

/** Who holds each desired task now (by task index; workers by their index in planning order). */
export interface Holders {
  /** Task → its live holder, −1 when none (the task is new or its holder is gone: an orphan). */
  holder: Int32Array;
  /** Task → its other live holders, for a task held by several (an inconsistent `current`). */
  copies: Map<number, number[]>;
}

/**
 * Reads `current`: everything on dead workers (not in `widx`) and every id no longer desired is pushed to
 * `revoke` (once per worker and id). A task held by several live workers is planned with the first in
 * planning order (by hash); its other holders go to `copies`, and the diff keeps the copy the plan targets.
 */
export function readCurrent(
  current: CurrentAssignment | undefined,
  widx: ReadonlyMap<string, number>,
  index: IdIndex,
  revoke: Revocation[],
): Holders {
  const holder = new Int32Array(index.ids.length).fill(-1);
  const copies = new Map<number, number[]>();
  for (const [worker, held] of currentEntries(current)) {
    const w = widx.get(worker) ?? -1; // −1: a dead worker, all of whose ids are revoked
    let seen: Set<string> | undefined;
    for (const id of held) {
      const t = w < 0 ? -1 : index.get(id);
      if (t < 0) {
        seen ??= new Set();
        if (seen.has(id)) continue;
        seen.add(id);
        revoke.push({ worker, id });
        continue;
      }
      const h = holder[t];
      if (h === w) continue;
      if (h < 0) holder[t] = w;
      else {
        // held by several live workers: plan with the first by hash, keep the copy the plan targets
        let others = copies.get(t);
        if (!others) {
          others = [];
          copies.set(t, others);
        }
        if (others.includes(w)) continue;
        if (w < h) {
          others.push(h);
          holder[t] = w;
        } else others.push(w);
      }
    }
  }
  return { holder, copies };
}

function currentEntries(current: CurrentAssignment | undefined): Iterable<[string, Iterable<string>]> {
  if (current === undefined) return [];
  if (current instanceof Map) return current.entries();
  return Object.entries(current as Record<string, readonly string[]>);
}
