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
 */
import { ConsecutiveBreaker, circuitBreaker, handleWhen, isBrokenCircuitError, noop } from 'cockatiel';
import {
  ClientClosedError,
  castGrpcError,
  Etcd3,
  EtcdLeaseInvalidError,
  GRPCResourceExhastedError,
  type ICompare,
  type IKeyValue,
  type IOptions,
  type IRangeRequest,
  type IRangeResponse,
  type IRequestOp,
  type IResponseOp,
  isRecoverableError,
} from 'etcd3';
import {
  CompactedError,
  EschedulerError,
  LeaseNotFoundError,
  OptionError,
  StoreRequestError,
  StoreUnavailableError,
} from '../errors.js';
import { EtcdWatch } from './etcd-watch.js';
import {
  type Compare,
  type KeyValue,
  type LeaseGrant,
  type LeaseId,
  type LeaseInfo,
  NO_LEASE,
  type Op,
  type OpResult,
  type RangeOptions,
  type RangeResult,
  type Store,
  type TxnRequest,
  type TxnResult,
  type WatchOptions,
  type WatchStream,
} from './port.js';

/** @default 5_000 (ms) */
export const DEFAULT_CALL_TIMEOUT = 5_000;
/** gRPC keep-alive ping interval on connections with open streams; detects a paused member under a watch. */
export const DEFAULT_GRPC_KEEPALIVE_TIME = 10_000;
/** Slack of the guard timer over the gRPC deadline, so gRPC reports its own deadline first (ms). */
const DEADLINE_GUARD_SLACK = 250;

/** Extra `etcd3` client options. Retries and call options are not among them: they are this adapter's job. */
export interface EtcdClientExtras {
  /** gRPC channel options, merged over ours (keep-alive, reconnect backoff, unlimited receive size). */
  grpcOptions?: IOptions['grpcOptions'];
  /** Per-endpoint policy. @default circuit breaker: skip an endpoint for 2 s after 3 consecutive failures */
  hostPolicy?: NonNullable<IOptions['faultHandling']>['host'];
}

export interface EtcdStoreOptions {
  /**
   * Client endpoints: `host:port`, `http://host:port` or `https://host:port` (TLS), as an array or one
   * comma-separated string (see {@link parseEndpoints}).
   */
  hosts: string | string[];
  /** Password authentication. @default none */
  auth?: { username: string; password: string };
  /** TLS: CA certificate, and client key and certificate for mutual TLS. @default none (plain text) */
  credentials?: { rootCertificate: Buffer; privateKey?: Buffer; certChain?: Buffer };
  /**
   * Deadline of every call, including creating a watch and one lease keep-alive. Connecting to an
   * endpoint is bounded by it too (etcd3 1.1.2 has no working dial timeout of its own).
   * @default 5_000 (ms)
   */
  callTimeout?: number;
  /** Extra options for the `etcd3` client. */
  etcd3?: EtcdClientExtras;
}

/**
 * Parses endpoints such as `"a:2379,b:2379"` or `"http://a:2379, https://b:2379"`: returns `host:port`
 * for plain-text endpoints and keeps `https://` (it switches etcd3 to TLS). Throws `OptionError` naming
 * the bad entry.
 */
export function parseEndpoints(value: string | string[], option = 'hosts'): string[] {
  const entries = (Array.isArray(value) ? value : value.split(','))
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (entries.length === 0) {
    throw new OptionError(`${option} must name at least one etcd endpoint, got ${JSON.stringify(value)}`);
  }
  const endpoints = entries.map((entry) => {
    const m = /^(https?:\/\/)?(\[[0-9a-fA-F:.]+\]|[^\s/:[\]]+):(\d{1,5})\/?$/.exec(entry);
    if (!m || Number(m[3]) > 65535) {
      throw new OptionError(
        `${option}: an etcd endpoint must be host:port or http(s)://host:port, got ${JSON.stringify(entry)}`,
      );
    }
    return `${m[1] === 'https://' ? 'https://' : ''}${m[2]}:${m[3]}`;
  });
  const secure = endpoints.filter((e) => e.startsWith('https://')).length;
  if (secure > 0 && secure < endpoints.length) {
    throw new OptionError(`${option}: mixes https:// and plain endpoints: ${endpoints.join(',')}`);
  }
  return endpoints;
}

/** Port lease id (lowercase hex) → etcd3 lease id (decimal string). */
export function leaseIdToDecimal(id: LeaseId): string {
  if (typeof id !== 'string' || !/^[0-9a-f]{1,16}$/.test(id)) {
    throw new StoreRequestError(`invalid lease id ${JSON.stringify(id)}: expected lowercase hex`);
  }
  return BigInt(`0x${id}`).toString(10);
}

/** etcd3 lease id (decimal string) → port lease id (lowercase hex, `'0'` for none). */
export function leaseIdFromDecimal(id: string | number): LeaseId {
  return BigInt(id).toString(16);
}

const COMPARE_RESULT = { '=': 'Equal', '!=': 'NotEqual', '<': 'Less', '>': 'Greater' } as const;
const SORT_TARGET = { key: 'Key', create: 'Create', mod: 'Mod' } as const;
const SORT_ORDER = { ascend: 'Ascend', descend: 'Descend' } as const;

/** Context of one call, for error messages. */
interface CallContext {
  operation: string;
  key: string;
  /** Lease(s) the call refers to, for `LeaseNotFoundError`. */
  lease?: LeaseId;
}

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
 * The store port on etcd v3. `close()` ends every watch (the iterators end without error) and the
 * client; later calls throw `StoreRequestError`.
 */
export class EtcdStore implements Store {
  readonly kind = 'etcd' as const;
  /** Endpoints as parsed, for error messages. */
  readonly endpoints: readonly string[];
  private readonly callTimeout: number;
  private readonly client: Etcd3;
  private readonly watches = new Set<EtcdWatch>();
  private closed = false;

  constructor(options: EtcdStoreOptions) {
    this.endpoints = parseEndpoints(options.hosts);
    this.callTimeout = options.callTimeout ?? DEFAULT_CALL_TIMEOUT;
    if (!Number.isFinite(this.callTimeout) || this.callTimeout <= 0) {
      throw new OptionError(
        `callTimeout must be a positive number of ms, got ${String(options.callTimeout)}`,
      );
    }
    const callTimeout = this.callTimeout;
    this.client = new Etcd3({
      hosts: [...this.endpoints],
      auth: options.auth,
      credentials: options.credentials,
      defaultCallOptions: (context) => (context.isStream ? {} : { deadline: Date.now() + callTimeout }),
      grpcOptions: {
        'grpc.keepalive_time_ms': DEFAULT_GRPC_KEEPALIVE_TIME,
        'grpc.keepalive_timeout_ms': callTimeout,
        'grpc.initial_reconnect_backoff_ms': 100,
        'grpc.max_reconnect_backoff_ms': 2_000,
        'grpc.max_receive_message_length': -1,
        ...options.etcd3?.grpcOptions,
      },
      faultHandling: {
        global: noop,
        host:
          options.etcd3?.hostPolicy ??
          (() =>
            circuitBreaker(handleWhen(isRecoverableError), {
              halfOpenAfter: 2_000,
              breaker: new ConsecutiveBreaker(3),
            })),
      },
    });
  }

  async get(key: string): Promise<KeyValue | undefined> {
    const res = await this.call({ operation: 'get', key }, () => this.client.kv.range({ key: bytes(key) }));
    return res.kvs.length > 0 ? this.toKeyValue(res.kvs[0]) : undefined;
  }

  async range(key: string, options: RangeOptions = {}): Promise<RangeResult> {
    const req = rangeRequest(key, options);
    try {
      const res = await this.call({ operation: 'range', key }, () => this.client.kv.range(req));
      return { ...this.rangeResult(res), revision: Number(res.header.revision) };
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
      responses: res.responses.map((r, i) => this.toOpResult(branch[i], r)),
    };
  }

  async grantLease(ttl: number): Promise<LeaseGrant> {
    const res = await this.call({ operation: 'grantLease', key: '' }, () =>
      this.client.leaseClient.leaseGrant({ TTL: ttl, ID: 0 }),
    );
    if (res.error) throw new StoreRequestError(`etcd grantLease ttl ${ttl}: ${res.error}`);
    return { id: leaseIdFromDecimal(res.ID), ttl: Number(res.TTL) };
  }

  /** One keep-alive round trip on a short-lived `LeaseKeepAlive` stream (as Go's `KeepAliveOnce`). */
  async keepAliveOnce(id: LeaseId): Promise<{ ttl: number }> {
    const ID = leaseIdToDecimal(id);
    const ttl = await this.call({ operation: 'keepAliveOnce', key: '', lease: id }, async (signal) => {
      const stream = await this.client.leaseClient.leaseKeepAlive();
      const close = () => {
        stream.end();
        stream.cancel();
      };
      if (signal.aborted) {
        close(); // the deadline passed while connecting; the call has failed already
        throw new StoreUnavailableError(`keep-alive stream for lease ${id} opened after the deadline`);
      }
      signal.addEventListener('abort', close, { once: true });
      try {
        const res = await new Promise<{ TTL: string }>((resolve, reject) => {
          stream.on('data', resolve);
          stream.on('error', reject);
          stream.on('end', () =>
            reject(new StoreUnavailableError(`keep-alive stream for lease ${id} ended`)),
          );
          stream.write({ ID });
        });
        return Number(res.TTL);
      } finally {
        signal.removeEventListener('abort', close);
        close();
      }
    });
    if (ttl <= 0) throw new LeaseNotFoundError(id);
    return { ttl };
  }

  async revokeLease(id: LeaseId): Promise<void> {
    const ID = leaseIdToDecimal(id);
    try {
      await this.call({ operation: 'revokeLease', key: '', lease: id }, () =>
        this.client.leaseClient.leaseRevoke({ ID }),
      );
    } catch (err) {
      if (!(err instanceof LeaseNotFoundError)) throw err;
      // Revoking a lease that is already gone is not an error (port contract): nothing to do.
    }
  }

  async leaseTimeToLive(id: LeaseId, options: { keys?: boolean } = {}): Promise<LeaseInfo> {
    const ID = leaseIdToDecimal(id);
    const res = await this.call({ operation: 'leaseTimeToLive', key: '', lease: id }, () =>
      this.client.leaseClient.leaseTimeToLive({ ID, keys: options.keys === true }),
    );
    const ttl = Number(res.TTL);
    const info: LeaseInfo = { id, ttl: ttl < 0 ? -1 : ttl, grantedTtl: Number(res.grantedTTL) };
    if (options.keys) info.keys = (res.keys ?? []).map((k) => k.toString('utf8'));
    return info;
  }

  watch(key: string, options: WatchOptions = {}): WatchStream {
    return {
      [Symbol.asyncIterator]: () => {
        const watch = new EtcdWatch(
          {
            watchClient: this.client.watchClient,
            callTimeout: this.callTimeout,
            toKeyValue: (kv) => this.toKeyValue(kv),
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

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const w of [...this.watches]) w.finish();
    this.client.close();
  }

  /**
   * Runs one call with the deadline guard and maps its errors. `fn` gets a signal that aborts when the
   * guard fires, to release streams.
   */
  private async call<T>(ctx: CallContext, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    if (this.closed) {
      throw new StoreRequestError(`etcd ${ctx.operation} ${JSON.stringify(ctx.key)}: the store is closed`);
    }
    const controller = new AbortController();
    try {
      return await new Promise<T>((resolve, reject) => {
        const guard = setTimeout(() => {
          controller.abort();
          reject(
            new StoreUnavailableError(
              `etcd ${ctx.operation} ${JSON.stringify(ctx.key)}: no answer within ${this.callTimeout} ms ` +
                `(endpoints ${this.endpoints.join(',')})`,
            ),
          );
        }, this.callTimeout + DEADLINE_GUARD_SLACK);
        fn(controller.signal)
          .then(resolve, reject)
          .finally(() => clearTimeout(guard));
      });
    } catch (err) {
      throw mapEtcdError(err, ctx, this.endpoints);
    }
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

  private toKeyValue(kv: IKeyValue): KeyValue {
    return {
      key: kv.key.toString('utf8'),
      value: kv.value ? kv.value.toString('utf8') : '',
      createRevision: Number(kv.create_revision),
      modRevision: Number(kv.mod_revision),
      version: Number(kv.version),
      lease: leaseIdFromDecimal(kv.lease || '0'),
    };
  }

  private rangeResult(res: IRangeResponse): { kvs: KeyValue[]; count: number; more: boolean } {
    return { kvs: res.kvs.map((kv) => this.toKeyValue(kv)), count: Number(res.count), more: res.more };
  }

  private toOpResult(op: Op | undefined, r: IResponseOp): OpResult {
    if (r.response_put) {
      const result: OpResult = { type: 'put' };
      if (r.response_put.prev_kv) result.prevKv = this.toKeyValue(r.response_put.prev_kv);
      return result;
    }
    if (r.response_delete_range) {
      const d = r.response_delete_range;
      const result: OpResult = { type: 'delete', deleted: Number(d.deleted) };
      if (op?.type === 'delete' && op.prevKv) result.prevKvs = d.prev_kvs.map((kv) => this.toKeyValue(kv));
      return result;
    }
    if (r.response_range) return { type: 'range', ...this.rangeResult(r.response_range) };
    throw new StoreRequestError(`etcd txn: unexpected response op ${JSON.stringify(Object.keys(r))}`);
  }
}

function bytes(s: string): Buffer {
  return Buffer.from(s, 'utf8');
}

/** Range end of a prefix, as bytes (`prefixEnd` returns one char per byte). */
function rangeEnd(prefix: string): Buffer {
  return Buffer.from(prefixEnd(prefix), 'latin1');
}

function leaseField(lease: LeaseId | undefined): string | undefined {
  return lease && lease !== NO_LEASE ? leaseIdToDecimal(lease) : undefined;
}

function rangeRequest(key: string, options: RangeOptions): IRangeRequest {
  return {
    key: bytes(key),
    range_end: options.prefix ? rangeEnd(key) : undefined,
    limit: options.limit ?? 0,
    revision: options.revision ?? 0,
    sort_target: SORT_TARGET[options.sortBy ?? 'key'],
    sort_order: SORT_ORDER[options.sortOrder ?? 'ascend'],
    keys_only: options.keysOnly === true,
    count_only: options.countOnly === true,
    max_create_revision: options.maxCreateRevision ?? 0,
  };
}

function toCompare(c: Compare): ICompare {
  const base: ICompare = { key: bytes(c.key), result: COMPARE_RESULT[c.op] };
  switch (c.target) {
    case 'create':
      return { ...base, target: 'Create', create_revision: c.value };
    case 'mod':
      return { ...base, target: 'Mod', mod_revision: c.value };
    case 'version':
      return { ...base, target: 'Version', version: c.value };
    case 'value':
      return { ...base, target: 'Value', value: bytes(c.value) };
    case 'lease':
      return { ...base, target: 'Lease', lease: c.value === NO_LEASE ? 0 : leaseIdToDecimal(c.value) };
  }
}

function toRequestOp(op: Op): IRequestOp {
  switch (op.type) {
    case 'put':
      return {
        request_put: {
          key: bytes(op.key),
          value: bytes(op.value),
          lease: leaseField(op.lease),
          prev_kv: op.prevKv === true,
        },
      };
    case 'delete':
      return {
        request_delete_range: {
          key: bytes(op.key),
          range_end: op.prefix ? rangeEnd(op.key) : undefined,
          prev_kv: op.prevKv === true,
        },
      };
    case 'range':
      return { request_range: rangeRequest(op.key, op) };
  }
}

/** Prefix end for an etcd range: the smallest key greater than every key with this prefix. */
function prefixEnd(prefix: string): string {
  const b = Buffer.from(prefix, 'utf8');
  for (let i = b.length - 1; i >= 0; i--) {
    if (b[i] < 0xff) {
      const out = b.subarray(0, i + 1);
      out[i]++;
      return out.toString('latin1');
    }
  }
  return '\0';
}
