/**
 * The inputs a schedule plans from, read the same way by the leading master and by `Admin.plan()`: the
 * valid desired tasks and the workers restarting within their grace (whose assignment is held).
 */
import { InvalidTaskError } from '../../errors.js';
import { type Task, validateTask } from '../../task.js';
import { markerName } from '../restart.js';

/** The desired tasks a schedule plans: the valid ones, the first of each id; the others named in `invalid`. */
export function validTasks(desired: readonly Task[]): { tasks: Task[]; invalid: Error[] } {
  const tasks: Task[] = [];
  const invalid: Error[] = [];
  const seen = new Set<string>();
  for (const t of desired) {
    try {
      validateTask(t);
      if (seen.has(t.id))
        throw new InvalidTaskError(t.id, `task ${JSON.stringify(t.id)}: duplicate id (first kept)`);
      seen.add(t.id);
      tasks.push(t);
    } catch (err) {
      invalid.push(err as Error);
    }
  }
  return { tasks, invalid };
}

/** The workers restarting within their grace: a live marker and not online (sorted). */
export function workersInGrace(
  kvs: Iterable<{ key: string }>,
  prefix: string,
  online: ReadonlySet<string>,
): string[] {
  const restarting: string[] = [];
  for (const kv of kvs) {
    const w = markerName(kv.key, prefix);
    if (w !== undefined && !online.has(w)) restarting.push(w);
  }
  return restarting.sort();
}
