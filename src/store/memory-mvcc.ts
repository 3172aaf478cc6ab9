/**
 * The memory store's MVCC key space, as etcd's `mvcc` package keeps it: one global revision, every
 * version of every key (create/mod revision, version, lease), a log of the changes of each revision for
 * watches, reads at any revision not compacted away, and compaction. Writes go through a
 * {@link Revision}: `begin()`, `apply()` ops (or `writeKey()`), `commit()` — one revision per commit,
 * none when nothing changed. Leases are not its business: it only tells them which keys they hold.
 */
import { CompactedError, StoreRequestError } from '../errors.js';
import { checkKey, compareHolds, compareKeys, normalizeLease } from './memory-rules.js';
import {
  type Compare,
  type KeyValue,
  type LeaseId,
  NO_LEASE,
  type Op,
  type OpResult,
  type RangeOptions,
  type RangeResult,
  type WatchBatch,
  type WatchEvent,
} from './port.js';

/** A watch catching up sends at most this many revisions per batch, as etcd does. */
const WATCH_BATCH_REVISIONS = 1000;

/** One version of a key; `kv` undefined marks a deletion (tombstone). */
interface Version {
  rev: number;
  kv?: KeyValue;
}

/** The changes of one revision, in the order they were made: a write in progress, then a log entry. */
export interface Revision {
  rev: number;
  events: { type: 'put' | 'delete'; kv: KeyValue }[];
}

/** What the key space tells the leases: a key was attached to, or detached from, a lease. */
export interface LeaseKeys {
  attach(lease: LeaseId, key: string): void;
  detach(lease: LeaseId, key: string): void;
}

export interface KeySpaceOptions {
  /** Keep at least this many revisions of history; 0 = never compact by itself. */
  autoCompact: number;
  leaseKeys: LeaseKeys;
  /** Called after each commit that made a revision (watches read it). */
  onCommit(): void;
}

export class KeySpace {
  private rev = 1;
  private compactRev = 0;
  /** Versions of every key with history, oldest first. */
  private readonly versions = new Map<string, Version[]>();
  /** Keys of `versions` in etcd's (UTF-8 byte) order, but for `newKeys`, not merged in yet. */
  private sortedKeys: string[] = [];
  private newKeys: string[] = [];
  /** `log[i]` holds the changes of revision `logBase + i`; every revision after 1 has one entry. */
  private log: Revision[] = [];
  private logBase = 2;

  constructor(private readonly options: KeySpaceOptions) {}

  /** Current revision (1 on a fresh store, like etcd). */
  get revision(): number {
    return this.rev;
  }

  /** Revision of the last compaction (0 when never compacted). */
  get compactRevision(): number {
    return this.compactRev;
  }

  // ---- reads ----

  /** A range at `options.revision`, or at `latest` (the current revision; inside a txn, the txn's). */
  range(key: string, options: RangeOptions, latest = this.rev): RangeResult {
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

  /** Whether a txn compare holds on the current revision. */
  compareHolds(c: Compare): boolean {
    return compareHolds(c, this.kvAt(c.key, this.rev));
  }

  /**
   * Events from revision `from` on (at most {@link WATCH_BATCH_REVISIONS} revisions), as one batch, and
   * the next revision to read; throws `CompactedError` when `from` was compacted away.
   */
  readEvents(
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

  // ---- writes ----

  begin(): Revision {
    return { rev: this.rev + 1, events: [] };
  }

  /** Applies one txn op at revision `w.rev`. */
  apply(w: Revision, op: Op): OpResult {
    switch (op.type) {
      case 'range': {
        // A range inside a txn sees the txn's own earlier writes, as in etcd.
        const { prefix, limit, sortBy, sortOrder } = op;
        const { kvs, count, more } = this.range(op.key, { prefix, limit, sortBy, sortOrder }, w.rev);
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
  writeKey(w: Revision, key: string, value: string | undefined, lease: LeaseId): KeyValue | undefined {
    const prev = this.kvAt(key, w.rev);
    if (value === undefined && !prev) return undefined;
    if (prev && prev.lease !== NO_LEASE) this.options.leaseKeys.detach(prev.lease, key);
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
    if (lease !== NO_LEASE) this.options.leaseKeys.attach(lease, key);
    w.events.push({ type: 'put', kv });
    return prev;
  }

  /** Makes the changes one new revision (none when nothing changed), tells `onCommit`, auto-compacts. */
  commit(w: Revision): void {
    if (w.events.length === 0) return;
    this.rev = w.rev;
    this.log.push(w);
    this.options.onCommit();
    const keep = this.options.autoCompact;
    if (keep > 0 && this.rev - this.compactRev > keep + Math.ceil(keep / 10)) {
      this.compact(this.rev - keep);
    }
  }

  /**
   * Drops history before `revision`: each key keeps its latest version at or before it (a deletion
   * there is dropped entirely), as etcd's compaction does; reads at `revision` and later are unchanged.
   */
  compact(revision: number): void {
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

  // ---- the index ----

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
}

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
