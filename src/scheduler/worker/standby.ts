/**
 * Standby over the cap (`onCapacityFull: 'wait'`): a worker that finds `maxNumNodes − 1` workers
 * registered keeps its session, holds `/<root>/standby/<name>` on its lease (so `escheduler status` lists
 * it and later arrivals queue behind it), and waits — without holding the registration mutex, which other
 * registrations need — until a worker key or a standby ahead of it is deleted. Then it tries again under
 * the mutex. Which standby gets a freed slot is decided there: the standbys' create revisions are their
 * arrival order (see `registerWorker`).
 */
import type { Session } from '../../recipes/session.js';
import type { Store } from '../../store/port.js';
import { type Clock, sleep } from '../../util/clock.js';
import { linkedSignal } from '../../util/signals.js';
import type { Keys, StandbyRecord } from '../keys.js';

/** The fleet is full for this worker: what it saw under the registration mutex. */
export interface FleetFull {
  /** Workers registered. */
  online: number;
  /** Workers allowed: `maxNumNodes − 1`. */
  max: number;
  /** Standbys that arrived before this worker (they get the next free slots). */
  ahead: number;
  /** Store revision of the check. */
  revision: number;
}

/** Re-check under the mutex at least this often even when no deletion was seen (ms). */
export const STANDBY_RECHECK = 30_000;

/** The JSON of `/<root>/standby/<name>`. */
export function standbyRecord(since: number, pid: number, host: string): string {
  const record: StandbyRecord = { since: new Date(since).toISOString(), pid, host };
  return JSON.stringify(record);
}

/**
 * Resolves at the first deletion under the worker, standby or restarting prefix after `full.revision`, after
 * `STANDBY_RECHECK`, or when the session or `stop` ends (the caller looks at both). A failed watch resolves
 * too, after a pause: the caller re-checks under the mutex, which reports a store outage as one.
 */
export async function waitForSlot(
  store: Store,
  k: Keys,
  full: FleetFull,
  session: Session,
  stop: AbortSignal,
  clock: Clock,
): Promise<void> {
  const linked = linkedSignal(stop, session.signal);
  const signal = linked.signal;
  const firstDelete = async (prefix: string) => {
    try {
      const watch = store.watch(prefix, { prefix: true, startRevision: full.revision + 1, signal });
      for await (const batch of watch) {
        if (batch.events.some((e) => e.type === 'delete')) return;
      }
    } catch {
      await sleep(clock, 1_000, signal).catch(() => undefined);
    }
  };
  try {
    await Promise.race([
      firstDelete(k.workerPrefix),
      firstDelete(k.standbyPrefix),
      firstDelete(k.restartingPrefix), // a restart marker that expires frees the place it held
      sleep(clock, STANDBY_RECHECK, signal).catch(() => undefined),
    ]);
  } finally {
    linked.dispose(); // ends the other watches and the sleep
  }
}
