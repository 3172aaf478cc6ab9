/**
 * One schedule's plan under the operators' control: the planner (`rebalance`) wrapped in pre- and
 * post-processing, shared by the leading master and `Admin.plan()` so a dry run cannot differ from the
 * schedule that follows. Pure: no I/O.
 *
 * 1. **Hold** (`rebalanceHolding`, `master/hold.ts`): the tasks of cordoned workers (and of any worker in
 *    `input.hold`, such as one restarting within its grace) stay where they are and leave the planner's
 *    input; those workers are no target.
 * 2. **Drain**: draining workers are no target either, so their tasks are orphans the planner places.
 * 3. **Plan** the rest among the eligible workers (online, neither cordoned nor draining nor held).
 * 4. **Pins** (`pins.ts`): pinned tasks onto their workers, swapping with same-group tasks.
 * 5. **Pause**: every task a live worker holds stays there; orphans are placed, removed tasks revoked.
 * 6. **Budget** (`budget.ts`): at most `maxMoves` tasks move between live workers; the rest wait.
 */

import { compareStrings } from '../../planner/hash.js';
import type { Assignment, Capacities, Revocation } from '../../planner/rebalance.js';
import { rebalance } from '../../planner/rebalance.js';
import type { Task } from '../../task.js';
import { rebalanceHolding } from '../master/hold.js';
import { applyBudget, type MoveUnit } from './budget.js';
import { type Current, diffFinal, holdersOf, type Move } from './diff.js';
import { applyPins, keyedPins } from './pins.js';
import { type ControlState, emptyControl, isInactive } from './state.js';

export type { Current, Move };

export interface ControlledPlanInput {
  /** Online workers. */
  workers: readonly string[];
  /** Desired tasks: valid, unique ids. */
  tasks: readonly Task[];
  /** What each worker holds now (may name dead workers and ids no longer desired). */
  current: Current;
  /** The control state; entries for workers that are not online are ignored. @default none */
  control?: ControlState;
  /** At most this many tasks move between live workers. @default Infinity */
  maxMoves?: number;
  /**
   * Workers whose tasks stay where they are and which take nothing new, online or not (a worker in its
   * restart grace, say). Cordoned workers are added to these.
   */
  hold?: ReadonlySet<string>;
  /** Worker → capacity (`/<root>/node/<worker>`), passed to the planner. @default all 1 */
  capacities?: Capacities;
}

export interface ControlledPlan {
  /** Every online worker (and any held worker that is not online) → the tasks it should hold. */
  target: Map<string, Task[]>;
  revoke: Revocation[];
  assign: Assignment[];
  /** Tasks leaving a live worker for another one (`moveList.length`). */
  moves: number;
  moveList: Move[];
  /** Moves the budget left for a later schedule. */
  deferred: number;
  /** Desired tasks no worker may take (every online worker is cordoned, draining or held). */
  unplaced: string[];
  /** Online workers that take nothing new. */
  cordoned: string[];
  draining: string[];
  /** Task ids whose pin is in effect. */
  pinned: string[];
  paused: boolean;
  /** Control problems of this plan (conflicting pins, unplaced tasks), each naming what it is about. */
  problems: string[];
}

/** Plans a schedule under `input.control` and `input.maxMoves`; see the module comment. */
export function planWithControl(input: ControlledPlanInput): ControlledPlan {
  const control = input.control ?? emptyControl();
  const { workers, tasks, current } = input;
  const maxMoves = input.maxMoves ?? Number.POSITIVE_INFINITY;
  if (isInactive(control) && (input.hold?.size ?? 0) === 0 && !Number.isFinite(maxMoves)) {
    return uncontrolled(workers, tasks, current, input.capacities);
  }
  const online = new Set(workers);
  const cordoned = new Set<string>();
  const draining = new Set<string>();
  for (const c of control.workers) {
    if (online.has(c.worker)) (c.state === 'cordoned' ? cordoned : draining).add(c.worker);
  }
  const holdSet = new Set<string>([...cordoned, ...(input.hold ?? [])]);
  const eligible = workers.filter((w) => !holdSet.has(w) && !draining.has(w));
  const eligibleSet = new Set(eligible);
  const desired = new Map<string, Task>();
  for (const t of tasks) desired.set(t.id, t);
  const holders = holdersOf(current, desired);
  const problems: string[] = [];

  // 1–3: hold (`rebalanceHolding`, the one "keep these workers' tasks where they are" mechanism, shared
  // with the restart grace), and plan the free tasks among the eligible workers; draining workers are
  // left out, so their tasks are orphans.
  const planned = workers.filter((w) => !draining.has(w));
  const capacities = input.capacities;
  let plan = rebalanceHolding({ workers: planned, tasks, current, held: holdSet, capacities });
  const held = new Set<string>();
  for (const list of plan.held.values()) for (const t of list) held.add(t.id);
  if (control.pins.length > 0 && eligible.length > 0) {
    const moved = keyedPins({ pins: control.pins, tasks, held, eligible: eligibleSet });
    if (moved.size > 0)
      plan = rebalanceHolding({
        workers: planned,
        tasks,
        current: relocate(current, moved),
        held: holdSet,
        capacities,
      });
  }
  const final = new Map<string, string>();
  for (const [w, list] of plan.target) for (const t of list) final.set(t.id, w);
  const free = held.size === 0 ? tasks : tasks.filter((t) => !held.has(t.id));
  if (eligible.length === 0) {
    // Nowhere to go: what live workers hold stays; the rest waits for a worker that may take it.
    for (const t of free) {
      const h = holders.get(t.id)?.find((w) => online.has(w));
      if (h !== undefined) final.set(t.id, h);
    }
  }
  const unplaced = free.filter((t) => !final.has(t.id)).map((t) => t.id);
  if (unplaced.length > 0) {
    problems.push(
      `${unplaced.length} task(s) not placed: every online worker is cordoned or draining (${unplaced.slice(0, 10).join(', ')}${unplaced.length > 10 ? ', …' : ''})`,
    );
  }

  // 4: pins.
  const pins =
    control.pins.length === 0
      ? { pinned: new Set<string>(), problems: [] }
      : applyPins({ pins: control.pins, tasks, held, eligible: eligibleSet, holders }, final);
  problems.push(...pins.problems);

  // 5: pause — nothing leaves a live worker.
  const liveHolder = (id: string) => holders.get(id)?.find((w) => online.has(w));
  if (control.pause) {
    for (const t of free) {
      const to = final.get(t.id);
      const hs = holders.get(t.id);
      if (!hs || (to !== undefined && hs.includes(to))) continue;
      const h = liveHolder(t.id);
      if (h !== undefined) final.set(t.id, h);
    }
  }

  // 6: the move budget.
  let deferred = 0;
  if (Number.isFinite(maxMoves))
    deferred = applyBudget(moveUnits(free, final, holders, liveHolder), maxMoves, final);

  const d = diffFinal(tasks, final, current, workers, holders);
  return {
    target: d.target,
    revoke: d.revoke,
    assign: d.assign,
    moves: d.moveList.length,
    moveList: d.moveList,
    deferred,
    unplaced,
    cordoned: [...cordoned].sort(),
    draining: [...draining].sort(),
    pinned: [...pins.pinned].sort(),
    paused: control.pause !== null,
    problems,
  };
}

/** The moves of `final`, a key bundle's tasks leaving the same worker for the same one as one unit. */
function moveUnits(
  free: readonly Task[],
  final: ReadonlyMap<string, string>,
  holders: ReadonlyMap<string, readonly string[]>,
  liveHolder: (id: string) => string | undefined,
): MoveUnit[] {
  const units: MoveUnit[] = [];
  const bundles = new Map<string, MoveUnit>();
  for (const t of free) {
    const to = final.get(t.id);
    if (to === undefined || holders.get(t.id)?.includes(to)) continue;
    const from = liveHolder(t.id);
    if (from === undefined) continue; // an orphan: never waits
    const key = t.key ?? '';
    if (key === '') {
      units.push({ ids: [t.id], from, to });
      continue;
    }
    const bk = `${key}\u0000${from}\u0000${to}`;
    const unit = bundles.get(bk);
    if (unit) unit.ids.push(t.id);
    else {
      const u = { ids: [t.id], from, to };
      bundles.set(bk, u);
      units.push(u);
    }
  }
  return units;
}

/** `current` with the tasks of `moved` (id → worker) on their worker, off every other. */
function relocate(current: Current, moved: ReadonlyMap<string, string>): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const [w, ids] of current)
    out.set(
      w,
      ids.filter((id) => !moved.has(id)),
    );
  for (const [id, w] of moved) out.set(w, [...(out.get(w) ?? []), id]);
  return out;
}

/** Without any control: the planner's plan as it is (no second diff), its moves listed. */
function uncontrolled(
  workers: readonly string[],
  tasks: readonly Task[],
  current: Current,
  capacities?: Capacities,
): ControlledPlan {
  const plan = rebalance({ workers, tasks, current, capacities });
  const live = new Set(workers);
  const from = new Map<string, string>();
  for (const r of plan.revoke) if (live.has(r.worker) && !from.has(r.id)) from.set(r.id, r.worker);
  const moveList: Move[] = [];
  for (const a of plan.assign) {
    const f = from.get(a.task.id);
    if (f !== undefined) moveList.push({ id: a.task.id, from: f, to: a.worker });
  }
  moveList.sort((x, y) => compareStrings(x.id, y.id));
  return {
    target: plan.target,
    revoke: plan.revoke,
    assign: plan.assign,
    moves: plan.moves,
    moveList,
    deferred: 0,
    unplaced: [],
    cordoned: [],
    draining: [],
    pinned: [],
    paused: false,
    problems: [],
  };
}
