/**
 * Registration and re-registration: a session (lease) and `/<root>/worker/<name>` = `running` on it, under
 * the registration mutex (as the original); the retry loop around it; and the watch of the worker key that
 * tells a fence is due when the lease goes behind the worker's back.
 */

import { hostname } from 'node:os';
import { EschedulerError, WorkerNameTakenError, WorkerNumExceedMaximumError } from '../../errors.js';
import { Mutex } from '../../recipes/mutex.js';
import { Session } from '../../recipes/session.js';
import { waitForDelete } from '../../recipes/watcher.js';
import type { Logger } from '../../util/logger.js';
import { linkedSignal } from '../../util/signals.js';
import type { Keys } from '../keys.js';
import { WORKER_VALUE_RUNNING } from '../keys.js';
import { nodeValue } from '../node.js';
import { retryBackoff } from '../options.js';
import { markerName } from '../restart.js';
import type { Emit } from './events.js';
import type { ResolvedWorkerOptions } from './options.js';
import { type FleetFull, standbyRecord, waitForSlot } from './standby.js';

export interface RegistrationRequest {
  session: Session;
  keys: Keys;
  name: string;
  /** Workers + 1: at most `maxNumNodes - 1` workers may be registered. */
  maxNumNodes: number;
  /** Aborts the wait for the registration mutex. */
  signal: AbortSignal;
  /** The value of `/<root>/node/<name>` (NodeInfo JSON), written in the same txn on the same lease. */
  node?: string;
  log: Logger;
  /**
   * `onCapacityFull: 'wait'`: when the fleet is full, put this value at `/<root>/standby/<name>` (on the
   * session's lease, if not there yet) and return `{ full }` instead of throwing.
   */
  standby?: string;
}

/** A registration: the revision of the worker key's put, and whether it took a restart marker down. */
export interface Registration {
  revision: number;
  /** A restart marker of this name lived: this is the worker coming back within its grace. */
  returned: boolean;
}

/** A registration, or (waiting for a slot, `standby` given) what was seen. */
export type RegistrationResult = (Registration & { full?: undefined }) | { full: FleetFull };

/**
 * Registers `/<root>/worker/<name>` = `running` with the session's lease, under the registration mutex
 * (as the original) so two workers cannot both squeeze under the cap. Refuses a name held by another
 * live lease and a full fleet. A live restart marker (`/<root>/restarting/<name>`) holds its worker's place
 * under the cap for the worker of that name: another name cannot take it, and the worker of that name takes
 * the marker down in the same txn as its put (so the master never sees it gone and not back). A freed slot
 * goes to the standbys first, in their arrival order (create revision of `/<root>/standby/<name>`): a
 * worker without a marker takes a slot only when the standbys ahead of it (all of them, when it is not
 * one) leave one free.
 */
export async function registerWorker(r: RegistrationRequest): Promise<RegistrationResult> {
  const { session, keys: k, name, maxNumNodes } = r;
  const store = session.store;
  const mutex = new Mutex(session, k.registerMutex);
  // lock() already gives up when the session ends; the stop signal is the caller's.
  await mutex.lock({ signal: r.signal });
  try {
    const myKey = k.worker(name);
    const standbyKey = k.standby(name);
    const [res, markers, standbys] = await Promise.all([
      store.range(k.workerPrefix, { prefix: true }),
      store.range(k.restartingPrefix, { prefix: true, keysOnly: true }),
      store.range(k.standbyPrefix, { prefix: true }),
    ]);
    const mine = res.kvs.find((kv) => kv.key === myKey);
    const myStandby = standbys.kvs.find((kv) => kv.key === standbyKey);
    const holder = mine ?? myStandby;
    if ((mine && mine.lease !== session.leaseId) || (myStandby && myStandby.lease !== session.leaseId)) {
      throw new WorkerNameTakenError(
        `worker name ${JSON.stringify(name)} is taken by a live ${mine ? 'worker' : 'standby'} (lease ${holder?.lease}); choose another name`,
      );
    }
    const online = new Set(res.kvs.map((kv) => kv.key.slice(k.workerPrefix.length)));
    const marker = markers.kvs.find((kv) => kv.key === k.restarting(name));
    const reserved = markers.kvs.filter((kv) => {
      const w = markerName(kv.key, k.restartingPrefix);
      return w !== undefined && w !== name && !online.has(w);
    }).length;
    const others = res.kvs.length - (mine ? 1 : 0);
    // A worker coming back to its own marker has its place kept: no standby goes before it.
    const ahead = marker
      ? 0
      : myStandby
        ? standbys.kvs.filter((kv) => kv.createRevision < myStandby.createRevision).length
        : standbys.kvs.length;
    const max = maxNumNodes - 1;
    if (others + reserved + ahead >= max) {
      if (r.standby === undefined) {
        const held = reserved > 0 ? ` and ${reserved} restarting` : '';
        const queued = ahead > 0 ? ` (${ahead} standby worker${ahead > 1 ? 's' : ''} waiting first)` : '';
        throw new WorkerNumExceedMaximumError(
          `worker num exceed maximum: ${others} workers online${held}${queued} and maxNumNodes ${maxNumNodes} allows ${max}; worker ${JSON.stringify(name)} not registered`,
        );
      }
      if (!myStandby) {
        const put = await store.txn({
          compare: [mutex.isOwner(), { key: standbyKey, target: 'create', op: '=', value: 0 }],
          success: [{ type: 'put', key: standbyKey, value: r.standby, lease: session.leaseId }],
        });
        if (!put.succeeded) {
          throw new WorkerNameTakenError(`worker name ${JSON.stringify(name)} was taken concurrently`);
        }
      }
      // Watch for deletions from the earliest of the reads on: none is missed.
      const revision = Math.min(res.revision, markers.revision, standbys.revision);
      return { full: { online: others, max, ahead, revision } };
    }
    const markerKey = k.restarting(name);
    const put = await store.txn({
      compare: [
        mutex.isOwner(),
        { key: myKey, target: 'create', op: '=', value: 0 },
        // The marker read above is the one taken down (or there is none): `returned` tells the truth.
        { key: markerKey, target: 'mod', op: '=', value: marker?.modRevision ?? 0 },
      ],
      success: [
        { type: 'put', key: myKey, value: WORKER_VALUE_RUNNING, lease: session.leaseId },
        ...(r.node !== undefined
          ? [{ type: 'put' as const, key: k.node(name), value: r.node, lease: session.leaseId }]
          : []),
        ...(marker ? [{ type: 'delete' as const, key: markerKey }] : []),
        ...(myStandby ? [{ type: 'delete' as const, key: standbyKey }] : []),
      ],
    });
    if (!put.succeeded) {
      throw new WorkerNameTakenError(`worker name ${JSON.stringify(name)} was registered concurrently`);
    }
    if (marker) {
      // Its lease bound nothing else: revoke it rather than leave it to expire (best effort).
      await store.revokeLease(marker.lease).catch(() => undefined);
    }
    return { revision: put.revision, returned: marker !== undefined };
  } finally {
    await mutex
      .unlock()
      .catch((err: unknown) => r.log.warn({ err }, 'unlocking the registration mutex failed'));
  }
}

export interface ConnectDeps {
  o: ResolvedWorkerOptions;
  k: Keys;
  log: Logger;
  emit: Emit;
  /** The worker's stop signal: ends the retries. */
  stop: AbortSignal;
  /** Told the outcome of every registration attempt: its error, or undefined (registered, or standby). */
  attempted?: (error: unknown) => void;
  /** Told each time the fleet was found full and this worker waits as a standby (`onCapacityFull: 'wait'`). */
  standby?: (full: FleetFull, since: number) => void;
}

/** A registered session, the revision of its worker key, and whether it came back from a restart. */
export interface Registered extends Registration {
  session: Session;
}

/**
 * Creates a session and registers, retrying transient failures with backoff until registered or stopped.
 * `previous` (after a loss) is revoked first, best effort. Refusals (fleet full, name taken) are thrown on
 * the first registration — they need an operator — and retried on a re-registration; with
 * `onCapacityFull: 'wait'` a full fleet is waited out as a standby instead (logged once per wait). Throws
 * once `stop` aborts; a session registered meanwhile is closed again.
 */
export async function connect(d: ConnectDeps, first: boolean, previous?: Session): Promise<Registered> {
  const { o, log } = d;
  const backoff = retryBackoff(o);
  const stopped = (cause?: unknown) =>
    new EschedulerError(`worker ${o.name} stopped before it registered`, { cause });
  /** Set on the first standby of this call: the wait is logged once, and the record keeps its time. */
  let standbySince: number | undefined;
  for (;;) {
    if (d.stop.aborted) throw stopped();
    let session: Session | undefined;
    try {
      if (previous) {
        const lease = previous.leaseId;
        await o.store
          .revokeLease(lease)
          .catch((err: unknown) =>
            log.warn({ err, lease }, 'revoking the lost lease failed; it expires by itself'),
          );
      }
      session = await Session.create({
        store: o.store,
        ttl: o.ttl,
        clock: o.clock,
        ...(o.selfFenceMargin !== undefined ? { margin: o.selfFenceMargin } : {}),
      });
      let result: RegistrationResult;
      for (;;) {
        result = await registerWorker({
          session,
          keys: d.k,
          name: o.name,
          maxNumNodes: o.maxNumNodes,
          signal: d.stop,
          log,
          node: nodeValue(o.capacity, o.startedAt),
          ...(o.onCapacityFull === 'wait'
            ? { standby: standbyRecord(standbySince ?? o.clock.now(), process.pid, hostname()) }
            : {}),
        });
        d.attempted?.(undefined);
        if (result.full === undefined) break;
        const { full } = result;
        if (standbySince === undefined) {
          standbySince = o.clock.now();
          log.warn(
            { online: full.online, max: full.max, ahead: full.ahead, key: d.k.standby(o.name) },
            `fleet full: ${full.online} workers online, maxNumNodes ${o.maxNumNodes} allows ${full.max}; waiting as a standby until a slot frees (${full.ahead} ahead)`,
          );
        }
        d.standby?.(full, standbySince);
        backoff.reset();
        await waitForSlot(o.store, d.k, full, session, d.stop, o.clock);
        if (d.stop.aborted) throw stopped();
      }
      if (d.stop.aborted) {
        // stop() ran while we registered: it cannot see this session, so undo the registration here.
        await session.close();
        throw new EschedulerError(`worker ${o.name} stopped while it registered`);
      }
      log.info(
        {
          lease: session.leaseId,
          returned: result.returned,
          ...(standbySince !== undefined ? { standbyMs: o.clock.now() - standbySince } : {}),
        },
        result.returned
          ? 'worker registered: back within its restart grace'
          : standbySince !== undefined
            ? 'worker registered: a slot freed'
            : 'worker registered',
      );
      return { session, revision: result.revision, returned: result.returned };
    } catch (err) {
      await session
        ?.close()
        .catch((e: unknown) => log.warn({ err: e }, 'closing the session of a failed registration failed'));
      if (d.stop.aborted) throw stopped(err);
      d.attempted?.(err);
      if (err instanceof WorkerNumExceedMaximumError || err instanceof WorkerNameTakenError) {
        if (first) throw err;
        log.error({ err }, 're-registration refused; retrying');
      } else {
        log.warn({ err }, 'registration failed; retrying');
      }
      d.emit('error', { error: err, context: 'register' });
      await backoff.wait(o.clock, d.stop);
    }
  }
}

/**
 * The lease can go while keep-alives still look fine (revoked by an operator or a tool): its claims vanish
 * at once and another worker may take our tasks after `rebalanceWait`, long before our next keep-alive
 * finds out. The deletion of our worker key says so at once: `onGone` is called then (also when the key
 * alone was deleted by hand). The watch ends with the session or the stop signal, detaching from both.
 */
export function watchRegistration(
  d: ConnectDeps,
  { session, revision }: Registered,
  onGone: (reason: string) => void,
): void {
  const key = d.k.worker(d.o.name);
  const linked = linkedSignal(session.signal, d.stop);
  waitForDelete(d.o.store, key, revision + 1, linked.signal, { clock: d.o.clock })
    .then(
      () => {
        if (!linked.signal.aborted) onGone(`worker key ${key} deleted (lease revoked or key removed)`);
      },
      (err: unknown) => {
        if (!linked.signal.aborted) d.log.warn({ err }, 'watching the worker key failed');
      },
    )
    .finally(() => linked.dispose());
}
