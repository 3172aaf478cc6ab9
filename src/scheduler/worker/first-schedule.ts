import { PrefixWatcher, waitForPut } from '../../recipes/watcher.js';
import type { Store } from '../../store/port.js';
import type { Backoff } from '../../util/backoff.js';
import type { Clock, TimerHandle } from '../../util/clock.js';
import type { Logger } from '../../util/logger.js';
import { linkedSignal } from '../../util/signals.js';
import type { Keys } from '../keys.js';
import type { Pulse } from './pulse.js';

/**
 * How long `/<root>/task/` must stay unchanged, once `/<root>/worker_barrier_left` exists and at least one
 * task key does, before a worker in the start-up barrier takes the first schedule as written (ms, on the
 * worker's clock). A Go master writes `worker_barrier_left` and then the first schedule, one put per task
 * with no end marker and no status key: a second with no change is the end of it. Too short only makes a
 * worker that was assigned nothing leave early (its later tasks start after the barrier, as under a master
 * that timed out); too long only delays the leave.
 */
export const GO_FIRST_SCHEDULE_SETTLE = 1_000;

export interface FirstScheduleDeps {
  store: Store;
  k: Keys;
  clock: Clock;
  log: Logger;
  /** Tasks assigned to this worker now. */
  assignedCount(): number;
  /** Fires when the assignment changed. */
  assignmentChanged: Pulse;
  /** A backoff for one retry loop (each loop here gets its own). */
  newBackoff(): Backoff;
  /** With `worker_barrier_left` set and no task key at all after this long, a Go master gave nothing (ms). */
  barrierTimeout: number;
}

/**
 * THE condition "the master's first schedule is done", as a worker in the start-up barrier sees it, any of:
 * - a task was assigned to it;
 * - `/<root>/status/master` was written (a TypeScript master writes it after each schedule);
 * - `/<root>/worker_barrier_left` exists (a Go master writes it just before its first schedule and never
 *   writes the status key) and `/<root>/task/` settled: a task key exists and nothing changed there for
 *   {@link GO_FIRST_SCHEDULE_SETTLE}, or `barrierTimeout` passed since worker_barrier_left was seen with no
 *   task key at all (the generator gave nothing).
 *
 * Resolves when one holds; waits on events (the assignment view, watches, clock timers), never on a poll.
 * Rejects only when `signal` aborts. The watches live only as long as this call.
 */
export async function firstScheduleDone(d: FirstScheduleDeps, signal: AbortSignal): Promise<void> {
  const linked = linkedSignal(signal);
  try {
    const elsewhere = Promise.race([
      keyWritten(d, d.k.masterStatus, linked.signal),
      goScheduleSettled(d, linked.signal),
    ]).then(
      () => true,
      () => false,
    );
    for (;;) {
      signal.throwIfAborted();
      if (d.assignedCount() > 0) return;
      const changed = d.assignmentChanged.wait(linked.signal).then(() => false);
      if (await Promise.race([elsewhere, changed])) return;
    }
  } finally {
    linked.dispose(); // ends the watches, the timers and the wait for a change
  }
}

/** Resolves once `key` exists (now or later); retries store failures with backoff. */
async function keyWritten(d: FirstScheduleDeps, key: string, signal: AbortSignal): Promise<void> {
  const backoff = d.newBackoff();
  for (;;) {
    signal.throwIfAborted();
    try {
      const res = await d.store.range(key);
      if (res.kvs.length > 0) return;
      await waitForPut(d.store, key, res.revision + 1, signal, { clock: d.clock });
      return;
    } catch (err) {
      signal.throwIfAborted();
      d.log.warn({ err, key }, 'watching a key for the first schedule failed; retrying');
      await backoff.wait(d.clock, signal);
    }
  }
}

/** A Go master's first schedule: worker_barrier_left, then the task prefix settled (see above). */
async function goScheduleSettled(d: FirstScheduleDeps, signal: AbortSignal): Promise<void> {
  await keyWritten(d, d.k.barrierLeft, signal);
  await taskPrefixSettled(d, d.clock.now() + d.barrierTimeout, signal);
}

/**
 * Watches `/<root>/task/` until a key exists and nothing changed for GO_FIRST_SCHEDULE_SETTLE, or until
 * `deadline` with no key at all. Rejects only when `signal` aborts.
 */
async function taskPrefixSettled(d: FirstScheduleDeps, deadline: number, signal: AbortSignal): Promise<void> {
  const { clock } = d;
  const settled = new AbortController();
  const linked = linkedSignal(signal, settled.signal);
  const present = new Set<string>();
  const backoff = d.newBackoff();
  const finish = () => settled.abort(new Error('the first schedule settled'));
  let quiet: TimerHandle | undefined;
  const changed = () => {
    if (quiet) clock.clearTimeout(quiet);
    quiet = undefined;
    if (present.size > 0) quiet = clock.setTimeout(finish, GO_FIRST_SCHEDULE_SETTLE);
    else if (clock.now() >= deadline) finish();
  };
  const nothing = clock.setTimeout(
    () => {
      if (present.size === 0) finish();
    },
    Math.max(0, deadline - clock.now()),
  );
  try {
    while (!linked.signal.aborted) {
      try {
        const watcher = new PrefixWatcher(d.store, d.k.taskPrefix, { clock, signal: linked.signal });
        for await (const u of watcher) {
          backoff.reset();
          if (u.type === 'events') {
            for (const e of u.events) {
              if (e.type === 'put') present.add(e.kv.key);
              else present.delete(e.kv.key);
            }
          } else {
            present.clear();
            for (const kv of u.kvs) present.add(kv.key);
          }
          changed();
        }
      } catch (err) {
        if (!linked.signal.aborted)
          d.log.warn({ err }, 'watching the task prefix for the first schedule failed');
      }
      if (!linked.signal.aborted) await backoff.wait(clock, linked.signal);
    }
  } finally {
    if (quiet) clock.clearTimeout(quiet);
    clock.clearTimeout(nothing);
    linked.dispose();
  }
  if (!settled.signal.aborted) signal.throwIfAborted();
}
