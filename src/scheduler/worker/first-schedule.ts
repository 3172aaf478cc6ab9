import { waitForPut } from '../../recipes/watcher.js';
import type { Store } from '../../store/port.js';
import type { Backoff } from '../../util/backoff.js';
import type { Clock } from '../../util/clock.js';
import type { Logger } from '../../util/logger.js';
import { linkedSignal } from '../../util/signals.js';
import type { Keys } from '../keys.js';
import type { Pulse } from './pulse.js';

export interface FirstScheduleDeps {
  store: Store;
  k: Keys;
  clock: Clock;
  log: Logger;
  /** Tasks assigned to this worker now. */
  assignedCount(): number;
  /** Fires when the assignment changed. */
  assignmentChanged: Pulse;
  backoff: Backoff;
}

/**
 * THE condition "the master's first schedule is done", as a worker in the start-up barrier sees it: a task
 * was assigned to it, or `/<root>/status/master` was written (a TypeScript master writes it after each
 * schedule). Resolves when it holds; waits on events (the assignment view, a watch of the status key),
 * never on a poll. Rejects only when `signal` aborts.
 *
 * One place on purpose: a Go master never writes `/<root>/status/master` (it writes
 * `/<root>/worker_barrier_left`), so mixed fleets will change this condition here.
 */
export async function firstScheduleDone(d: FirstScheduleDeps, signal: AbortSignal): Promise<void> {
  const linked = linkedSignal(signal);
  try {
    const statusWritten = masterStatusWritten(d, linked.signal).then(
      () => true,
      () => false,
    );
    for (;;) {
      signal.throwIfAborted();
      if (d.assignedCount() > 0) return;
      const changed = d.assignmentChanged.wait(linked.signal).then(() => false);
      if (await Promise.race([statusWritten, changed])) return;
    }
  } finally {
    linked.dispose(); // ends the status watch and the wait for a change
  }
}

/** Resolves once the master status key exists (now or later); retries store failures with backoff. */
async function masterStatusWritten(d: FirstScheduleDeps, signal: AbortSignal): Promise<void> {
  const key = d.k.masterStatus;
  for (;;) {
    signal.throwIfAborted();
    try {
      const res = await d.store.range(key);
      if (res.kvs.length > 0) return;
      await waitForPut(d.store, key, res.revision + 1, signal, { clock: d.clock });
      return;
    } catch (err) {
      signal.throwIfAborted();
      d.log.warn({ err }, 'watching the master status for the first schedule failed; retrying');
      await d.backoff.wait(d.clock, signal);
    }
  }
}
