/**
 * The master's side of the operators' control (issue 13): the watch on `/<root>/control/` that asks for a
 * schedule after `rebalanceWait` when it changes, the re-schedule after a schedule that deferred moves,
 * and the report and metrics of the control in effect. The planning itself is `control/plan.ts`, shared
 * with `Admin.plan()`.
 */
import { PrefixWatcher } from '../../recipes/watcher.js';
import { type Clock, sleep } from '../../util/clock.js';
import type { ControlledPlan } from '../control/plan.js';
import type { ControlState } from '../control/state.js';
import type { MasterContext } from './context.js';
import type { ScheduleReport } from './report.js';

/** Control keys created, changed or deleted ⇒ a schedule after `rebalanceWait`; a burst costs one. */
export async function watchControl(ctx: MasterContext, signal: AbortSignal): Promise<void> {
  const { o, k, log } = ctx;
  let timer: ReturnType<Clock['setTimeout']> | undefined;
  const changed = () => {
    if (timer) return;
    timer = o.clock.setTimeout(() => {
      timer = undefined;
      if (!signal.aborted) ctx.requests.add('control changed');
    }, o.rebalanceWait);
  };
  const watcher = new PrefixWatcher(o.store, k.controlPrefix, { clock: o.clock, signal });
  try {
    for await (const update of watcher) {
      if (update.type === 'resync' || (update.type === 'events' && update.events.length > 0)) changed();
    }
  } catch (err) {
    if (!signal.aborted) {
      // Not fatal: every schedule reads the control state anyway; changes wait for the next trigger.
      log.error({ err }, 'control watch failed');
      ctx.emit('error', { error: err, context: 'watch control' });
    }
  } finally {
    if (timer) o.clock.clearTimeout(timer);
  }
}

/** After a schedule that deferred moves: asks for the next one after `rebalanceWait`. */
export function scheduleDeferred(ctx: MasterContext, report: ScheduleReport, signal: AbortSignal): void {
  if (report.deferred <= 0) return;
  void sleep(ctx.o.clock, ctx.o.rebalanceWait, signal).then(
    () => ctx.requests.add('moves deferred'),
    () => undefined,
  );
}

/** Puts the control in effect into the report and the metrics. */
export function reportControl(
  ctx: MasterContext,
  report: ScheduleReport,
  control: ControlState,
  plan: ControlledPlan,
): void {
  const { o } = ctx;
  const name = o.name;
  report.deferred = plan.deferred;
  report.maxMoves = Number.isFinite(o.maxMoves) ? o.maxMoves : null;
  report.control = {
    cordoned: plan.cordoned,
    draining: plan.draining,
    pins: plan.pinned.length,
    paused: plan.paused,
  };
  report.errors.push(...control.problems, ...plan.problems);
  o.metrics.controlWorkers.set({ name, state: 'cordoned' }, plan.cordoned.length);
  o.metrics.controlWorkers.set({ name, state: 'draining' }, plan.draining.length);
  o.metrics.pinnedTasks.set({ name }, plan.pinned.length);
  o.metrics.paused.set({ name }, plan.paused ? 1 : 0);
  o.metrics.deferredMoves.set({ name }, plan.deferred);
  if (plan.deferred > 0) {
    ctx.log.info({ moves: plan.moves, deferred: plan.deferred, maxMoves: o.maxMoves }, 'moves deferred');
  }
}
