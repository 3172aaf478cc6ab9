/**
 * The in-process adapter of the store port. The parts: the MVCC key space (`memory-mvcc.ts`), leases on
 * the clock (`memory-lease.ts`), etcd's request rules (`memory-rules.ts`) and the watch cursor
 * (`memory-watch.ts`). This file wires them: the call discipline (a later microtask, unavailability),
 * txns across keys and leases, the watch registry, close.
 */
import { LeaseNotFoundError, OptionError, StoreUnavailableError } from '../errors.js';
import { type Clock, systemClock } from '../util/clock.js';
import { mulberry32 } from '../util/random.js';
import { MemoryLeases } from './memory-lease.js';
import { KeySpace } from './memory-mvcc.js';
import { checkTxn, normalizeLease } from './memory-rules.js';
import { MemoryWatch } from './memory-watch.js';
import {
  type KeyValue,
  type LeaseGrant,
  type LeaseId,
  type LeaseInfo,
  NO_LEASE,
  type RangeOptions,
  type RangeResult,
  type Store,
  type TxnRequest,
  type TxnResult,
  type WatchOptions,
  type WatchStream,
} from './port.js';

/** etcd's minimum lease TTL with its default timings (1.5 × 1000 ms election timeout, rounded up). @default 2 (s) */
export const DEFAULT_MIN_LEASE_TTL = 2;
/** Revisions of history the memory store keeps readable and watchable. @default 100_000 (revisions) */
export const DEFAULT_AUTO_COMPACT = 100_000;

export interface MemoryStoreOptions {
  /** Time source for lease expiry; a `ManualClock` makes expiry deterministic. @default systemClock */
  clock?: Clock;
  /** Seed of the lease id generator: the same seed gives the same ids. @default random */
  seed?: number;
  /**
   * Keep at least the last `autoCompact` revisions of history (for historical ranges and watches from a
   * revision); older history is compacted by itself, in steps of a tenth of it, so a long-running demo
   * does not grow forever. etcd never compacts by itself; `0` turns this off.
   * @default 100_000 (revisions)
   */
  autoCompact?: number;
  /** Lease TTLs below this are raised to it, as etcd does. @default 2 (s) */
  minLeaseTtl?: number;
}

/**
 * An in-process MVCC store with etcd v3's semantics: one global revision, create/mod revisions and
 * versions per key, leases that expire on the injected clock, transactions with compares, historical
 * reads, watches that replay history, and compaction.
 *
 * **It is NOT distributed**: its state lives in one process and dies with it. Use it for demos, unit
 * tests and deterministic simulation (with a `ManualClock` and a `seed`), never to coordinate several
 * processes. `setUnavailable(true)` simulates a lost connection to the store.
 */
export class MemoryStore implements Store {
  readonly kind = 'memory' as const;

  private readonly kv: KeySpace;
  private readonly leases: MemoryLeases;
  private readonly watches = new Set<MemoryWatch>();
  private unavailable = false;
  private closed = false;

  constructor(options: MemoryStoreOptions = {}) {
    const autoCompact = nonNegativeInt('autoCompact', options.autoCompact ?? DEFAULT_AUTO_COMPACT);
    const minTtl = nonNegativeInt('minLeaseTtl', options.minLeaseTtl ?? DEFAULT_MIN_LEASE_TTL);
    const seed = options.seed ?? Math.floor(Math.random() * 2 ** 32);
    this.leases = new MemoryLeases({
      clock: options.clock ?? systemClock,
      minTtl,
      random: mulberry32(nonNegativeInt('seed', seed)),
      deleteKeys: (keys) => {
        const w = this.kv.begin();
        for (const key of keys) this.kv.writeKey(w, key, undefined, NO_LEASE);
        this.kv.commit(w);
      },
    });
    this.kv = new KeySpace({
      autoCompact,
      leaseKeys: this.leases,
      onCommit: () => {
        for (const watch of this.watches) watch.wake();
      },
    });
  }

  /** Current store revision (1 on a fresh store, like etcd). */
  get revision(): number {
    return this.kv.revision;
  }

  /** Revision of the last compaction (0 when never compacted). */
  get compactRevision(): number {
    return this.kv.compactRevision;
  }

  /**
   * Fault hook: while unavailable, every call rejects with `StoreUnavailableError` and open watches
   * break with it. Leases keep expiring on the clock, as on a server nobody can reach.
   */
  setUnavailable(unavailable: boolean): void {
    this.unavailable = unavailable;
    if (!unavailable) return;
    for (const w of [...this.watches]) {
      w.fail(new StoreUnavailableError('memory store is unavailable (setUnavailable): watch broken'));
    }
  }

  get(key: string): Promise<KeyValue | undefined> {
    return this.call(`get ${key}`, () => this.kv.range(key, {}).kvs[0]);
  }

  range(key: string, options: RangeOptions = {}): Promise<RangeResult> {
    return this.call(`range ${key}`, () => this.kv.range(key, options));
  }

  put(key: string, value: string, options: { lease?: LeaseId } = {}): Promise<{ revision: number }> {
    return this.call(`put ${key}`, () => {
      const { revision } = this.doTxn({ compare: [], success: [{ type: 'put', key, value, ...options }] });
      return { revision };
    });
  }

  delete(key: string, options: { prefix?: boolean } = {}): Promise<{ revision: number; deleted: number }> {
    return this.call(`delete ${key}`, () => {
      const r = this.doTxn({ compare: [], success: [{ type: 'delete', key, ...options }] });
      const res = r.responses[0];
      return { revision: r.revision, deleted: res.type === 'delete' ? res.deleted : 0 };
    });
  }

  txn(request: TxnRequest): Promise<TxnResult> {
    return this.call('txn', () => this.doTxn(request));
  }

  grantLease(ttl: number): Promise<LeaseGrant> {
    return this.call(`grant lease (ttl ${ttl} s)`, () => this.leases.grant(ttl));
  }

  keepAliveOnce(id: LeaseId): Promise<{ ttl: number }> {
    return this.call(`keep-alive lease ${id}`, () => this.leases.keepAliveOnce(id));
  }

  revokeLease(id: LeaseId): Promise<void> {
    return this.call(`revoke lease ${id}`, () => this.leases.revoke(id));
  }

  leaseTimeToLive(id: LeaseId, options: { keys?: boolean } = {}): Promise<LeaseInfo> {
    return this.call(`time-to-live of lease ${id}`, () => this.leases.timeToLive(id, options));
  }

  watch(key: string, options: WatchOptions = {}): WatchStream {
    const start =
      options.startRevision && options.startRevision > 0 ? options.startRevision : this.kv.revision + 1;
    const match = options.prefix ? (k: string) => k.startsWith(key) : (k: string) => k === key;
    const read = (from: number) => this.kv.readEvents(from, match, options.prevKv === true);
    const w = new MemoryWatch(start, read, () => this.watches.delete(w), options.signal);
    if (this.closed || options.signal?.aborted) w.end();
    else if (this.unavailable) w.fail(new StoreUnavailableError(`memory store is unavailable: watch ${key}`));
    else this.watches.add(w);
    return w;
  }

  compact(revision: number): Promise<void> {
    return this.call(`compact ${revision}`, () => this.kv.compact(revision));
  }

  /** Stops lease timers and ends open watches (they finish without error); later calls reject. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.leases.close();
    for (const w of [...this.watches]) w.end();
  }

  /** Runs `fn` on a later microtask, as a network store would answer, unless the store is down. */
  private async call<T>(what: string, fn: () => T): Promise<T> {
    await Promise.resolve();
    if (this.closed) throw new StoreUnavailableError(`memory store is closed: ${what}`);
    if (this.unavailable) throw new StoreUnavailableError(`memory store is unavailable: ${what}`);
    return fn();
  }

  /** A txn as etcd runs it: the checks, overdue leases revoked, compares, then one revision of ops. */
  private doTxn(request: TxnRequest): TxnResult {
    const failure = request.failure ?? [];
    checkTxn(request.compare, request.success, failure);
    // Revoke overdue leases first, so the compares see their keys gone.
    for (const op of [...request.success, ...failure]) {
      if (op.type === 'put') this.leases.revokeIfOverdue(normalizeLease(op.lease));
    }
    const succeeded = request.compare.every((c) => this.kv.compareHolds(c));
    const ops = succeeded ? request.success : failure;
    for (const op of ops) {
      const lease = op.type === 'put' ? normalizeLease(op.lease) : NO_LEASE;
      if (lease !== NO_LEASE && !this.leases.has(lease)) throw new LeaseNotFoundError(lease);
    }
    const w = this.kv.begin();
    const responses = ops.map((op) => this.kv.apply(w, op));
    this.kv.commit(w);
    return { succeeded, revision: this.kv.revision, responses };
  }
}

function nonNegativeInt(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 0) {
    throw new OptionError(
      `Expected \`${name}\` to be an integer from 0 and up, got \`${value}\` (${typeof value})`,
    );
  }
  return value;
}
