/**
 * The planner: online workers + desired tasks + current assignment → target assignment and the diff.
 * A pure, deterministic function with no I/O (DESIGN §5).
 *
 * Guarantees of {@link rebalance}:
 * - every desired task is on exactly one online worker; nothing stays on a dead worker; ids no longer
 *   desired are revoked;
 * - unkeyed tasks: per group max − min ≤ 1, always; without keyed tasks also total max − min ≤ 1;
 * - keyed tasks (same non-empty `key`) share one worker; keyed load(w) ≤ ⌈K/W⌉ − 1 + the largest bundle on w
 *   and ≥ ⌊K/W⌋ − (S − 1) (K = keyed tasks, S = largest bundle): a hot key exceeds the average only by its
 *   own size, and nobody is starved by more than a bundle (see `planner/keyed.ts`);
 * - total load (keyed + unkeyed) with keys: bundles are placed first (keyed load k_w); then each worker's
 *   share of the unkeyed groups' extra units (group g has T_g mod W of them, on distinct workers) is
 *   bounded so that the totals are as level as the groups allow (`planner/levels.ts`): no extra lifts a
 *   worker above M*, the least level any per-group-balanced placement can keep its extras under, and
 *   under that the lowest total is as high as possible. Hence: whenever some per-group-balanced placement
 *   of the unkeyed tasks makes total max − min ≤ 1 around these bundles, the plan's total max − min ≤ 1;
 *   and always total(w) ≤ ⌈T/W⌉ + S. The unkeyed load alone is then uneven on purpose (workers with less
 *   keyed load take more); with equal keyed loads it is exactly the unkeyed case;
 * - a task held by several live workers (an inconsistent `current`) keeps the copy the plan targets, the
 *   others are revoked without counting as moves; the plan is made from the copy first by hash;
 * - sticky: for unkeyed tasks the number of moves equals the lower bound — orphans (tasks that are new or
 *   whose holder is gone) are not moves, and each worker gives up only its excess over a quota chosen, among
 *   all per-group-balanced quotas within the level bounds above (without keys: all per-group- and
 *   total-balanced quotas), to keep the most (proof in `planner/extras.ts`); a re-plan of the planner's own
 *   output moves nothing (keyed bundles that meet their bounds stay, so the levels, and with them the
 *   quotas the held tasks already fill, are the same). With keys, leveling has a price in moves: a bundle
 *   of s tasks that lands on (leave) or leaves (join) a worker whose total was level makes it shed or
 *   regain about s − 1 unkeyed tasks, which a plan with total max − min ≤ 1 cannot avoid;
 * - deterministic: ties are broken by FNV-1a hashes of names, never by name order or `Math.random`; the
 *   result does not depend on the order of `workers`, `tasks` or `current`.
 *
 * `workers: []` is well defined: every current assignment is revoked, nothing is assigned (the master treats
 * zero workers as "leave everything as it is" and does not call the planner then).
 */
import { PlannerInputError } from '../errors.js';
import type { Task } from '../task.js';
import { solveExtras } from './extras.js';
import { compareStrings, fnv1a } from './hash.js';
import { IdIndex } from './ids.js';
import { type Bundle, planBundles } from './keyed.js';
import { extraBounds } from './levels.js';
import {
  compareIds,
  moveWorstToEnd,
  sortByHash,
  sortByMix,
  sortByPriorityThenId,
  sortSmallByIds,
  spread,
} from './order.js';

/** Worker name → ids of the tasks it holds now; may name dead workers and ids no longer desired. */
export type CurrentAssignment =
  | ReadonlyMap<string, Iterable<string>>
  | Readonly<Record<string, readonly string[]>>;

/** Input of {@link rebalance}. */
export interface RebalanceInput {
  /** Names of the online workers (unique). */
  workers: readonly string[];
  /** The desired tasks (unique ids). */
  tasks: readonly Task[];
  /** What each worker holds now. @default empty */
  current?: CurrentAssignment;
}

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

/** Figures about a plan, for status, metrics and tests. */
export interface RebalanceStats {
  /** Online workers. */
  workers: number;
  /** Desired tasks. */
  tasks: number;
  /** Desired tasks that carry a key. */
  keyedTasks: number;
  /** Distinct keys. */
  keys: number;
  /** Desired tasks that no live worker holds now (new, or their holder is gone): assigned, not moves. */
  orphans: number;
  /** Moves of unkeyed tasks (always equal to `unkeyedLowerBound`). */
  unkeyedMoves: number;
  /** Minimum moves of unkeyed tasks over every balanced plan (given the keyed placement, see `rebalance`). */
  unkeyedLowerBound: number;
  /** Moves of keyed tasks. */
  keyedMoves: number;
  /** Keyed moves forced by tasks of one key held by several live workers. */
  keyedForcedMoves: number;
  /** Target load (task count) per online worker. */
  load: Map<string, number>;
  /** max − min of the total target load over online workers. */
  maxMinTotal: number;
  /** max − min of the unkeyed target load over online workers (≤ 1 without keyed tasks). */
  maxMinUnkeyed: number;
  /** Largest max − min, over groups, of the unkeyed tasks of that group. */
  worstMaxMinPerGroup: number;
}

/** The result of {@link rebalance}. */
export interface RebalanceResult {
  /** Every online worker (in the order of `workers`) → the tasks it should hold (in the order of `tasks`). */
  target: Map<string, Task[]>;
  /** Assignments to delete: dead workers' tasks, ids no longer desired, duplicates and moved tasks. */
  revoke: Revocation[];
  /** Assignments to write, highest priority first, ties by id. */
  assign: Assignment[];
  /** Tasks leaving a live worker for another one. */
  moves: number;
  /**
   * Least possible moves for this input: exact for unkeyed tasks (the least over every quota the plan
   * could have chosen: per-group balanced and, with keys, within the level bounds around the keyed
   * placement), plus the keyed moves that keeping each key's tasks together forces. Computed from the
   * quotas and the held counts, independently of the diff.
   */
  lowerBound: number;
  stats: RebalanceStats;
}

/** Plans where every task runs; see the module comment for what it guarantees. */
export function rebalance(input: RebalanceInput): RebalanceResult {
  const tasks = input.tasks;
  const names = orderWorkers(input.workers);
  const W = names.length;
  const widx = new Map<string, number>();
  for (let w = 0; w < W; w++) widx.set(names[w], w);
  const workerHash = new Uint32Array(W);
  for (let w = 0; w < W; w++) workerHash[w] = fnv1a(names[w]);

  const N = tasks.length;
  const ids: string[] = new Array(N);
  for (let i = 0; i < N; i++) {
    const id = tasks[i]?.id;
    if (typeof id !== 'string') {
      throw new PlannerInputError(`task at index ${i} has no string id (got ${JSON.stringify(id)})`);
    }
    ids[i] = id;
  }
  // id → index, and each id's hash (for every tie-break by id hash below), computed once
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

  // current holders; everything on dead workers, stale ids and duplicate copies is revoked
  const holder = new Int32Array(N).fill(-1);
  const revoke: Revocation[] = [];
  const copies = new Map<number, number[]>(); // task → its other live holders (an inconsistent current)
  for (const [worker, held] of currentEntries(input.current)) {
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
  const final = new Int32Array(N).fill(-1);
  let orphans = 0;
  for (let i = 0; i < N; i++) if (holder[i] < 0) orphans++;

  let keyedTasks = 0;
  let unkeyedLowerBound = 0;
  let worstMaxMin = 0;
  let keyedForcedMoves = 0;
  // partition: bundles by key, unkeyed tasks by group
  const prio = new Float64Array(N);
  const isKeyed = new Uint8Array(N);
  const bundleOf = new Map<string, number[]>();
  const groupOf = new Map<string, number[]>();
  for (let i = 0; i < N; i++) {
    const task = tasks[i];
    prio[i] = task.priority ?? 0;
    const key = task.key ?? '';
    if (key !== '') {
      keyedTasks++;
      isKeyed[i] = 1;
      let list = bundleOf.get(key);
      if (!list) {
        list = [];
        bundleOf.set(key, list);
      }
      list.push(i);
      continue;
    }
    const group = task.group ?? '';
    let list = groupOf.get(group);
    if (!list) {
      list = [];
      groupOf.set(group, list);
    }
    list.push(i);
  }
  if (W > 0) {
    // keyed bundles first; the unkeyed extras then level the totals around them
    const keyedLoad = new Int32Array(W);
    if (bundleOf.size > 0) {
      const bundles: Bundle[] = [];
      for (const [key, list] of bundleOf) bundles.push({ tasks: list, hash: fnv1a(key) });
      bundles.sort((x, y) => x.hash - y.hash || compareIds(ids, x.tasks[0], y.tasks[0]));
      for (const bundle of bundles) if (bundle.tasks.length > 1) sortSmallByIds(bundle.tasks, ids);
      const keyed = planBundles(W, bundles, holder, workerHash);
      keyedForcedMoves = keyed.forcedMoves;
      for (let i = 0; i < bundles.length; i++) {
        const w = keyed.owner[i];
        keyedLoad[w] += bundles[i].tasks.length;
        for (const t of bundles[i].tasks) final[t] = w;
      }
    }
    const unkeyed = planUnkeyed(W, groupOf, index, prio, holder, final, workerHash, keyedLoad);
    unkeyedLowerBound = unkeyed.lowerBound;
    worstMaxMin = unkeyed.worstMaxMin;
  }

  // diff
  const assigned: number[] = [];
  let unkeyedMoves = 0;
  let keyedMoves = 0;
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
      }
      continue;
    }
    if (w >= 0) assigned.push(i);
    if (h >= 0) {
      revoke.push({ worker: names[h], id: ids[i] });
      if (w >= 0) {
        if (isKeyed[i] === 0) unkeyedMoves++;
        else keyedMoves++;
      }
    }
  }
  sortByPriorityThenId(assigned, prio, index);
  const assign: Assignment[] = assigned.map((i) => ({ worker: names[final[i]], task: tasks[i] }));
  revoke.sort((x, y) => compareStrings(x.worker, y.worker) || compareStrings(x.id, y.id));

  const target = new Map<string, Task[]>();
  const load = new Map<string, number>();
  for (const name of input.workers) {
    const list = perWorker[widx.get(name)!];
    target.set(name, list);
    load.set(name, list.length);
  }
  return {
    target,
    revoke,
    assign,
    moves: unkeyedMoves + keyedMoves,
    lowerBound: unkeyedLowerBound + keyedForcedMoves,
    stats: {
      workers: W,
      tasks: N,
      keyedTasks,
      keys: bundleOf.size,
      orphans,
      unkeyedMoves,
      unkeyedLowerBound,
      keyedMoves,
      keyedForcedMoves,
      load,
      maxMinTotal: spread(Array.from(perWorker, (l) => l.length)),
      maxMinUnkeyed: spread(unkeyedLoad),
      worstMaxMinPerGroup: worstMaxMin,
    },
  };
}

/** Plans the unkeyed tasks group by group on the quotas of {@link solveExtras}; fills `final`. */
function planUnkeyed(
  W: number,
  groupOf: Map<string, number[]>,
  index: IdIndex,
  prio: Float64Array,
  holder: Int32Array,
  final: Int32Array,
  workerHash: Uint32Array,
  keyedLoad: Int32Array,
): { lowerBound: number; worstMaxMin: number } {
  const groups = [...groupOf.keys()].map((name) => ({ name, hash: fnv1a(name) }));
  groups.sort((x, y) => x.hash - y.hash || (x.name < y.name ? -1 : x.name > y.name ? 1 : 0));
  const G = groups.length;
  const count = new Int32Array(W);
  const need = new Int32Array(G);
  const good: number[][] = [];
  for (let g = 0; g < G; g++) {
    const list = groupOf.get(groups[g].name)!;
    const f = Math.floor(list.length / W);
    need[g] = list.length % W;
    const touched: number[] = [];
    for (const t of list) {
      const w = holder[t];
      if (w >= 0 && count[w]++ === 0) touched.push(w);
    }
    const cells: number[] = [];
    for (const w of touched) {
      if (count[w] > f) cells.push(w);
      count[w] = 0;
    }
    // preference among good cells: a hash of worker × group, so no worker is always first
    if (need[g] > 0) sortByMix(cells, workerHash, groups[g].hash);
    good.push(need[g] > 0 ? cells : []);
  }
  // per-worker bounds on the extras that level keyed + unkeyed totals (lo = a, hi = a or a + 1 when every
  // keyed load is the same, in particular without keys)
  let F = 0;
  for (let g = 0; g < G; g++) F += Math.floor(groupOf.get(groups[g].name)!.length / W);
  const base = new Float64Array(W);
  for (let w = 0; w < W; w++) base[w] = keyedLoad[w] + F;
  const extras = solveExtras({ workers: W, need, good, bounds: extraBounds(base, need) });

  // place the tasks of each group on its quotas
  let lowerBound = 0;
  let worstMaxMin = 0;
  const kept = new Int32Array(W);
  const isExtra = new Uint8Array(W);
  // an order of tasks that does not depend on the input order: priority, then a hash of the id, then id
  const { ids, hash } = index;
  const byRank = (x: number, y: number) => prio[y] - prio[x] || hash[x] - hash[y] || compareIds(ids, x, y);
  for (let g = 0; g < G; g++) {
    const list = groupOf.get(groups[g].name)!;
    const f = Math.floor(list.length / W);
    for (const w of extras[g]) isExtra[w] = 1;
    const touched: number[] = [];
    for (const t of list) {
      const w = holder[t];
      if (w >= 0 && count[w]++ === 0) touched.push(w);
    }
    const pending: number[] = [];
    let over: Map<number, number[]> | undefined;
    for (const t of list) {
      const w = holder[t];
      if (w < 0) pending.push(t);
      else if (count[w] <= f + isExtra[w]) {
        final[t] = w;
        kept[w]++;
      } else {
        over ??= new Map();
        let cell = over.get(w);
        if (!cell) {
          cell = [];
          over.set(w, cell);
        }
        cell.push(t);
      }
    }
    if (over) {
      // a worker above its quota keeps its highest-priority tasks
      for (const [w, cell] of over) {
        const q = f + isExtra[w];
        lowerBound += cell.length - q;
        if (cell.every((t) => prio[t] === prio[cell[0]])) sortByHash(cell, hash, ids);
        else moveWorstToEnd(cell, cell.length - q, byRank);
        for (let i = 0; i < cell.length; i++) {
          if (i < q) {
            final[cell[i]] = w;
            kept[w]++;
          } else pending.push(cell[i]);
        }
      }
    }
    if (pending.length > 0) {
      sortByHash(pending, hash, ids);
      let p = 0;
      const fillWorker = (w: number) => {
        const q = f + isExtra[w];
        while (kept[w] < q && p < pending.length) {
          final[pending[p++]] = w;
          kept[w]++;
        }
      };
      if (f > 0) for (let w = 0; w < W; w++) fillWorker(w);
      else for (const w of extras[g]) fillWorker(w);
    }
    // record the group's spread (from the placement itself), reset scratch
    let min = f > 0 ? Number.POSITIVE_INFINITY : 0;
    let max = 0;
    for (const w of f > 0 ? kept : extras[g].map((x) => kept[x])) {
      if (w < min) min = w;
      if (w > max) max = w;
    }
    worstMaxMin = Math.max(worstMaxMin, max - min);
    for (const w of touched) count[w] = 0;
    if (f > 0) kept.fill(0);
    else {
      for (const w of touched) kept[w] = 0;
      for (const w of extras[g]) kept[w] = 0;
    }
    for (const w of extras[g]) isExtra[w] = 0;
  }
  return { lowerBound, worstMaxMin };
}

function orderWorkers(workers: readonly string[]): string[] {
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

function currentEntries(current: CurrentAssignment | undefined): Iterable<[string, Iterable<string>]> {
  if (current === undefined) return [];
  if (current instanceof Map) return current.entries();
  return Object.entries(current as Record<string, readonly string[]>);
}
