/** Orders of task indices for the planner: deterministic, independent of the input order, and fast. */
import type { Task } from '../task.js';

/**
 * Moves the `k` last-ranked elements of `xs` (by `cmp`) to its end, in any order. A partial selection
 * when k is small (a worker a few tasks over its quota), a sort otherwise.
 */
export function moveWorstToEnd(xs: number[], k: number, cmp: (x: number, y: number) => number): void {
  if (k <= 0) return;
  if (k * 16 > xs.length) {
    xs.sort(cmp);
    return;
  }
  for (let end = xs.length - 1; end >= xs.length - k; end--) {
    let worst = 0;
    for (let i = 1; i <= end; i++) if (cmp(xs[i], xs[worst]) > 0) worst = i;
    [xs[worst], xs[end]] = [xs[end], xs[worst]];
  }
}

/** Sorts task indices by a hash of their id, then id: an order that does not depend on the input order. */
export function sortByHash(xs: number[], hashOf: (t: number) => number, tasks: readonly Task[]): void {
  if (xs.length > 1 << 21) {
    xs.sort((x, y) => hashOf(x) - hashOf(y) || compareIds(tasks, x, y));
    return;
  }
  // a native numeric sort of hash · 2^21 + position (exact in a double), then ids on equal hashes
  const keys = new Float64Array(xs.length);
  for (let i = 0; i < xs.length; i++) keys[i] = hashOf(xs[i]) * 2097152 + i;
  keys.sort();
  const copy = xs.slice();
  for (let i = 0; i < xs.length; i++) xs[i] = copy[keys[i] % 2097152];
  for (let i = 1; i < xs.length; i++) {
    if (hashOf(xs[i - 1]) !== hashOf(xs[i])) continue;
    let j = i;
    while (j < xs.length && hashOf(xs[j]) === hashOf(xs[i - 1])) j++;
    const run = xs.slice(i - 1, j).sort((x, y) => compareIds(tasks, x, y));
    for (let r = 0; r < run.length; r++) xs[i - 1 + r] = run[r];
    i = j;
  }
}

/** Sorts task indices by priority (highest first), then id — by priority buckets and native string sorts. */
export function sortByPriorityThenId(xs: number[], prio: Float64Array, tasks: readonly Task[]): void {
  if (xs.length < 256) {
    xs.sort((x, y) => prio[y] - prio[x] || compareIds(tasks, x, y));
    return;
  }
  const buckets = new Map<number, string[]>();
  const byId = new Map<string, number>();
  for (const t of xs) {
    let ids = buckets.get(prio[t]);
    if (!ids) {
      ids = [];
      buckets.set(prio[t], ids);
    }
    ids.push(tasks[t].id);
    byId.set(tasks[t].id, t);
  }
  let n = 0;
  for (const p of [...buckets.keys()].sort((a, b) => b - a)) {
    const ids = buckets.get(p)!;
    ids.sort(); // code-unit order, as compareIds
    for (const id of ids) xs[n++] = byId.get(id)!;
  }
}

export function compareIds(tasks: readonly Task[], x: number, y: number): number {
  const a = tasks[x].id;
  const b = tasks[y].id;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** max − min of the values (0 when empty). */
export function spread(values: ArrayLike<number>): number {
  if (values.length === 0) return 0;
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < values.length; i++) {
    if (values[i] < min) min = values[i];
    if (values[i] > max) max = values[i];
  }
  return max - min;
}
