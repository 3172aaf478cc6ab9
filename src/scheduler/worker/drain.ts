import type { Session } from '../../recipes/session.js';
import { type Clock, sleep } from '../../util/clock.js';
import type { Logger } from '../../util/logger.js';
import { linkedSignal, onAbort } from '../../util/signals.js';
import type { Keys } from '../keys.js';
import { encodeMarker, graceTtl } from '../restart.js';
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
  /** Restart intent: leave a restart marker of this grace (ms) instead of handing the tasks away. */
  restartGraceMs?: number;
}

/**
 * Takes the worker key down: with restart intent, in one txn with the put of `/<root>/restarting/<name>` on
 * a fresh lease of the grace period (so the master never sees the worker gone without its marker); else
 * alone. Both compare the key's lease with ours: a key that is not ours any more is left alone. Returns
 * whether a marker was left.
 */
async function leave(d: DrainDeps, session: Session): Promise<boolean> {
  const { o, k, log } = d;
  const key = k.worker(o.name);
  const ours = { key, target: 'lease' as const, op: '=' as const, value: session.leaseId };
  const grace = d.restartGraceMs ?? 0;
  if (grace > 0) {
    try {
      const lease = await o.store.grantLease(graceTtl(grace));
      const value = encodeMarker({ at: o.clock.now(), graceMs: grace });
      const res = await o.store.txn({
        compare: [ours],
        success: [
          { type: 'delete', key },
          { type: 'delete', key: k.node(o.name) },
          { type: 'put', key: k.restarting(o.name), value, lease: lease.id },
        ],
      });
      if (res.succeeded) {
        log.info({ graceMs: grace }, 'stopping with restart intent: the assignment is held for the grace');
        return true;
      }
      await o.store.revokeLease(lease.id).catch(() => undefined);
      log.warn({}, 'worker key no longer ours: no restart marker left');
      return false;
    } catch (err) {
      log.warn({ err }, 'leaving a restart marker failed; draining instead');
    }
  }
  await o.store
    .txn({
      compare: [ours],
      success: [
        { type: 'delete', key },
        { type: 'delete', key: k.node(o.name) },
      ],
    })
    .catch((err: unknown) => log.warn({ err }, 'deleting the worker key failed'));
  return false;
}

/**
 * The first half of a graceful stop: deletes the worker key (so the master rebalances at once, instead of
 * after a TTL) — or, with restart intent, swaps it for a restart marker so the master holds the tasks —
 * aborts every run and waits at most `drainTimeout` for them to settle. `timedOut` when they did not: then
 * the lease must be left to expire, so their claims hold off new owners until then. `marked` when a
 * restart marker was left.
 */
export async function drain(d: DrainDeps): Promise<{ timedOut: boolean; marked: boolean }> {
  const { o, log, session } = d;
  const workerKeyGone = session && !session.isLost ? leave(d, session) : Promise.resolve(false);
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
  const marked = await workerKeyGone;
  return { timedOut, marked };
}

/**
 * Fenced: the old lease goes with the next registration, and with it the claims of the stopped runs —
 * so let the runs settle first. While the lease may live (only the worker key was deleted) its claims
 * hold new owners off: wait for the runs, then give it up. Once it is lost, wait at most until it may
 * have expired anyway. Every wait here detaches from the stop signal when it ends.
 */
export async function settleFenced(
  settled: Promise<void>,
  session: Session,
  stop: AbortSignal,
  clock: Clock,
): Promise<void> {
  const waiting = linkedSignal(stop);
  try {
    if (!session.isLost) {
      await Promise.race([settled, onAbort(session.signal, settled), onAbort(waiting.signal, settled)]);
      if (!session.isLost && !stop.aborted) await session.close();
    }
    if (session.isLost && !stop.aborted) {
      const expiry = session.lastKeepAliveAt + session.ttl * 1000 - clock.now();
      await Promise.race([settled, sleep(clock, Math.max(0, expiry), waiting.signal).catch(() => {})]);
    }
  } finally {
    waiting.dispose(); // cancels the expiry sleep when the runs settled first
  }
}
