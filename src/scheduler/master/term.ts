/**
 * One term of leadership: the start-up barrier on a fresh root, the watch-fed view of the workers and the
 * assignment (worker changes debounced by `rebalanceWait`), the interval tick, and the loop that runs a
 * schedule for each batch of requests.
 */
import { BarrierTimeoutError } from '../../errors.js';
import { DoubleBarrier } from '../../recipes/barrier.js';
import type { Session } from '../../recipes/session.js';
import type { Compare } from '../../store/port.js';
import { Backoff } from '../../util/backoff.js';
import { type Clock, sleep } from '../../util/clock.js';
import { linkSignal } from '../../util/signals.js';
import type { MasterContext, Term } from './context.js';
import { scheduleDeferred, watchControl } from './control.js';
import type { ScheduleReason } from './reasons.js';
import { rfc3339 } from './report.js';
import { watchRestarts } from './restarts.js';
import { checkFence, schedule } from './schedule.js';
import type { ViewChange } from './view.js';
import { MasterView } from './views.js';

/**
 * Delay before a schedule that failed on the store is first tried again, in ms; it doubles on each
 * further failure up to `maxRetryDelay` (etcd out of space refuses every write until an operator acts).
 */
export const ERROR_RETRY_DELAY = 1_000;

/**
 * Leads until `signal` aborts (stop, session lost), a watch of the view ends, or a fenced write is refused
 * (NotLeaderError). The caller has won the election; every write of the term is fenced on `fence`.
 */
export async function runTerm(
  ctx: MasterContext,
  session: Session,
  fence: Compare,
  signal: AbortSignal,
): Promise<void> {
  const termAbort = new AbortController();
  const unlink = linkSignal(termAbort, signal);
  const termSignal = termAbort.signal;
  let view: MasterView | undefined;
  let stopChanges = () => {};
  let ticking: Promise<void> | undefined;
  let restarts: Promise<void> | undefined;
  let controlling: Promise<void> | undefined;
  try {
    const barrier = await startupBarrier(ctx, { fence, signal: termSignal, session });
    ctx.requests.add(barrier.reason);

    // The view (workers, assignment) is fed by watches from here on; the first schedule waits for its
    // snapshots, so a worker registering meanwhile is either in the snapshot or an event that asks again.
    const changes = workerChanges(ctx, termSignal);
    stopChanges = changes.stop;
    view = new MasterView({
      store: ctx.o.store,
      k: ctx.k,
      clock: ctx.o.clock,
      signal: termSignal,
      onWorkers: changes.changed,
      onError: (err, prefix) => {
        // A watch that ends by itself (non-retryable error) would leave changes unseen: end the term.
        ctx.log.error({ err, prefix }, 'master view watch failed');
        ctx.emit('error', { error: err, context: `watch ${prefix}` });
        termAbort.abort(new Error(`watch of ${prefix} ended`));
      },
    });
    await view.whenReady();
    const term: Term = { fence, signal: termSignal, session, view, lastWrite: 0 };
    // An expired restart grace must move that worker's tasks: a term that cannot see it ends, like a view watch.
    restarts = watchRestarts(ctx, termSignal).finally(() => {
      if (!termSignal.aborted) termAbort.abort(new Error('restart marker watch ended'));
    });
    ticking = tick(ctx, termSignal);
    controlling = watchControl(ctx, termSignal);
    const retry = new Backoff({
      initialDelay: Math.min(ERROR_RETRY_DELAY, ctx.o.maxRetryDelay),
      maxDelay: ctx.o.maxRetryDelay,
      jitter: 'none',
    });
    let first = true;
    while (!termSignal.aborted) {
      await ctx.requests.wait(termSignal);
      if (termSignal.aborted) break;
      const report = await schedule(ctx, ctx.requests.take(), term);
      scheduleDeferred(ctx, report, termSignal);
      if (report.result === 'error') {
        // A store failure mid-write leaves a partial plan: try again soon rather than at the next trigger.
        void sleep(ctx.o.clock, retry.next(), termSignal).then(
          () => ctx.requests.add('retry after error'),
          () => undefined,
        );
      } else retry.reset();
      if (first && barrier.leave) {
        first = false;
        void barrier
          .leave()
          .catch((err: unknown) => ctx.log.warn({ err }, 'leaving the start-up barrier failed'));
      }
    }
  } finally {
    termAbort.abort(new Error('term ended'));
    unlink();
    stopChanges();
    await Promise.allSettled([view?.done, ticking, restarts, controlling]);
  }
}

/** On a fresh root: waits at the start-up barrier, then marks it passed (once). */
async function startupBarrier(
  ctx: MasterContext,
  term: Pick<Term, 'fence' | 'signal' | 'session'>,
): Promise<{ reason: ScheduleReason; leave?: () => Promise<void> }> {
  const { o, k, log } = ctx;
  if (await o.store.get(k.barrierLeft)) return { reason: 'leader elected' };
  const barrier = new DoubleBarrier(term.session, k.barrier, o.maxNumNodes);
  let reason: ScheduleReason = 'first schedule';
  let entered = false;
  try {
    await barrier.enter({ signal: term.signal, timeoutMs: o.barrierTimeout });
    entered = true;
  } catch (err) {
    if (!(err instanceof BarrierTimeoutError)) throw err;
    log.warn({ err: err.message }, 'start-up barrier timed out: scheduling with the workers present');
    reason = 'first schedule (barrier timeout)';
  }
  const res = await o.store.txn({
    compare: [term.fence, { key: k.barrierLeft, target: 'create', op: '=', value: 0 }],
    success: [{ type: 'put', key: k.barrierLeft, value: rfc3339(o.clock.now()) }],
  });
  if (!res.succeeded) await checkFence(ctx, term.fence);
  const leave = entered
    ? () => barrier.leave({ signal: ctx.stopSignal, timeoutMs: o.barrierTimeout })
    : undefined;
  return { reason, leave };
}

/** Asks for a schedule every `interval` until the term ends. */
async function tick(ctx: MasterContext, signal: AbortSignal): Promise<void> {
  while (!signal.aborted) {
    try {
      await sleep(ctx.o.clock, ctx.o.interval, signal);
    } catch {
      return; // term ended
    }
    ctx.requests.add('interval');
  }
}

/**
 * Worker keys created or deleted (or listed again after a compaction) ⇒ a schedule after `rebalanceWait`;
 * a burst costs one schedule.
 */
function workerChanges(
  ctx: MasterContext,
  signal: AbortSignal,
): { changed: (change: ViewChange) => void; stop: () => void } {
  const { o } = ctx;
  let timer: ReturnType<Clock['setTimeout']> | undefined;
  const request = () => {
    if (timer || signal.aborted) return;
    timer = o.clock.setTimeout(() => {
      timer = undefined;
      if (!signal.aborted) ctx.requests.add('workers changed');
    }, o.rebalanceWait);
  };
  return {
    changed: (change) => {
      if (change.type === 'resync') request();
      if (change.type !== 'events') return;
      if (change.events.some((e) => e.type === 'delete' || e.kv.version === 1)) request();
    },
    stop: () => {
      if (timer) o.clock.clearTimeout(timer);
      timer = undefined;
    },
  };
}
