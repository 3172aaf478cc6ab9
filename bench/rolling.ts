/**
 * The rolling-restart row (issue 15): W `escheduler run` processes share T tasks; each in turn is SIGTERMed
 * and started again under the same name ~2 s after it exited — once with `--restart-grace 30s`, once
 * without (SIGTERM drains). Counted from etcd: moves (a task put under another worker than its last) and
 * task keys deleted; from the run log: per task the gap from a run's stop to its next start (p50/max), and
 * with the grace each task's gap minus its worker's downtime (SIGTERM → registered again). Beside it, the
 * moves the same rollout costs in the planners' models, ours and the original's (bench/original-policy.ts):
 * a leave then a join per worker, no grace — the original has none.
 */
import { rebalance } from '../src/planner/rebalance.js';
import type { Task } from '../src/task.js';
import { checkInvariants } from '../test/helpers/checker.js';
import { type RolloutFigures, rollingRestart, rolloutFigures } from '../test/helpers/rolling.js';
import { type BenchConfig, emit, note, quantile } from './lib.js';
import { originalPlan, seededRandom } from './original-policy.js';

export interface RollingRun {
  graceMs: number;
  moves: number;
  deletes: number;
  gapP50Ms: number;
  gapMaxMs: number;
  /** With the grace: max over tasks of (gap − its worker's downtime); the bound is 1000. */
  maxOverDowntimeMs?: number;
  downtimeP50Ms: number;
  /** Violations of "no task on two workers" found by the checker. */
  twoOwners: number;
  /** Runs recorded (each start of a task on a worker). */
  runs: number;
}

export interface RollingResult {
  workers: number;
  tasks: number;
  downtimeMs: number;
  grace: RollingRun;
  drain: RollingRun;
  /** Moves of the same rollout (leave, then join, per worker) in the planners' models. */
  modelOurs: number;
  modelOriginal: number;
}

/** Moves a leave-then-join per worker costs under `plan` (each re-plan's moves + orphans taken by others). */
function modelMoves(
  workers: string[],
  plan: (ws: string[], current: Map<string, string[]>) => Map<string, Task[]>,
): number {
  let current = new Map<string, string[]>(workers.map((w) => [w, []]));
  const settle = (ws: string[]) => {
    const target = plan(ws, current);
    let moved = 0;
    const before = new Map<string, string>();
    for (const [w, ids] of current) for (const id of ids) before.set(id, w);
    for (const [w, list] of target)
      for (const t of list) if (before.has(t.id) && before.get(t.id) !== w) moved++;
    current = new Map([...target].map(([w, list]) => [w, list.map((t) => t.id)]));
    return moved;
  };
  settle(workers);
  let moves = 0;
  for (const w of workers) {
    moves += settle(workers.filter((x) => x !== w));
    current.set(w, []);
    moves += settle(workers);
  }
  return moves;
}

function summarize(graceMs: number, f: RolloutFigures, twoOwners: number, runs: number): RollingRun {
  return {
    graceMs,
    moves: f.moves,
    deletes: f.deletes,
    gapP50Ms: quantile(f.gaps, 0.5),
    gapMaxMs: Math.max(...f.gaps),
    ...(graceMs > 0 ? { maxOverDowntimeMs: Math.max(...f.overDowntime) } : {}),
    downtimeP50Ms: quantile(f.downtimes, 0.5),
    twoOwners,
    runs,
  };
}

export async function benchRolling(cfg: BenchConfig): Promise<RollingResult> {
  const workers = 5;
  const tasks = cfg.quick ? 200 : 1_000;
  const downtimeMs = 2_000;
  const runs: RollingRun[] = [];
  for (const graceMs of [30_000, 0]) {
    note(`rolling: ${workers} escheduler run processes, ${tasks} tasks, grace ${graceMs} ms`);
    const rec = await rollingRestart({
      endpoints: cfg.endpoints,
      workers,
      tasks,
      graceMs,
      downtimeMs,
      note: (m) => note(`rolling: ${m}`),
    });
    const f = rolloutFigures(rec);
    const check = checkInvariants({ runs: rec.runs, end: rec.to, fenceBound: 0 });
    const twoOwners = check.violations.filter((v) => v.kind === 'two-owners').length;
    const run = summarize(graceMs, f, twoOwners, rec.runs.length);
    emit('rolling', { workers, tasks, downtimeMs, ...run });
    runs.push(run);
  }
  const names = Array.from({ length: workers }, (_, i) => `w${i + 1}`);
  const taskList: Task[] = Array.from({ length: tasks }, (_, i) => ({ id: `t${i}` }));
  const modelOurs = modelMoves(
    names,
    (ws, current) => rebalance({ workers: ws, tasks: taskList, current }).target,
  );
  const random = seededRandom(15);
  const modelOriginal = modelMoves(
    names,
    (ws, current) => originalPlan({ workers: ws, tasks: taskList, current }, random).target,
  );
  emit('rolling.model', { workers, tasks, modelOurs, modelOriginal });
  return { workers, tasks, downtimeMs, grace: runs[0], drain: runs[1], modelOurs, modelOriginal };
}
