/**
 * One call to etcd: its deadline guard and the mapping of its errors to ours. The adapter's methods
 * and its leases go through {@link guardedCall}; watches map their stream errors with
 * {@link mapEtcdError}.
 */
import { isBrokenCircuitError } from 'cockatiel';
import {
  ClientClosedError,
  castGrpcError,
  EtcdLeaseInvalidError,
  GRPCResourceExhastedError,
  isRecoverableError,
} from 'etcd3';
import {
  CompactedError,
  EschedulerError,
  LeaseNotFoundError,
  StoreRequestError,
  StoreUnavailableError,
} from '../errors.js';
import type { LeaseId } from './port.js';

/** Slack of the guard timer over the gRPC deadline, so gRPC reports its own deadline first (ms). */
const DEADLINE_GUARD_SLACK = 250;

/** Context of one call, for error messages. */
export interface CallContext {
  operation: string;
  key: string;
  /** Lease(s) the call refers to, for `LeaseNotFoundError`. */
  lease?: LeaseId;
}

/**
 * Runs one call with the deadline guard and our errors. `fn` gets a signal that aborts when the guard
 * fires, to release streams.
 */
export type EtcdCall = <T>(ctx: CallContext, fn: (signal: AbortSignal) => Promise<T>) => Promise<T>;

/**
 * Maps an etcd3 / gRPC error to ours: unavailable, deadline, cancelled, broken circuit, "too many
 * requests", no leader → `StoreUnavailableError` (retryable); compaction → `CompactedError` (with
 * `compactRevision` 0: the server does not say; the store looks it up); lease not found →
 * `LeaseNotFoundError`; anything else (permission denied, authentication failed, too many ops, duplicate
 * key, request too large, no space) → `StoreRequestError` with the server's message.
 */
export function mapEtcdError(raw: unknown, ctx: CallContext, endpoints: readonly string[]): EschedulerError {
  if (raw instanceof EschedulerError) return raw;
  // Stream errors reach us as plain gRPC errors; unary ones were typed by etcd3 already.
  const err = raw instanceof Error ? castGrpcError(raw) : raw;
  const message = err instanceof Error ? err.message : String(err);
  const where = `etcd ${ctx.operation} ${JSON.stringify(ctx.key)} (endpoints ${endpoints.join(',')})`;
  if (err instanceof EtcdLeaseInvalidError || message.includes('requested lease not found')) {
    return new LeaseNotFoundError(ctx.lease ?? 'unknown');
  }
  if (message.includes('required revision has been compacted')) return new CompactedError(0);
  if (isBrokenCircuitError(err)) {
    return new StoreUnavailableError(`${where}: every endpoint failed recently (circuit open)`, {
      cause: err,
    });
  }
  if (err instanceof ClientClosedError)
    return new StoreRequestError(`${where}: client closed`, { cause: err });
  const exhausted = err instanceof GRPCResourceExhastedError;
  if (exhausted && !message.includes('too many requests')) {
    return new StoreRequestError(`${where}: ${message}`, { cause: err });
  }
  if (err instanceof Error && isRecoverableError(err)) {
    return new StoreUnavailableError(`${where}: ${message}`, { cause: err });
  }
  return new StoreRequestError(`${where}: ${message}`, { cause: err });
}

/**
 * One call under a guard timer of `callTimeout` (plus a little slack, so gRPC's own deadline answers
 * first), its errors mapped by {@link mapEtcdError}.
 */
export async function guardedCall<T>(
  ctx: CallContext,
  fn: (signal: AbortSignal) => Promise<T>,
  callTimeout: number,
  endpoints: readonly string[],
): Promise<T> {
  const controller = new AbortController();
  try {
    return await new Promise<T>((resolve, reject) => {
      const guard = setTimeout(() => {
        controller.abort();
        reject(
          new StoreUnavailableError(
            `etcd ${ctx.operation} ${JSON.stringify(ctx.key)}: no answer within ${callTimeout} ms ` +
              `(endpoints ${endpoints.join(',')})`,
          ),
        );
      }, callTimeout + DEADLINE_GUARD_SLACK);
      fn(controller.signal)
        .then(resolve, reject)
        .finally(() => clearTimeout(guard));
    });
  } catch (err) {
    throw mapEtcdError(err, ctx, endpoints);
  }
}
