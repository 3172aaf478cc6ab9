/**
 * The store port: the small part of etcd v3 that all protocol code (election, mutex, barrier,
 * registration, master, worker) is written against. Two adapters implement it: `EtcdStore` (the real,
 * distributed engine) and `MemoryStore` (an in-process MVCC store with the same semantics). Anything the
 * memory store does differently from etcd is a bug in the memory store.
 *
 * Keys and values are UTF-8 strings. Lease ids are lowercase hexadecimal strings without padding (the
 * form etcd's Go `concurrency` package puts in key names, `fmt.Sprintf("%x", id)`); `NO_LEASE` is `'0'`.
 * Revisions are numbers (etcd's int64 revisions stay far below 2^53 in practice).
 */

/** Lease id, lowercase hex. */
export type LeaseId = string;

/** "No lease": the value of `KeyValue.lease` for a key without a lease. */
export const NO_LEASE: LeaseId = '0';

export interface KeyValue {
  key: string;
  value: string;
  /** Revision of the last creation of this key. */
  createRevision: number;
  /** Revision of the last modification of this key. */
  modRevision: number;
  /** Number of modifications since creation (1 after the creating put). */
  version: number;
  /** Lease the key is attached to, or {@link NO_LEASE}. */
  lease: LeaseId;
}

export interface RangeOptions {
  /** Treat `key` as a prefix (every key that starts with it). @default false */
  prefix?: boolean;
  /** At most this many keys (0 = no limit). @default 0 */
  limit?: number;
  /** Read at this revision (0 = latest). Throws `CompactedError` if compacted away. @default 0 */
  revision?: number;
  /** Sort target. @default 'key' */
  sortBy?: 'key' | 'create' | 'mod';
  /** @default 'ascend' */
  sortOrder?: 'ascend' | 'descend';
  /** Leave values empty. @default false */
  keysOnly?: boolean;
  /** Only count, `kvs` empty. @default false */
  countOnly?: boolean;
  /** Keys with a create revision at most this (0 = any). @default 0 */
  maxCreateRevision?: number;
}

export interface RangeResult {
  kvs: KeyValue[];
  /** Total number of keys in the range (ignoring `limit`). */
  count: number;
  /** More keys than `limit` returned. */
  more: boolean;
  /** Store revision the read was served at (the header revision). */
  revision: number;
}

export type CompareOp = '=' | '!=' | '<' | '>';

export type Compare =
  | { key: string; target: 'create' | 'mod' | 'version'; op: CompareOp; value: number }
  | { key: string; target: 'value'; op: CompareOp; value: string }
  | { key: string; target: 'lease'; op: CompareOp; value: LeaseId };

export type Op =
  | { type: 'put'; key: string; value: string; lease?: LeaseId; prevKv?: boolean }
  | { type: 'delete'; key: string; prefix?: boolean; prevKv?: boolean }
  | ({ type: 'range'; key: string } & Pick<RangeOptions, 'prefix' | 'limit' | 'sortBy' | 'sortOrder'>);

export type OpResult =
  | { type: 'put'; prevKv?: KeyValue }
  | { type: 'delete'; deleted: number; prevKvs?: KeyValue[] }
  | { type: 'range'; kvs: KeyValue[]; count: number; more: boolean };

export interface TxnRequest {
  compare: Compare[];
  success: Op[];
  failure?: Op[];
}

export interface TxnResult {
  succeeded: boolean;
  /** Store revision after the txn (the header revision). */
  revision: number;
  responses: OpResult[];
}

export interface WatchEvent {
  type: 'put' | 'delete';
  /** For a delete: `key`, empty value, `modRevision` = the deleting revision, other fields 0. */
  kv: KeyValue;
  prevKv?: KeyValue;
}

export interface WatchOptions {
  /** Watch every key with this prefix. @default false */
  prefix?: boolean;
  /** First revision to deliver (inclusive); 0 = from now on. @default 0 */
  startRevision?: number;
  /** Deliver the previous value with each event. @default false */
  prevKv?: boolean;
  /** Stops the watch; the iterator then ends without error. */
  signal?: AbortSignal;
}

/** One batch of events, in revision order, all from one store revision or a run of them. */
export interface WatchBatch {
  events: WatchEvent[];
  /** Store revision when the batch was sent (header revision); ≥ every event's mod revision. */
  revision: number;
}

/**
 * A raw watch: batches in order until the signal aborts (the iterator then ends) or the watch breaks, in
 * which case the iterator throws — `CompactedError` when `startRevision` was compacted,
 * `StoreUnavailableError` when the connection dropped. A raw watch never resumes by itself: the caller
 * (the resilient `PrefixWatcher`) resumes from the last event's mod revision + 1.
 */
export type WatchStream = AsyncIterable<WatchBatch>;

export interface LeaseGrant {
  id: LeaseId;
  /** TTL granted by the server, in seconds. */
  ttl: number;
}

export interface LeaseInfo {
  id: LeaseId;
  /** Seconds left; -1 when the lease is gone. */
  ttl: number;
  grantedTtl: number;
  keys?: string[];
}

export interface Store {
  /** Human-readable kind, for logs: `'etcd'` or `'memory'`. */
  readonly kind: 'etcd' | 'memory';

  get(key: string): Promise<KeyValue | undefined>;
  range(key: string, options?: RangeOptions): Promise<RangeResult>;
  put(key: string, value: string, options?: { lease?: LeaseId }): Promise<{ revision: number }>;
  delete(key: string, options?: { prefix?: boolean }): Promise<{ revision: number; deleted: number }>;
  /** Atomic compare-and-swap; at most 128 ops per branch, each key at most once per branch. */
  txn(request: TxnRequest): Promise<TxnResult>;

  /** Grants a lease of `ttl` seconds. */
  grantLease(ttl: number): Promise<LeaseGrant>;
  /** Renews the lease once; throws `LeaseNotFoundError` when it expired or was revoked. Returns the new TTL. */
  keepAliveOnce(id: LeaseId): Promise<{ ttl: number }>;
  /** Revokes the lease and deletes its keys; revoking a missing lease is not an error. */
  revokeLease(id: LeaseId): Promise<void>;
  /** Time left on the lease, `ttl: -1` when it is gone. */
  leaseTimeToLive(id: LeaseId, options?: { keys?: boolean }): Promise<LeaseInfo>;

  /** Starts a raw watch (see {@link WatchStream}). */
  watch(key: string, options?: WatchOptions): WatchStream;

  /** Compacts the history up to `revision` (exclusive of later revisions). */
  compact(revision: number): Promise<void>;

  /** Closes connections and timers. Safe to call twice. */
  close(): Promise<void>;
}

/** etcd server limits the memory store enforces too. */
export const MAX_TXN_OPS = 128;
export const MAX_REQUEST_BYTES = 1.5 * 1024 * 1024;
