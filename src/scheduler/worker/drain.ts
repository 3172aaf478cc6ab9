import type { Session } from '../../recipes/session.js';
import { sleep } from '../../util/clock.js';
import type { Logger } from '../../util/logger.js';
import type { Keys } from '../keys.js';
import type { ResolvedWorkerOptions } from './options.js';
import type { RunSet } from './runs.js';

export interface DrainDeps {
  o: ResolvedWorkerOptions;
  k: Keys;
  log: Logger;
  /** The session of the last registration; its worker key is deleted while it lives. */
  session?: Session;
  runs?: RunSet;
  /** Ids of the runs going on (for the log line of a timeout). */
  running(): string[];
}

/**
 * The first half of a graceful stop: deletes the worker key (so the master rebalances at once, instead of
 * after a TTL), aborts every run and waits at most `drainTimeout` for them to settle. True when they did
 * not: then the lease must be left to expire, so their claims hold off new owners until then.
 */
export async function drain(d: DrainDeps): Promise<{ timedOut: boolean }> {
  const { o, k, log, session } = d;
  const key = k.worker(o.name);
  const workerKeyGone =
    session && !session.isLost
      ? o.store
          .txn({
            compare: [{ key, target: 'lease', op: '=', value: session.leaseId }],
            success: [{ type: 'delete', key }],
          })
          .catch((err: unknown) => log.warn({ err }, 'deleting the worker key failed'))
      : Promise.resolve();
  d.runs?.stopAll('worker stopping');
  const settled = d.runs?.settled() ?? Promise.resolve();
  // The drain timer is cancelled once the runs settled: a pending timer would keep the process alive.
  const drainTimer = new AbortController();
  const timedOut = await Promise.race([
    settled.then(() => false),
    sleep(o.clock, o.drainTimeout, drainTimer.signal).then(
      () => true,
      () => false,
    ),
  ]);
  drainTimer.abort();
  if (timedOut) {
    log.error(
      { running: d.running(), drainTimeout: o.drainTimeout },
      'runs did not settle within drainTimeout: the lease is left to expire, so their claims hold off new owners until then',
    );
  }
  await workerKeyGone;
  return { timedOut };
}
