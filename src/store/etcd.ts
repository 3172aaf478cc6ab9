/**
 * The etcd adapter of the store port, on the `etcd3` npm client's raw rpc clients (`KVClient`,
 * `LeaseClient`, `WatchClient`) so every request says exactly what it means (compare targets including
 * lease, `prev_kv`, sort targets) and nothing happens behind the caller's back:
 *
 * - **One attempt per call.** etcd3's default global policy retries "recoverable" errors 3 times, which can
 *   apply a write twice (the first attempt may have been applied before the connection broke). Here the
 *   global policy is a no-op: a `StoreUnavailableError` from a write means "outcome unknown", and the
 *   caller decides (protocol writes are txns guarded by compares, so re-running them is safe).
 *   The per-host policy stays a circuit breaker: it only skips an endpoint that failed 3 times in a row.
 * - **Every call has a deadline** (`callTimeout`): a gRPC deadline on each unary call, plus a guard timer
 *   over the whole call (authentication included); keep-alives and watch creation are bounded the same way.
 * - **Watches never resume by themselves** (see `etcd-watch.ts`).
 * - **Errors are ours**: see {@link mapEtcdError}.
 *
 * The parts: options and the client (`etcd-options.ts`), one guarded call and its errors
 * (`etcd-call.ts`), requests and responses (`etcd-codec.ts`), leases (`etcd-lease.ts`), watches
 * (`etcd-watch.ts`). This file is the adapter: key-value calls, txns, watches, compaction.
 */
import { AlarmAction, AlarmType, type Etcd3 } from 'etcd3';
import { CompactedError, StoreRequestError } from '../errors.js';
import { type CallContext, guardedCall, mapEtcdError } from './etcd-call.js';
import {
  bytes,
  leaseField,
  rangeEnd,
  rangeRequest,
  rangeResult,
  toCompare,
  toKeyValue,
  toOpResult,
  toRequestOp,
} from './etcd-codec.js';
import { EtcdLeases } from './etcd-lease.js';
import { createEtcdClient, type EtcdStoreOptions, parseCallTimeout, parseEndpoints } from './etcd-options.js';
import { EtcdWatch } from './etcd-watch.js';
import type {
  KeyValue,
  LeaseGrant,
  LeaseId,
  LeaseInfo,
  RangeOptions,
  RangeResult,
  Store,
  TxnRequest,
  TxnResult,
  WatchOptions,
  WatchStream,
} from './port.js';

export { mapEtcdError } from './etcd-call.js';
export { leaseIdFromDecimal, leaseIdToDecimal } from './etcd-codec.js';
export {
  DEFAULT_CALL_TIMEOUT,
  DEFAULT_GRPC_KEEPALIVE_TIME,
  type EtcdClientExtras,
  type EtcdStoreOptions,
  parseEndpoints,
} from './etcd-options.js';

/**
 * The store port on etcd v3. `close()` ends every watch (the iterators end without error) and the
 * client; later calls throw `StoreRequestError`.
 */
export class EtcdStore implements Store {
  readonly kind = 'etcd' as const;
  /** Endpoints as parsed, for error messages. */
  readonly endpoints: readonly string[];
  private readonly callTimeout: number;
  private readonly client: Etcd3;
  private readonly leases: EtcdLeases;
  private readonly watches = new Set<EtcdWatch>();
  private closed = false;

  constructor(options: EtcdStoreOptions) {
    this.endpoints = parseEndpoints(options.hosts);
    this.callTimeout = parseCallTimeout(options.callTimeout);
    this.client = createEtcdClient(options, this.endpoints, this.callTimeout);
    this.leases = new EtcdLeases(this.client.leaseClient, (ctx, fn) => this.call(ctx, fn));
  }

  async get(key: string): Promise<KeyValue | undefined> {
    const res = await this.call({ operation: 'get', key }, () => this.client.kv.range({ key: bytes(key) }));
    return res.kvs.length > 0 ? toKeyValue(res.kvs[0]) : undefined;
  }

  async range(key: string, options: RangeOptions = {}): Promise<RangeResult> {
    const req = rangeRequest(key, options);
    try {
      const res = await this.call({ operation: 'range', key }, () => this.client.kv.range(req));
      return { ...rangeResult(res), revision: Number(res.header.revision) };
    } catch (err) {
      if (err instanceof CompactedError && options.revision) {
        throw new CompactedError(await this.compactRevisionAbove(key, options.revision));
      }
      throw err;
    }
  }

  async put(key: string, value: string, options: { lease?: LeaseId } = {}): Promise<{ revision: number }> {
    const lease = leaseField(options.lease);
    const res = await this.call({ operation: 'put', key, lease: options.lease }, () =>
      this.client.kv.put({ key: bytes(key), value: bytes(value), lease }),
    );
    return { revision: Number(res.header.revision) };
  }

  async delete(
    key: string,
    options: { prefix?: boolean } = {},
  ): Promise<{ revision: number; deleted: number }> {
    const res = await this.call({ operation: 'delete', key }, () =>
      this.client.kv.deleteRange({ key: bytes(key), range_end: options.prefix ? rangeEnd(key) : undefined }),
    );
    return { revision: Number(res.header.revision), deleted: Number(res.deleted) };
  }

  async txn(request: TxnRequest): Promise<TxnResult> {
    const failure = request.failure ?? [];
    const ops = [...request.success, ...failure];
    const leases = [...new Set(ops.flatMap((op) => (op.type === 'put' && op.lease ? [op.lease] : [])))];
    const key = request.compare[0]?.key ?? ops[0]?.key ?? '';
    const res = await this.call({ operation: 'txn', key, lease: leases.join(',') || undefined }, () =>
      this.client.kv.txn({
        compare: request.compare.map(toCompare),
        success: request.success.map(toRequestOp),
        failure: failure.map(toRequestOp),
      }),
    );
    const branch = res.succeeded ? request.success : failure;
    return {
      succeeded: res.succeeded,
      revision: Number(res.header.revision),
      responses: res.responses.map((r, i) => toOpResult(branch[i], r)),
    };
  }

  grantLease(ttl: number): Promise<LeaseGrant> {
    return this.leases.grant(ttl);
  }

  /** One keep-alive round trip on a short-lived `LeaseKeepAlive` stream (as Go's `KeepAliveOnce`). */
  keepAliveOnce(id: LeaseId): Promise<{ ttl: number }> {
    return this.leases.keepAliveOnce(id);
  }

  revokeLease(id: LeaseId): Promise<void> {
    return this.leases.revoke(id);
  }

  leaseTimeToLive(id: LeaseId, options: { keys?: boolean } = {}): Promise<LeaseInfo> {
    return this.leases.timeToLive(id, options);
  }

  watch(key: string, options: WatchOptions = {}): WatchStream {
    return {
      [Symbol.asyncIterator]: () => {
        const watch = new EtcdWatch(
          {
            watchClient: this.client.watchClient,
            callTimeout: this.callTimeout,
            toKeyValue,
            mapError: (err) => mapEtcdError(err, { operation: 'watch', key }, this.endpoints),
            onClosed: (w) => this.watches.delete(w),
          },
          {
            key: bytes(key),
            rangeEnd: options.prefix ? rangeEnd(key) : undefined,
            startRevision: options.startRevision ?? 0,
            prevKv: options.prevKv === true,
            signal: options.signal,
            label: JSON.stringify(key),
          },
        );
        if (this.closed) watch.finish();
        else this.watches.add(watch);
        return watch;
      },
    };
  }

  async compact(revision: number): Promise<void> {
    try {
      await this.call({ operation: 'compact', key: String(revision) }, () =>
        this.client.kv.compact({ revision, physical: false }),
      );
    } catch (err) {
      // Compacting at or below the compact revision: etcd refuses with "compacted".
      if (err instanceof CompactedError) {
        throw new CompactedError(await this.compactRevisionAbove('\0', revision - 1));
      }
      throw err;
    }
  }

  /**
   * Active etcd alarms (`NOSPACE`: the backend quota is exhausted and etcd refuses writes until an
   * operator frees space, defragments and disarms; `CORRUPT`), with the member that raised each.
   */
  async alarms(): Promise<{ member: string; alarm: string }[]> {
    const res = await this.call({ operation: 'alarm list', key: '' }, () =>
      this.client.maintenance.alarm({ action: AlarmAction.Get, memberID: 0, alarm: AlarmType.None }),
    );
    return (res.alarms ?? []).map((a) => ({
      member: BigInt(a.memberID).toString(16),
      alarm: String(a.alarm).toUpperCase(),
    }));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const w of [...this.watches]) w.finish();
    this.client.close();
  }

  /** One guarded call (see {@link guardedCall}), refused once the store is closed. */
  private async call<T>(ctx: CallContext, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    if (this.closed) {
      throw new StoreRequestError(`etcd ${ctx.operation} ${JSON.stringify(ctx.key)}: the store is closed`);
    }
    return guardedCall(ctx, fn, this.callTimeout, this.endpoints);
  }

  /**
   * The compact revision, known to be above `revision` (a read or watch at `revision` was refused as
   * compacted). etcd does not put it in the range error, but a watch from a compacted revision is
   * cancelled with it, at once: the server checks compaction before delivering any event.
   */
  private async compactRevisionAbove(key: string, revision: number): Promise<number> {
    const signal = AbortSignal.timeout(this.callTimeout);
    try {
      for await (const _ of this.watch(key, { startRevision: Math.max(1, revision), signal })) break;
    } catch (err) {
      if (err instanceof CompactedError) return err.compactRevision;
      throw err;
    }
    // Not refused (a race with nothing else, or the deadline): report the lower bound we know.
    return revision + 1;
  }
}
