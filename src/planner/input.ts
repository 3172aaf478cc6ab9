/** The checks of the planner's input: worker names and task ids, each unique and a non-empty string. */
import { PlannerInputError } from '../errors.js';
import type { Task } from '../task.js';
import { fnv1a } from './hash.js';
import { IdIndex } from './ids.js';

/** The workers in planning order: by the hash of their name, then name. Throws on a bad or repeated name. */
export function orderWorkers(workers: readonly string[]): string[] {
  const seen = new Set<string>();
  const dups = new Set<string>();
  for (const w of workers) {
    if (typeof w !== 'string' || w === '') {
      throw new PlannerInputError(`worker names must be non-empty strings, got ${JSON.stringify(w)}`);
    }
    if (seen.has(w)) dups.add(w);
    seen.add(w);
  }
  if (dups.size > 0) {
    throw new PlannerInputError(
      `duplicate worker names: ${[...dups]
        .sort()
        .map((s) => JSON.stringify(s))
        .join(', ')}`,
      { workers: [...dups].sort() },
    );
  }
  const hashes = new Map<string, number>();
  for (const w of workers) hashes.set(w, fnv1a(w));
  return [...workers].sort((x, y) => hashes.get(x)! - hashes.get(y)! || (x < y ? -1 : x > y ? 1 : 0));
}

/**
 * Id → index of the tasks, and each id's hash (for every tie-break by id hash), computed once. Throws on
 * a task without a string id and on repeated ids (naming the first 20).
 */
export function indexTasks(tasks: readonly Task[]): IdIndex {
  const N = tasks.length;
  const ids: string[] = new Array(N);
  for (let i = 0; i < N; i++) {
    const id = tasks[i]?.id;
    if (typeof id !== 'string') {
      throw new PlannerInputError(`task at index ${i} has no string id (got ${JSON.stringify(id)})`);
    }
    ids[i] = id;
  }
  const index = new IdIndex(ids);
  const dups = index.duplicates;
  if (dups) {
    const list = [...new Set(dups)].sort();
    throw new PlannerInputError(
      `duplicate task ids (${list.length}): ${list
        .slice(0, 20)
        .map((s) => JSON.stringify(s))
        .join(', ')}${list.length > 20 ? ', …' : ''}`,
      { taskIds: list },
    );
  }
  return index;
}
