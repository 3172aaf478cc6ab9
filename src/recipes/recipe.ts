/**
 * What the coordination recipes (election, mutex, barrier) share: waiting under the session's and the
 * caller's signal with one cleanup and error path, and deleting their own key when they give up.
 */

import { LeaseNotFoundError, SessionLostError } from '../errors.js';
import { abortReason, linkSignal } from '../util/signals.js';
import type { Session } from './session.js';

/**
 * Runs `body` under a signal that aborts when the session is lost or closed, or when `userSignal` aborts.
 * When `body` throws, awaits `cleanup` and rejects with, in this order: the session's loss reason, the
 * caller's abort reason, a `SessionLostError` for a `LeaseNotFoundError` (its message prefixed with
 * `name`), or the error itself. `cleanup` may throw instead, to reject with a more specific error.
 */
export async function withSessionSignal<T>(
  name: string,
  session: Session,
  userSignal: AbortSignal | undefined,
  body: (signal: AbortSignal) => Promise<T>,
  cleanup: (err: unknown) => Promise<void>,
): Promise<T> {
  const controller = new AbortController();
  const unlinkSession = linkSignal(controller, session.signal);
  const unlinkUser = linkSignal(controller, userSignal);
  try {
    session.throwIfDone();
    return await body(controller.signal);
  } catch (err) {
    await cleanup(err);
    if (session.isLost) throw session.signal.reason;
    if (userSignal?.aborted) throw abortReason(userSignal);
    if (err instanceof LeaseNotFoundError) {
      throw new SessionLostError(`${name}: ${err.message}`, { cause: err });
    }
    throw err;
  } finally {
    unlinkSession();
    unlinkUser();
  }
}

/**
 * Deletes `key` if it still carries the session's lease, once `inflight` (the put that may have created
 * it) has settled, so a put that lands after an abort is deleted too. Best effort, never throws.
 */
export async function deleteOwnKey(
  session: Session,
  key: string,
  inflight: Promise<unknown> | undefined,
): Promise<void> {
  try {
    await inflight?.catch(() => undefined); // its outcome does not matter, only that it settled
    // Guarded by our lease: a key of the same name may be someone else's (a barrier's nanosecond name).
    await session.store.txn({
      compare: [{ key, target: 'lease', op: '=', value: session.leaseId }],
      success: [{ type: 'delete', key }],
    });
  } catch {
    // Best effort: the key carries the session's lease and goes with it at the latest.
  }
}
