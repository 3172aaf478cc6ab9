/**
 * Worker capacities and task weights as the planner reads them, and the exact proportional share
 * L · c_w / C of a load L (the fair share of worker w of capacity c_w, C the total capacity).
 */
import { PlannerInputError } from '../errors.js';
import type { Task } from '../task.js';

/** Largest worker capacity accepted. */
export const MAX_WORKER_CAPACITY = 1_000_000;

/** Worker name → its capacity (a positive integer, default 1); names that are not online are ignored. */
export type Capacities = ReadonlyMap<string, number> | Readonly<Record<string, number>>;

/** True when `c` is a capacity the planner accepts: an integer in 1..{@link MAX_WORKER_CAPACITY}. */
export function isCapacity(c: unknown): c is number {
  return typeof c === 'number' && Number.isInteger(c) && c >= 1 && c <= MAX_WORKER_CAPACITY;
}

/**
 * The capacity of each worker in planning order, or undefined when every online worker has capacity 1
 * (then the planner is exactly the count-balancing one). Throws {@link PlannerInputError} on a bad value.
 */
export function readCapacities(names: readonly string[], capacities?: Capacities): Float64Array | undefined {
  if (capacities === undefined) return undefined;
  const get =
    capacities instanceof Map
      ? (w: string) => (capacities as ReadonlyMap<string, number>).get(w)
      : (w: string) =>
          Object.hasOwn(capacities, w) ? (capacities as Readonly<Record<string, number>>)[w] : undefined;
  const out = new Float64Array(names.length);
  let allOnes = true;
  for (let w = 0; w < names.length; w++) {
    const c = get(names[w]) ?? 1;
    if (!isCapacity(c)) {
      throw new PlannerInputError(
        `capacity of worker ${JSON.stringify(names[w])} must be an integer in 1..${MAX_WORKER_CAPACITY}, got ${JSON.stringify(c)}`,
        { workers: [names[w]] },
      );
    }
    out[w] = c;
    if (c !== 1) allOnes = false;
  }
  return allOnes ? undefined : out;
}

/** Each task's weight (1 when absent); undefined when every weight is 1. Throws on a bad weight. */
export function readWeights(tasks: readonly Task[]): Float64Array | undefined {
  let out: Float64Array | undefined;
  for (let i = 0; i < tasks.length; i++) {
    const w = tasks[i].weight;
    if (w === undefined || w === 1) continue;
    if (!(typeof w === 'number' && Number.isInteger(w) && w >= 1 && w <= 1_000_000)) {
      throw new PlannerInputError(
        `weight of task ${JSON.stringify(tasks[i].id)} must be an integer in 1..1000000, got ${JSON.stringify(w)}`,
        { taskIds: [tasks[i].id] },
      );
    }
    if (!out) out = new Float64Array(tasks.length).fill(1);
    out[i] = w;
  }
  return out;
}

/**
 * The shares of a load L among workers of capacities `cap` (total C): `floor[w]` = ⌊L·c_w/C⌋ and
 * `rem[w]` = L·c_w mod C (> 0 exactly when the share is fractional, then its ceiling is floor + 1).
 * Exact: BigInt when L·c_w is beyond 2^53.
 */
export function shares(
  L: number,
  cap: ArrayLike<number>,
  C: number,
): { floor: Float64Array; rem: Float64Array } {
  const W = cap.length;
  const floor = new Float64Array(W);
  const rem = new Float64Array(W);
  for (let w = 0; w < W; w++) {
    const p = L * cap[w];
    if (p <= Number.MAX_SAFE_INTEGER) {
      let f = Math.floor(p / C);
      let r = p - f * C; // exact; the division may round across an integer, corrected here
      if (r < 0) {
        f--;
        r += C;
      } else if (r >= C) {
        f++;
        r -= C;
      }
      floor[w] = f;
      rem[w] = r;
    } else {
      const big = BigInt(L) * BigInt(cap[w]);
      floor[w] = Number(big / BigInt(C));
      rem[w] = Number(big % BigInt(C));
    }
  }
  return { floor, rem };
}
