import {
  CompactedError,
  LeaseNotFoundError,
  OptionError,
  StoreRequestError,
  StoreUnavailableError,
} from '../errors.js';
import { type Clock, systemClock, type TimerHandle } from '../util/clock.js';
import { mulberry32 } from '../util/random.js';
import { checkKey, checkTxn, compareKeys, normalizeLease } from './memory-rules.js';
import { MemoryWatch } from './memory-watch.js';
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
  type WatchBatch,
  type WatchEvent,
  type WatchOptions,
  type WatchStream,
} from './port.js';

/** etcd's minimum lease TTL with its default timings (1.5 × 1000 ms election timeout, rounded up). @default 2 (s) */
export const DEFAULT_MIN_LEASE_TTL = 2;
/** Revisions of history the memory store keeps readable and watchable. @default 100_000 (revisions) */
export const DEFAULT_AUTO_COMPACT = 100_000;
/** etcd's largest lease TTL, in seconds. */
const MAX_LEASE_TTL = 9_000_000_000;
/** A watch catching up sends at most this many revisions per batch, as etcd does. */
const WATCH_BATCH_REVISIONS = 1000;

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

/** One version of a key; `kv` undefined marks a deletion (tombstone). */
interface Version {
  rev: number;
  kv?: KeyValue;
}

/** The changes of one revision, in the order they were made. */
interface LogEntry {
  rev: number;
  events: { type: 'put' | 'delete'; kv: KeyValue }[];
}

interface Lease {
  id: LeaseId;
  ttl: number;
  /** Clock time (ms) at which the lease expires. */
  expiresAt: number;
  keys: Set<string>;
  timer: TimerHandle;
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

  private readonly clock: Clock;
  private readonly autoCompact: number;
  private readonly minLeaseTtl: number;
  private rev = 1;
  private compactRev = 0;
  /** Versions of every key with history, oldest first. */
  private readonly versions = new Map<string, Version[]>();
  /** Keys of `versions` in etcd's (UTF-8 byte) order, but for `newKeys`, not merged in yet. */
  private sortedKeys: string[] = [];
  private newKeys: string[] = [];
  /** `log[i]` holds the changes of revision `logBase + i`; every revision after 1 has one entry. */
  private log: LogEntry[] = [];
  private logBase = 2;
  private readonly leases = new Map<LeaseId, Lease>();
  private readonly watches = new Set<MemoryWatch>();
  private random: () => number;
  private unavailable = false;
  private closed = false;

  constructor(options: MemoryStoreOptions = {}) {
    this.clock = options.clock ?? systemClock;
    this.autoCompact = nonNegativeInt('autoCompact', options.autoCompact ?? DEFAULT_AUTO_COMPACT);
    this.minLeaseTtl = nonNegativeInt('minLeaseTtl', options.minLeaseTtl ?? DEFAULT_MIN_LEASE_TTL);
    const seed = options.seed ?? Math.floor(Math.random() * 2 ** 32);
    this.random = mulberry32(nonNegativeInt('seed', seed));
  }

  /** Current store revision (1 on a fresh store, like etcd). */
  get revision(): number {
    return this.rev;
  }

  /** Revision of the last compaction (0 when never compacted). */
  get compactRevision(): number {
    return this.compactRev;
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
    return this.call(`get ${key}`, () => this.doRange(key, {}).kvs[0]);
  }

  range(key: string, options: RangeOptions = {}): Promise<RangeResult> {
    return this.call(`range ${key}`, () => this.doRange(key, options));
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
    return this.call(`grant lease (ttl ${ttl} s)`, () => {
      if (!Number.isFinite(ttl))
        throw new StoreRequestError(`lease ttl must be a number of seconds, got ${ttl}`);
      if (ttl > MAX_LEASE_TTL) throw new StoreRequestError('etcdserver: too large lease TTL');
      const granted = Math.max(Math.trunc(ttl), this.minLeaseTtl);
      let id: LeaseId;
      do id = this.nextLeaseId();
      while (this.leases.has(id));
      const lease: Lease = { id, ttl: granted, expiresAt: 0, keys: new Set(), timer: { __timer: null } };
      this.leases.set(id, lease);
      this.armLease(lease);
      return { id, ttl: granted };
    });
  }

  keepAliveOnce(id: LeaseId): Promise<{ ttl: number }> {
    return this.call(`keep-alive lease ${id}`, () => {
      const lease = this.liveLease(id);
      if (!lease) throw new LeaseNotFoundError(id);
      this.clock.clearTimeout(lease.timer);
      this.armLease(lease);
      return { ttl: lease.ttl };
    });
  }

  revokeLease(id: LeaseId): Promise<void> {
    return this.call(`revoke lease ${id}`, () => {
      const lease = this.liveLease(id);
      if (lease) this.dropLease(lease);
    });
  }

  leaseTimeToLive(id: LeaseId, options: { keys?: boolean } = {}): Promise<LeaseInfo> {
    return this.call(`time-to-live of lease ${id}`, () => {
      const lease = this.liveLease(id);
      if (!lease) return { id, ttl: -1, grantedTtl: 0, ...(options.keys ? { keys: [] } : {}) };
      const info: LeaseInfo = {
        id: lease.id,
        ttl: Math.floor((lease.expiresAt - this.clock.now()) / 1000),
        grantedTtl: lease.ttl,
      };
      if (options.keys) info.keys = [...lease.keys].sort(compareKeys);
      return info;
    });
  }

  watch(key: string, options: WatchOptions = {}): WatchStream {
    const start = options.startRevision && options.startRevision > 0 ? options.startRevision : this.rev + 1;
    const match = options.prefix ? (k: string) => k.startsWith(key) : (k: string) => k === key;
    const read = (from: number) => this.readEvents(from, match, options.prevKv === true);
    const w = new MemoryWatch(start, read, () => this.watches.delete(w), options.signal);
    if (this.closed || options.signal?.aborted) w.end();
    else if (this.unavailable) w.fail(new StoreUnavailableError(`memory store is unavailable: watch ${key}`));
    else this.watches.add(w);
    return w;
  }

  compact(revision: number): Promise<void> {
    return this.call(`compact ${revision}`, () => this.doCompact(revision));
  }

  /** Stops lease timers and ends open watches (they finish without error); later calls reject. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const lease of this.leases.values()) this.clock.clearTimeout(lease.timer);
    for (const w of [...this.watches]) w.end();
  }

  /** Runs `fn` on a later microtask, as a network store would answer, unless the store is down. */
  private async call<T>(what: string, fn: () => T): Promise<T> {
    await Promise.resolve();
    if (this.closed) throw new StoreUnavailableError(`memory store is closed: ${what}`);
    if (this.unavailable) throw new StoreUnavailableError(`memory store is unavailable: ${what}`);
    return fn();
  }

  // ---- reads ----

  /** The version of `key` visible at `rev`, if the key existed then. */
  private kvAt(key: string, rev: number): KeyValue | undefined {
    const vs = this.versions.get(key);
    if (!vs) return undefined;
    for (let i = vs.length - 1; i >= 0; i--) {
      if (vs[i].rev <= rev) return vs[i].kv;
    }
    return undefined;
  }

  /** Moves keys created since the last ordered read into `sortedKeys` (one merge instead of many inserts). */
  private mergeNewKeys(): void {
    if (this.newKeys.length === 0) return;
    const add = this.newKeys.sort(compareKeys);
    this.newKeys = [];
    const old = this.sortedKeys;
    const out: string[] = [];
    let i = 0;
    let j = 0;
    while (i < old.length || j < add.length) {
      if (j >= add.length || (i < old.length && compareKeys(old[i], add[j]) < 0)) out.push(old[i++]);
      else out.push(add[j++]);
    }
    this.sortedKeys = out;
  }

  /** Keys with history in `[key]` or under prefix `key`, in order. */
  private keysIn(key: string, prefix: boolean): string[] {
    if (!prefix) return this.versions.has(key) ? [key] : [];
    this.mergeNewKeys();
    const out: string[] = [];
    for (let i = lowerBound(this.sortedKeys, key); i < this.sortedKeys.length; i++) {
      const k = this.sortedKeys[i];
      if (!k.startsWith(key)) break;
      out.push(k);
    }
    return out;
  }

  /** A range at `options.revision`, or at `latest` (the current revision; inside a txn, the txn's). */
  private doRange(key: string, options: RangeOptions, latest = this.rev): RangeResult {
    const prefix = options.prefix === true;
    checkKey(key, prefix);
    let at = latest;
    if (options.revision && options.revision > 0) {
      if (options.revision > this.rev) {
        throw new StoreRequestError(
          `etcdserver: mvcc: required revision is a future revision (asked ${options.revision}, current ${this.rev})`,
        );
      }
      if (options.revision < this.compactRev) {
        throw new CompactedError(
          this.compactRev,
          `etcdserver: mvcc: required revision has been compacted (asked ${options.revision}, compacted at ${this.compactRev})`,
        );
      }
      at = options.revision;
    }
    const found: KeyValue[] = [];
    for (const k of this.keysIn(key, prefix)) {
      const kv = this.kvAt(k, at);
      if (kv) found.push(kv);
    }
    const count = found.length;
    if (options.countOnly) return { kvs: [], count, more: false, revision: this.rev };
    let kvs = found;
    const maxCreate = options.maxCreateRevision ?? 0;
    if (maxCreate > 0) kvs = kvs.filter((kv) => kv.createRevision <= maxCreate);
    sortKvs(kvs, options.sortBy ?? 'key', options.sortOrder ?? 'ascend');
    const limit = options.limit ?? 0;
    const more = limit > 0 && kvs.length > limit;
    if (more) kvs = kvs.slice(0, limit);
    return {
      kvs: kvs.map((kv) => (options.keysOnly ? { ...kv, value: '' } : { ...kv })),
      count,
      more,
      revision: this.rev,
    };
  }

  // ---- writes ----

  private doTxn(request: TxnRequest): TxnResult {
    const failure = request.failure ?? [];
    checkTxn(request.compare, request.success, failure);
    // Revoke overdue leases first, so the compares see their keys gone.
    for (const op of [...request.success, ...failure]) {
      if (op.type === 'put') this.liveLease(normalizeLease(op.lease));
    }
    const succeeded = request.compare.every((c) => this.compareHolds(c));
    const ops = succeeded ? request.success : failure;
    for (const op of ops) {
      const lease = op.type === 'put' ? normalizeLease(op.lease) : NO_LEASE;
      if (lease !== NO_LEASE && !this.leases.has(lease)) throw new LeaseNotFoundError(lease);
    }
    const w = this.begin();
    const responses = ops.map((op) => this.applyOp(w, op));
    this.commit(w);
    return { succeeded, revision: this.rev, responses };
  }

  private compareHolds(c: Compare): boolean {
    const kv = this.kvAt(c.key, this.rev);
    let order: number;
    switch (c.target) {
      case 'value':
        // etcd: a value compare on a missing key is always false.
        if (!kv) return false;
        order = compareKeys(kv.value, c.value);
        break;
      case 'lease': {
        const have = BigInt(`0x${kv?.lease ?? NO_LEASE}`);
        const want = BigInt(`0x${normalizeLease(c.value)}`);
        order = have < want ? -1 : have > want ? 1 : 0;
        break;
      }
      case 'create':
        order = Math.sign((kv?.createRevision ?? 0) - c.value);
        break;
      case 'mod':
        order = Math.sign((kv?.modRevision ?? 0) - c.value);
        break;
      case 'version':
        order = Math.sign((kv?.version ?? 0) - c.value);
        break;
    }
    switch (c.op) {
      case '=':
        return order === 0;
      case '!=':
        return order !== 0;
      case '<':
        return order < 0;
      case '>':
        return order > 0;
    }
  }

  private begin(): LogEntry {
    return { rev: this.rev + 1, events: [] };
  }

  private applyOp(w: LogEntry, op: Op): OpResult {
    switch (op.type) {
      case 'range': {
        // A range inside a txn sees the txn's own earlier writes, as in etcd.
        const { prefix, limit, sortBy, sortOrder } = op;
        const { kvs, count, more } = this.doRange(op.key, { prefix, limit, sortBy, sortOrder }, w.rev);
        return { type: 'range', kvs, count, more };
      }
      case 'put': {
        const prev = this.writeKey(w, op.key, op.value, normalizeLease(op.lease));
        return op.prevKv && prev ? { type: 'put', prevKv: { ...prev } } : { type: 'put' };
      }
      case 'delete': {
        const prevKvs: KeyValue[] = [];
        for (const k of this.keysIn(op.key, op.prefix === true)) {
          const prev = this.writeKey(w, k, undefined, NO_LEASE);
          if (prev) prevKvs.push({ ...prev });
        }
        return op.prevKv
          ? { type: 'delete', deleted: prevKvs.length, prevKvs }
          : { type: 'delete', deleted: prevKvs.length };
      }
    }
  }

  /** Puts (`value` set) or deletes `key` at revision `w.rev`; returns the previous live version. */
  private writeKey(
    w: LogEntry,
    key: string,
    value: string | undefined,
    lease: LeaseId,
  ): KeyValue | undefined {
    const prev = this.kvAt(key, w.rev);
    if (value === undefined && !prev) return undefined;
    if (prev && prev.lease !== NO_LEASE) this.leases.get(prev.lease)?.keys.delete(key);
    let vs = this.versions.get(key);
    if (!vs) {
      vs = [];
      this.versions.set(key, vs);
      this.newKeys.push(key);
    }
    if (value === undefined) {
      vs.push({ rev: w.rev });
      w.events.push({ type: 'delete', kv: tombstone(key, w.rev) });
      return prev;
    }
    const kv: KeyValue = {
      key,
      value,
      createRevision: prev ? prev.createRevision : w.rev,
      modRevision: w.rev,
      version: prev ? prev.version + 1 : 1,
      lease,
    };
    vs.push({ rev: w.rev, kv });
    if (lease !== NO_LEASE) this.leases.get(lease)?.keys.add(key);
    w.events.push({ type: 'put', kv });
    return prev;
  }

  /** Makes the txn's changes one new revision (none when nothing changed) and wakes the watches. */
  private commit(w: LogEntry): void {
    if (w.events.length === 0) return;
    this.rev = w.rev;
    this.log.push(w);
    for (const watch of this.watches) watch.wake();
    if (
      this.autoCompact > 0 &&
      this.rev - this.compactRev > this.autoCompact + Math.ceil(this.autoCompact / 10)
    ) {
      this.doCompact(this.rev - this.autoCompact);
    }
  }

  // ---- leases ----

  private nextLeaseId(): LeaseId {
    const hi = BigInt(Math.floor(this.random() * 2 ** 31));
    const lo = BigInt(Math.floor(this.random() * 2 ** 32));
    const id = (hi << 32n) | lo;
    return id === 0n ? '1' : id.toString(16);
  }

  private armLease(lease: Lease): void {
    lease.expiresAt = this.clock.now() + lease.ttl * 1000;
    lease.timer = this.clock.setTimeout(() => this.expire(lease.id), lease.ttl * 1000);
  }

  /** The lease, unless it is gone or overdue (an overdue one is revoked now). */
  private liveLease(id: LeaseId): Lease | undefined {
    if (id === NO_LEASE) return undefined;
    const lease = this.leases.get(normalizeLease(id));
    if (lease && this.clock.now() >= lease.expiresAt) {
      this.dropLease(lease);
      return undefined;
    }
    return lease;
  }

  private expire(id: LeaseId): void {
    const lease = this.leases.get(id);
    if (lease && !this.closed) this.dropLease(lease);
  }

  /** Revokes the lease: deletes all its keys in one revision, as etcd does. */
  private dropLease(lease: Lease): void {
    this.clock.clearTimeout(lease.timer);
    this.leases.delete(lease.id);
    const w = this.begin();
    for (const key of [...lease.keys].sort(compareKeys)) this.writeKey(w, key, undefined, NO_LEASE);
    this.commit(w);
  }

  // ---- watches and compaction ----

  /**
   * Events from revision `from` on (at most {@link WATCH_BATCH_REVISIONS} revisions), as one batch, and
   * the next revision to read; throws `CompactedError` when `from` was compacted away.
   */
  private readEvents(
    from: number,
    match: (key: string) => boolean,
    prevKv: boolean,
  ): { batch?: WatchBatch; next: number } {
    if (from < this.compactRev) {
      throw new CompactedError(
        this.compactRev,
        `etcdserver: mvcc: required revision has been compacted (watch from ${from}, compacted at ${this.compactRev})`,
      );
    }
    const to = Math.min(this.rev, from + WATCH_BATCH_REVISIONS - 1);
    const events: WatchEvent[] = [];
    for (let rev = Math.max(from, this.logBase); rev <= to; rev++) {
      for (const e of this.log[rev - this.logBase].events) {
        if (!match(e.kv.key)) continue;
        const ev: WatchEvent = { type: e.type, kv: { ...e.kv } };
        if (prevKv && rev - 1 >= this.compactRev) {
          const prev = this.kvAt(e.kv.key, rev - 1);
          if (prev) ev.prevKv = { ...prev };
        }
        events.push(ev);
      }
    }
    const next = Math.max(from, to + 1);
    return events.length > 0 ? { batch: { events, revision: this.rev }, next } : { next };
  }

  /**
   * Drops history before `revision`: each key keeps its latest version at or before it (a deletion
   * there is dropped entirely), as etcd's compaction does; reads at `revision` and later are unchanged.
   */
  private doCompact(revision: number): void {
    if (revision > this.rev) {
      throw new StoreRequestError(
        `etcdserver: mvcc: required revision is a future revision (compact ${revision}, current ${this.rev})`,
      );
    }
    if (revision <= this.compactRev) {
      throw new CompactedError(
        this.compactRev,
        `etcdserver: mvcc: required revision has been compacted (compact ${revision}, compacted at ${this.compactRev})`,
      );
    }
    const touched = new Set<string>();
    for (let rev = this.logBase; rev <= revision && rev - this.logBase < this.log.length; rev++) {
      for (const e of this.log[rev - this.logBase].events) touched.add(e.kv.key);
    }
    let emptied = false;
    for (const key of touched) {
      const vs = this.versions.get(key);
      if (!vs) continue;
      let keep = vs.findLastIndex((v) => v.rev <= revision);
      if (keep >= 0 && !vs[keep].kv) keep++;
      if (keep > 0) vs.splice(0, keep);
      if (vs.length === 0) {
        this.versions.delete(key);
        emptied = true;
      }
    }
    if (emptied) {
      this.mergeNewKeys();
      this.sortedKeys = this.sortedKeys.filter((k) => this.versions.has(k));
    }
    const drop = Math.max(0, revision - this.logBase);
    this.log.splice(0, drop);
    this.logBase += drop;
    // etcd drops the tombstones at the compact revision itself: a watch from there sees its puts only.
    const atCompact = this.log[revision - this.logBase];
    if (atCompact) atCompact.events = atCompact.events.filter((e) => e.type === 'put');
    this.compactRev = revision;
  }
}

// ---- helpers ----

function tombstone(key: string, rev: number): KeyValue {
  return { key, value: '', createRevision: 0, modRevision: rev, version: 0, lease: NO_LEASE };
}

/** First index in sorted `keys` whose key is ≥ `key`. */
function lowerBound(keys: string[], key: string): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compareKeys(keys[mid], key) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function sortKvs(kvs: KeyValue[], by: 'key' | 'create' | 'mod', order: 'ascend' | 'descend'): void {
  const sign = order === 'descend' ? -1 : 1;
  if (by === 'key') {
    if (sign < 0) kvs.reverse();
    return;
  }
  const field = by === 'create' ? 'createRevision' : 'modRevision';
  kvs.sort((a, b) => sign * (a[field] - b[field]));
}

function nonNegativeInt(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 0) {
    throw new OptionError(
      `Expected \`${name}\` to be an integer from 0 and up, got \`${value}\` (${typeof value})`,
    );
  }
  return value;
}
