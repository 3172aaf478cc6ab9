/** The report of a dry run (`Admin.plan()`): moves, per-worker changes and the balance before and after. */
import type { Revocation } from '../../planner/rebalance.js';
import type { Task } from '../../task.js';
import type { Current, Move } from './diff.js';
import type { ControlledPlan } from './plan.js';

/** max, min and their difference over the workers that may take tasks. */
export interface Balance {
  max: number;
  min: number;
  spread: number;
}

export interface PlanWorker {
  worker: string;
  /** `cordoned`, `draining` or `''`. */
  state: string;
  /** Desired tasks it holds now. */
  before: number;
  /** Tasks it holds after the plan. */
  after: number;
  /** Ids the plan writes to it. */
  assign: string[];
  /** Ids the plan deletes from it. */
  revoke: string[];
}

export interface PlanReport {
  /** Store revision the plan was read at (a dry run writes nothing: it stays the same). */
  revision: number;
  /** Tasks leaving a live worker for another one. */
  moves: number;
  moveList: Move[];
  /** Moves the budget leaves for later schedules. */
  deferred: number;
  /** The budget planned with (null: unlimited). */
  maxMoves: number | null;
  tasks: number;
  /** Every online worker, by name. */
  workers: PlanWorker[];
  /** Revocations on workers that are not online (dead workers' tasks). */
  revokeOffline: Revocation[];
  /** Over online workers neither cordoned nor draining. */
  balance: { before: Balance; after: Balance };
  pinned: string[];
  paused: boolean;
  unplaced: string[];
  /** Malformed control entries, invalid tasks, conflicting pins... each naming what it is about. */
  problems: string[];
}

function balanceOf(counts: number[]): Balance {
  if (counts.length === 0) return { max: 0, min: 0, spread: 0 };
  const max = Math.max(...counts);
  const min = Math.min(...counts);
  return { max, min, spread: max - min };
}

export function summarizePlan(input: {
  revision: number;
  workers: readonly string[];
  tasks: readonly Task[];
  current: Current;
  plan: ControlledPlan;
  maxMoves: number | undefined;
  problems: string[];
}): PlanReport {
  const { plan } = input;
  const desired = new Set(input.tasks.map((t) => t.id));
  const online = new Set(input.workers);
  const rows: PlanWorker[] = [...input.workers].sort().map((worker) => ({
    worker,
    state: plan.cordoned.includes(worker) ? 'cordoned' : plan.draining.includes(worker) ? 'draining' : '',
    before: (input.current.get(worker) ?? []).filter((id) => desired.has(id)).length,
    after: plan.target.get(worker)?.length ?? 0,
    assign: [],
    revoke: [],
  }));
  const row = new Map(rows.map((r) => [r.worker, r]));
  for (const a of plan.assign) row.get(a.worker)?.assign.push(a.task.id);
  const revokeOffline: Revocation[] = [];
  for (const r of plan.revoke) {
    const w = row.get(r.worker);
    if (w) w.revoke.push(r.id);
    else if (!online.has(r.worker)) revokeOffline.push(r);
  }
  const balanced = rows.filter((r) => r.state === '');
  return {
    revision: input.revision,
    moves: plan.moves,
    moveList: plan.moveList,
    deferred: plan.deferred,
    maxMoves: input.maxMoves !== undefined && Number.isFinite(input.maxMoves) ? input.maxMoves : null,
    tasks: input.tasks.length,
    workers: rows,
    revokeOffline,
    balance: {
      before: balanceOf(balanced.map((r) => r.before)),
      after: balanceOf(balanced.map((r) => r.after)),
    },
    pinned: plan.pinned,
    paused: plan.paused,
    unplaced: plan.unplaced,
    problems: [...input.problems, ...plan.problems],
  };
}
