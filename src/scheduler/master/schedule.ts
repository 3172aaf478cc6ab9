/**
 * One schedule: the workers, the assignment, the restart markers and the control state from the term's
 * view, generate, validate, plan, write in fenced and guarded txns (a stale view: resync and plan again),
 * report.
 */
import { NotLeaderError } from '../../errors.js';
import type { Compare } from '../../store/port.js';
import type { Task } from '../../task.js';
import { linkSignal, raceSignal } from '../../util/signals.js';
import { validTasks, workersInGrace } from '../control/inputs.js';
import { planWithControl } from '../control/plan.js';
import { parseControl } from '../control/state.js';
import { nodeCapacities } from './capacities.js';
import type { MasterContext, Term } from './context.js';
import { reportControl } from './control.js';
import { MAX_RESYNCS, StaleViewError, WriteGuards } from './guards.js';
import { reasonLabel, type ScheduleRequest } from './reasons.js';
import { type ScheduleReport, startReport } from './report.js';
import { PlannedInput } from './unchanged.js';
import type { KeyMap } from './view.js';
import { batchUnits, MAX_BATCH_BYTES, planUnits, type WriteOp, writePhases } from './writes.js';

/** The keys a view holds, whole (prefix + suffix), as the parsers of ranged kvs take them. */
function keysOf(map: KeyMap): { key: string; value: string }[] {
  const out: { key: string; value: string }[] = [];
  for (const [suffix, e] of map.entries) out.push({ key: map.prefix + suffix, value: e.value });
  return out;
}

/**
 * The online workers and the workers restarting within their grace (a live marker, not online), read at
 * one revision: a worker swaps its key and its marker in one txn, both ways, so at one revision it is
 * online or held, never neither (which would make its tasks orphans). Two small keys-only reads, made
 * only when planning (the view's own revisions per prefix cannot be matched up).
 */
async function workersAndMarkers(ctx: MasterContext): Promise<{ workers: string[]; restarting: string[] }> {
  const { k, o } = ctx;
  const res = await o.store.range(k.workerPrefix, { prefix: true, keysOnly: true });
  const markers = await o.store.range(k.restartingPrefix, {
    prefix: true,
    keysOnly: true,
    revision: res.revision,
  });
  const workers = res.kvs
    .map((kv) => kv.key.slice(k.workerPrefix.length))
    .filter((n) => n.length > 0 && !n.includes('/'));
  return { workers, restarting: workersInGrace(markers.kvs, k.restartingPrefix, new Set(workers)) };
}

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
    const workers = onlineWorkers(ctx, term, report.errors);
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
      if (desired) await apply(ctx, desired, workers, report, term);
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

function onlineWorkers(ctx: MasterContext, term: Term, errors: string[]): string[] {
  const names: string[] = [];
  for (const name of term.view.workers.sink.entries.keys()) {
    if (name.length === 0 || name.includes('/')) {
      errors.push(`ignored malformed worker key ${JSON.stringify(ctx.k.workerPrefix + name)}`);
      continue;
    }
    names.push(name);
  }
  return names;
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
  viewWorkers: string[],
  report: ScheduleReport,
  term: Term,
): Promise<void> {
  const { o, k, log } = ctx;
  const view = term.view.tasks;
  // Plan from a view that holds every write of ours so far (the store's own answer, not a guess).
  await view.caughtUp(term.lastWrite);
  if (term.signal.aborted) throw term.signal.reason;
  const last = term.planned;
  if (last?.same(desired, viewWorkers) && !term.view.changedSince(last.own)) {
    // Nothing changed since the last complete schedule: its plan, made again, would write nothing.
    Object.assign(report, structuredClone(last.carry));
    for (const message of last.invalid) {
      o.metrics.invalidTasks.inc({ name: o.name });
      report.errors.push(message);
    }
    o.metrics.tasksAssigned.set({ name: o.name }, report.tasks);
    o.metrics.heldTasks.set({ name: o.name }, report.held ?? 0);
    return;
  }
  term.planned = undefined;
  report.planned = true;
  const before = report.errors.length;
  const tasks = validDesired(ctx, desired, report);
  const invalid = report.errors.slice(before);
  report.tasks = tasks.length;
  for (let attempt = 0; ; attempt++) {
    await view.caughtUp(term.lastWrite);
    if (term.signal.aborted) throw term.signal.reason;
    term.view.mark();
    const stored = view.sink;
    // Workers restarting within their grace (a live marker, not online), whose assignment is held where
    // it is, and the operators' control state: the same plan as `Admin.plan()`, from the view.
    const { workers, restarting } = await workersAndMarkers(ctx);
    report.workers = workers.length;
    if (workers.length === 0) {
      report.result = 'no_workers';
      return;
    }
    const online = new Set(workers);
    const control = parseControl(keysOf(term.view.control.sink), k);
    const plan = planWithControl({
      workers,
      tasks,
      current: stored.current(),
      control,
      maxMoves: o.maxMoves,
      hold: new Set(restarting),
      capacities: await nodeCapacities(ctx.o.store, ctx.k.nodePrefix, report.errors),
    });
    const writes = planUnits(plan, stored, k, online);
    const guards = new WriteGuards(stored, writes.storedKeys());
    const phases = writePhases(writes, stored, o.handoff);
    report.moves = plan.moves;
    report.restarting = restarting;
    report.held = 0;
    for (const w of restarting) report.held += plan.target.get(w)?.length ?? 0;
    const errorsBefore = report.errors.length;
    reportControl(ctx, report, control, plan);
    const problems = report.errors.slice(errorsBefore);
    report.revoked = plan.revoke.length + stored.malformed.size;
    report.assigned = plan.assign.length;
    const own = new Set<number>();
    try {
      for (const phase of phases) {
        const limits = { maxOps: o.maxTxnOps, maxBytes: MAX_BATCH_BYTES };
        report.txns += await writeBatches(ctx, batchUnits(phase, limits), guards, term, own);
      }
    } catch (err) {
      if (!(err instanceof StaleViewError) || attempt >= MAX_RESYNCS) throw err;
      report.resyncs++;
      log.warn({ attempt: attempt + 1, err: err.message }, 'stale view: listing the assignment again');
      term.view.resync();
      await term.view.whenReady();
      continue;
    }
    o.metrics.moves.inc({ name: o.name }, plan.moves);
    o.metrics.tasksAssigned.set({ name: o.name }, tasks.length);
    o.metrics.heldTasks.set({ name: o.name }, report.held);
    // The next schedule may skip planning if nothing but these writes changed the view since the plan
    // (not after deferred moves: the next schedule goes on with them).
    if (plan.deferred === 0) {
      const carry = {
        tasks: tasks.length,
        restarting,
        held: report.held,
        maxMoves: report.maxMoves,
        control: report.control,
      };
      term.planned = PlannedInput.of(desired, workers, tasks, [...invalid, ...problems], own, carry);
    }
    return;
  }
}

/**
 * Txns of a schedule in flight at once. A txn of puts only — new assignments, rewrites — need not wait for
 * the one before: their keys differ (a key is written once per phase), so only the order etcd applies
 * them in may differ, within this many. Written one at a time, the 7,875 txns of a first assignment of a
 * million tasks each wait for their own round trip and fsync; in flight together, etcd commits them in
 * shared fsyncs (1.73× → 1.1–1.5× the sequential floor, BENCHMARKS.md, `npm run bench:scale`).
 */
export const WRITE_PIPELINE = 4;

/**
 * Writes the batches in order, each in a txn fenced on the election key and guarded on every key it
 * writes; returns how many. Up to {@link WRITE_PIPELINE} txns of puts are in flight at once; a txn with a
 * delete (a revocation, a move) waits for every txn before it and is written alone, so a task leaves its
 * old worker before later assignments land, as when written one by one. A refused txn stops the writing
 * (the txns in flight finish) and is NotLeaderError when the fence failed, else StaleViewError.
 */
async function writeBatches(
  ctx: MasterContext,
  batches: Iterable<WriteOp[]>,
  guards: WriteGuards,
  term: Term,
  own: Set<number>,
): Promise<number> {
  const inFlight = new Set<Promise<void>>();
  let sent = 0;
  let failure: { error: unknown } | undefined;
  let refused = 0; // ops of the first refused txn
  const write = async (success: WriteOp[]): Promise<void> => {
    try {
      const compare = [term.fence, ...success.map((op) => guards.compare(op))];
      const res = await ctx.o.store.txn({ compare, success });
      if (!res.succeeded) {
        refused ||= success.length;
        return;
      }
      guards.committed(success, res.revision);
      term.lastWrite = Math.max(term.lastWrite, res.revision);
      own.add(res.revision);
    } catch (error) {
      failure ??= { error };
    }
  };
  const send = (success: WriteOp[]) => {
    const p: Promise<void> = write(success).finally(() => inFlight.delete(p));
    inFlight.add(p);
    sent++;
    return p;
  };
  const settle = async (max: number) => {
    while (inFlight.size > max) await Promise.race(inFlight);
  };
  try {
    for (const success of batches) {
      if (term.signal.aborted) break;
      const alone = success.some((op) => op.type === 'delete');
      await settle(alone ? 0 : WRITE_PIPELINE - 1);
      if (failure || refused) break;
      if (alone) await send(success);
      else void send(success);
    }
  } finally {
    await settle(0);
  }
  if (failure) throw failure.error;
  if (refused) {
    await checkFence(ctx, term.fence);
    throw new StaleViewError(
      `a txn of ${refused} ops was refused: a key it writes changed behind the master's view`,
    );
  }
  if (term.signal.aborted) throw term.signal.reason;
  return sent;
}

/** Throws NotLeaderError when the fence no longer holds. */
export async function checkFence(ctx: MasterContext, fence: Compare): Promise<void> {
  const kv = await ctx.o.store.get(fence.key);
  if (!kv || kv.createRevision !== fence.value) {
    throw new NotLeaderError(`master ${ctx.o.name} no longer leads (election key ${fence.key} changed)`);
  }
}

async function writeStatus(ctx: MasterContext, report: ScheduleReport, fence: Compare): Promise<void> {
  const res = await ctx.o.store.txn({
    compare: [fence],
    success: [{ type: 'put', key: ctx.k.masterStatus, value: JSON.stringify(report) }],
  });
  if (!res.succeeded)
    throw new NotLeaderError(`master ${ctx.o.name}: status write refused, no longer the leader`);
}
