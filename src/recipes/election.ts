/**
 * Leader election on the store port, compatible with etcd's Go `concurrency.Election`: every candidate
 * puts `<prefix>/<leaseIdHex>` with its session's lease; the candidate whose key has the lowest create
 * revision leads. A candidate waits for the deletion of the key created just before its own, re-checks
 * that its own key still exists, and only then leads. A Go process and a TypeScript process can campaign
 * on the same prefix.
 *
 * Beyond Go: {@link Election.fence} gives the compare that makes any txn fail once this leader is deposed.
 */
import { NotLeaderError, SessionLostError } from '../errors.js';
import type { Compare, KeyValue, WatchEvent } from '../store/port.js';
import { raceSignal } from '../util/signals.js';
import { deleteOwnKey, withSessionSignal } from './recipe.js';
import type { Session } from './session.js';
import { PrefixWatcher, waitDeletes } from './watcher.js';

/** The leader as stored: its key, value (the leader's name) and the key's create revision. */
export interface LeaderInfo {
  key: string;
  value: string;
  createRevision: number;
}

/** What guards a leader's writes: put `compare` into a txn's compares. */
export interface Fence {
  key: string;
  createRevision: number;
  /** `CreateRevision(key) == createRevision`. */
  compare: Compare;
}

export class Election {
  /** `<prefix>/`: every candidate key starts with it. */
  readonly keyPrefix: string;
  /** This candidate's key, `<prefix>/<leaseIdHex>`. */
  readonly key: string;
  private rev = 0;
  private leading = false;
  /** The last put of our key, so a cleanup after an abort deletes only after it landed. */
  private inflight?: Promise<unknown>;

  constructor(
    readonly session: Session,
    readonly prefix: string,
  ) {
    this.keyPrefix = `${prefix}/`;
    this.key = `${this.keyPrefix}${session.leaseId}`;
  }

  /** True from a resolved `campaign()` until `resign()` or the loss of the session. */
  get isLeader(): boolean {
    return this.leading && !this.session.isLost;
  }

  /** Create revision of this candidate's key (0 before `campaign()`). */
  get createRevision(): number {
    return this.rev;
  }

  /**
   * Becomes a candidate with `value` and resolves only once this candidate leads. Rejects with
   * `SessionLostError` when the session's lease is (or must be assumed) gone — even if the other
   * candidates left meanwhile — and with the signal's reason when `signal` aborts; in both cases its key
   * is deleted (best effort). Reuses its key if it exists already (updating the value, as Go does).
   */
  async campaign(value: string, options: { signal?: AbortSignal } = {}): Promise<void> {
    const { session } = this;
    const store = session.store;
    this.leading = false;
    this.rev = 0;
    await withSessionSignal(
      `election ${this.prefix}`,
      session,
      options.signal,
      async (signal) => {
        const txn = store.txn({
          compare: [{ key: this.key, target: 'create', op: '=', value: 0 }],
          success: [{ type: 'put', key: this.key, value, lease: session.leaseId }],
          failure: [{ type: 'range', key: this.key }],
        });
        this.inflight = txn;
        const res = await raceSignal(txn, signal);
        this.rev = res.revision;
        if (!res.succeeded) {
          const r = res.responses[0];
          const kv = r?.type === 'range' ? r.kvs[0] : undefined;
          if (!kv) throw new NotLeaderError(`election ${this.prefix}: candidate key ${this.key} vanished`);
          this.rev = kv.createRevision;
          if (kv.value !== value) await raceSignal(this.put(value), signal);
        }
        const won = await waitDeletes(store, this.keyPrefix, this.key, this.rev, signal, {
          clock: session.clock,
        });
        // Go's re-check: our key must still be there, as we created it, after the wait.
        const own = won ? await raceSignal(store.get(this.key), signal) : undefined;
        if (!own || own.createRevision !== this.rev) {
          throw new SessionLostError(
            `election ${this.prefix}: candidate key ${this.key} is gone (lease ${session.leaseId} expired or revoked)`,
          );
        }
        session.throwIfDone();
        this.leading = true;
      },
      () => {
        this.leading = false;
        this.rev = 0;
        return deleteOwnKey(session, this.key, this.inflight);
      },
    );
  }

  /** Changes the leader's value without a new election; throws `NotLeaderError` when not the leader. */
  async proclaim(value: string): Promise<void> {
    if (!this.isLeader) throw new NotLeaderError(`election ${this.prefix}: proclaim while not the leader`);
    await this.put(value);
  }

  /** Gives up leadership (or candidacy): deletes this candidate's key. Idempotent. */
  async resign(): Promise<void> {
    this.leading = false;
    if (this.rev === 0) return;
    await this.session.store.txn({
      compare: [{ key: this.key, target: 'create', op: '=', value: this.rev }],
      success: [{ type: 'delete', key: this.key }],
    });
    this.rev = 0;
  }

  /** The current leader (the candidate key with the lowest create revision), or `undefined`. */
  async leader(): Promise<LeaderInfo | undefined> {
    const res = await this.session.store.range(this.keyPrefix, {
      prefix: true,
      sortBy: 'create',
      sortOrder: 'ascend',
      limit: 1,
    });
    const kv = res.kvs[0];
    return kv ? toLeader(kv) : undefined;
  }

  /**
   * Leader changes, deduplicated: first the current leader (or `undefined` when there is none), then one
   * item per change of leader key, create revision or value. Survives disconnects and compaction (a
   * `PrefixWatcher` underneath); ends cleanly when `signal` aborts or the consumer breaks out.
   */
  async *observe(options: { signal?: AbortSignal } = {}): AsyncGenerator<LeaderInfo | undefined, void> {
    const watcher = new PrefixWatcher(this.session.store, this.keyPrefix, {
      clock: this.session.clock,
      signal: options.signal,
    });
    const kvs = new Map<string, KeyValue>();
    let last: LeaderInfo | undefined | null = null; // null: nothing yielded yet
    try {
      for await (const update of watcher) {
        // One step per revision, so no leader is skipped even when a batch spans many revisions.
        const steps: Array<() => void> = [];
        if (update.type === 'events') {
          let i = 0;
          while (i < update.events.length) {
            const rev = update.events[i].kv.modRevision;
            const group: WatchEvent[] = [];
            while (i < update.events.length && update.events[i].kv.modRevision === rev) {
              group.push(update.events[i++]);
            }
            steps.push(() => {
              for (const ev of group) {
                if (ev.type === 'put') kvs.set(ev.kv.key, ev.kv);
                else kvs.delete(ev.kv.key);
              }
            });
          }
        } else {
          steps.push(() => {
            kvs.clear();
            for (const kv of update.kvs) kvs.set(kv.key, kv);
          });
        }
        for (const step of steps) {
          step();
          const now = currentLeader(kvs);
          if (last === null || !sameLeader(last, now)) {
            last = now;
            yield now;
          }
        }
      }
    } finally {
      watcher.stop();
    }
  }

  /**
   * The fence of this leader: a compare on its key's create revision. A txn carrying it fails once this
   * leader is deposed (resigned, lease expired, key deleted), even if this process has not noticed yet.
   * Throws `NotLeaderError` when not the leader.
   */
  fence(): Fence {
    if (!this.isLeader) throw new NotLeaderError(`election ${this.prefix}: not the leader, no fence`);
    return {
      key: this.key,
      createRevision: this.rev,
      compare: { key: this.key, target: 'create', op: '=', value: this.rev },
    };
  }

  /** Puts `value` on this candidate's key, fenced on its create revision (Go's `Proclaim`). */
  private async put(value: string): Promise<void> {
    const res = await this.session.store.txn({
      compare: [{ key: this.key, target: 'create', op: '=', value: this.rev }],
      success: [{ type: 'put', key: this.key, value, lease: this.session.leaseId }],
    });
    if (!res.succeeded) {
      this.leading = false;
      throw new NotLeaderError(`election ${this.prefix}: candidate key ${this.key} is no longer ours`);
    }
  }
}

function toLeader(kv: KeyValue): LeaderInfo {
  return { key: kv.key, value: kv.value, createRevision: kv.createRevision };
}

function currentLeader(kvs: Map<string, KeyValue>): LeaderInfo | undefined {
  let best: KeyValue | undefined;
  for (const kv of kvs.values()) if (!best || kv.createRevision < best.createRevision) best = kv;
  return best ? toLeader(best) : undefined;
}

function sameLeader(a: LeaderInfo | undefined, b: LeaderInfo | undefined): boolean {
  if (!a || !b) return a === b;
  return a.key === b.key && a.createRevision === b.createRevision && a.value === b.value;
}
