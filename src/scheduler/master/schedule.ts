/** One schedule: read the workers, generate, validate, plan, write in fenced txns, report. */
import { NotLeaderError } from '../../errors.js';
import type { Compare } from '../../store/port.js';
import type { Task } from '../../task.js';
import { linkSignal, raceSignal } from '../../util/signals.js';
import { validTasks, workersInGrace } from '../control/inputs.js';
import { planWithControl } from '../control/plan.js';
import { parseControl } from '../control/state.js';
import type { MasterContext, Term } from './context.js';
import { reportControl } from './control.js';
import { reasonLabel, type ScheduleRequest } from './reasons.js';
import { type ScheduleReport, startReport } from './report.js';
import { batchUnits, parseAssignment, planUnits, type WriteOp, writePhases } from './writes.js';

/**
 * Runs one schedule for `request` and reports it (status key, `schedule` event, metrics). Throws only
 * when the term is over: NotLeaderError when a fenced write was refused, the term's reason when it ended.
 */
export async function schedule(
  ctx: MasterContext,
  request: ScheduleRequest,
  term: Term,
): Promise<ScheduleReport> {
  const { o, log } = ctx;
  const m = o.metrics;
  const name = o.name;
  const reason = request.text;
  const started = o.clock.now();
  const report = startReport(name, started, request);
  try {
    const { workers, restarting } = await onlineWorkers(ctx, report.errors);
    report.workers = workers.length;
    m.workersOnline.set({ name }, workers.length);
    if (workers.length === 0) {
      report.result = 'no_workers';
      log.warn({ reason }, 'no worker online: assignment left as it is');
    } else {
      let desired: readonly Task[] | undefined;
      try {
        desired = await generate(ctx, term.signal);
      } catch (err) {
        if (term.signal.aborted) throw err;
        m.generatorErrors.inc({ name });
        report.result = 'generator_error';
        report.errors.push(`generator: ${(err as Error)?.message ?? String(err)}`);
        log.error({ err, reason }, 'generator failed: assignment left as it is');
      }
      if (desired) await apply(ctx, desired, { workers, restarting }, report, term);
    }
  } catch (err) {
    if (err instanceof NotLeaderError) {
      m.fenceRejections.inc({ name });
      m.schedules.inc({ name, reason: reasonLabel(request), result: 'not_leader' });
      log.warn({ reason }, err.message);
      throw err;
    }
    if (term.signal.aborted) throw err;
    report.result = 'error';
    report.errors.push(String((err as Error)?.message ?? err));
    log.error({ err, reason }, 'schedule failed');
  }
  report.durationMs = o.clock.now() - started;
  m.schedules.inc({ name, reason: reasonLabel(request), result: report.result });
  m.scheduleDuration.observe({ name }, report.durationMs / 1000);
  ctx.setLast(report);
  await writeStatus(ctx, report, term.fence).catch((err: unknown) => {
    if (err instanceof NotLeaderError) throw err;
    log.warn({ err }, 'writing master status failed');
  });
  log.info({ ...report, errors: report.errors.slice(0, 20) }, 'schedule done');
  ctx.emit('schedule', report);
  return report;
}

/** Calls the generator under a signal that aborts after `timeout` or when the term ends. */
async function generate(ctx: MasterContext, termSignal: AbortSignal): Promise<readonly Task[]> {
  const { clock, timeout, generator } = ctx.o;
  const controller = new AbortController();
  const unlink = linkSignal(controller, termSignal);
  const timer = clock.setTimeout(
    () => controller.abort(new Error(`generator timed out after ${timeout} ms`)),
    timeout,
  );
  try {
    const signal = controller.signal;
    const tasks = await raceSignal(
      Promise.resolve().then(() => generator({ signal })),
      signal,
    );
    if (!Array.isArray(tasks))
      throw new Error(`generator returned ${typeof tasks}, expected an array of tasks`);
    return tasks;
  } finally {
    clock.clearTimeout(timer);
    unlink();
  }
}

/**
 * The online workers, and the workers restarting within their grace (a live restart marker, not online),
 * read at one revision: a worker swaps its key and its marker in one txn, both ways, so at any revision it
 * is one or the other — never neither, which would make its tasks orphans.
 */
async function onlineWorkers(
  ctx: MasterContext,
  errors: string[],
): Promise<{ workers: string[]; restarting: string[] }> {
  const { k, o } = ctx;
  const prefix = k.workerPrefix;
  const res = await o.store.range(prefix, { prefix: true, keysOnly: true });
  const markers = await o.store.range(k.restartingPrefix, {
    prefix: true,
    keysOnly: true,
    revision: res.revision,
  });
  const names: string[] = [];
  for (const kv of res.kvs) {
    const name = kv.key.slice(prefix.length);
    if (name.length === 0 || name.includes('/')) {
      errors.push(`ignored malformed worker key ${JSON.stringify(kv.key)}`);
      continue;
    }
    names.push(name);
  }
  return { workers: names, restarting: workersInGrace(markers.kvs, k.restartingPrefix, new Set(names)) };
}

/** The desired tasks that are valid, first of each id kept; the others are reported and counted. */
function validDesired(ctx: MasterContext, desired: readonly Task[], report: ScheduleReport): Task[] {
  const { tasks, invalid } = validTasks(desired);
  for (const err of invalid) {
    ctx.o.metrics.invalidTasks.inc({ name: ctx.o.name });
    report.errors.push(err.message);
    ctx.log.warn({ err: err.message }, 'invalid task skipped');
  }
  return tasks;
}

async function apply(
  ctx: MasterContext,
  desired: readonly Task[],
  { workers, restarting }: { workers: string[]; restarting: string[] },
  report: ScheduleReport,
  term: Term,
): Promise<void> {
  const { o, k } = ctx;
  const tasks = validDesired(ctx, desired, report);
  report.tasks = tasks.length;

  // The current assignment and the stored values (to rewrite a task whose payload or priority changed)
  // and the operators' control state: the same reads and the same plan as `Admin.plan()`. The workers
  // restarting within their grace (read with the online ones) have their assignment held where it is.
  const [assignment, controlled] = await Promise.all([
    o.store.range(k.taskPrefix, { prefix: true }),
    o.store.range(k.controlPrefix, { prefix: true }),
  ]);
  const stored = parseAssignment(assignment.kvs, k);
  const online = new Set(workers);
  const control = parseControl(controlled.kvs, k);
  const plan = planWithControl({
    workers,
    tasks,
    current: stored.current,
    control,
    maxMoves: o.maxMoves,
    hold: new Set(restarting),
  });
  report.moves = plan.moves;
  report.restarting = restarting;
  report.held = 0;
  for (const w of restarting) report.held += plan.target.get(w)?.length ?? 0;
  reportControl(ctx, report, control, plan);
  const units = planUnits(plan, stored, k, online);

  report.revoked = plan.revoke.length + stored.malformed.length;
  report.assigned = plan.assign.length;
  report.txns = 0;
  for (const phase of writePhases(units, stored, o.handoff)) {
    report.txns += await writeBatches(ctx, batchUnits(phase), term);
  }
  o.metrics.moves.inc({ name: o.name }, plan.moves);
  o.metrics.tasksAssigned.set({ name: o.name }, tasks.length);
  o.metrics.heldTasks.set({ name: o.name }, report.held);
}

/** Writes the batches in order, each in a txn fenced on the election key; returns how many. */
async function writeBatches(ctx: MasterContext, batches: WriteOp[][], term: Term): Promise<number> {
  for (const success of batches) {
    if (term.signal.aborted) throw term.signal.reason;
    const res = await ctx.o.store.txn({ compare: [term.fence], success });
    if (!res.succeeded) {
      throw new NotLeaderError(`master ${ctx.o.name}: fenced write refused, no longer the leader`);
    }
  }
  return batches.length;
}

async function writeStatus(ctx: MasterContext, report: ScheduleReport, fence: Compare): Promise<void> {
  const res = await ctx.o.store.txn({
    compare: [fence],
    success: [{ type: 'put', key: ctx.k.masterStatus, value: JSON.stringify(report) }],
  });
  if (!res.succeeded)
    throw new NotLeaderError(`master ${ctx.o.name}: status write refused, no longer the leader`);
}
