/**
 * A distributed mutex on the store port, compatible with etcd's Go `concurrency.Mutex`: every contender
 * puts `<prefix>/<leaseIdHex>` (empty value) with its session's lease; the contender whose key has the
 * lowest create revision holds the lock. A waiter waits for the deletion of the key created just before
 * its own and re-checks that its own key still exists before it returns.
 */
import { NotLeaderError, SessionLostError } from '../errors.js';
import type { Compare, KeyValue, TxnResult } from '../store/port.js';
import { raceSignal } from '../util/signals.js';
import { deleteOwnKey, withSessionSignal } from './recipe.js';
import type { Session } from './session.js';
import { waitDeletes } from './watcher.js';

export class Mutex {
  /** `<prefix>/`: every contender's key starts with it. */
  readonly keyPrefix: string;
  /** This contender's key, `<prefix>/<leaseIdHex>`. */
  readonly key: string;
  private rev = 0;
  private held = false;
  /** The last put of our key, so a cleanup after an abort deletes only after it landed. */
  private inflight?: Promise<unknown>;

  constructor(
    readonly session: Session,
    readonly prefix: string,
  ) {
    this.keyPrefix = `${prefix}/`;
    this.key = `${this.keyPrefix}${session.leaseId}`;
  }

  /** True from a successful `lock()`/`tryLock()` until `unlock()` or the loss of the session. */
  get isLocked(): boolean {
    return this.held && !this.session.isLost;
  }

  /** Create revision of this contender's key (0 when it has none). */
  get createRevision(): number {
    return this.rev;
  }

  /**
   * Waits until this contender holds the lock. When `signal` aborts or the session is lost meanwhile it
   * deletes its key (so it leaves nothing behind) and rejects — with the signal's reason or
   * `SessionLostError`.
   */
  async lock(options: { signal?: AbortSignal } = {}): Promise<void> {
    const { session } = this;
    await withSessionSignal(
      `mutex ${this.prefix}`,
      session,
      options.signal,
      async (signal) => {
        const { owner } = await this.acquire(signal);
        if (owner && owner.createRevision !== this.rev) {
          const won = await waitDeletes(session.store, this.keyPrefix, this.key, this.rev, signal, {
            clock: session.clock,
          });
          const own = won ? await raceSignal(session.store.get(this.key), signal) : undefined;
          if (!own || own.createRevision !== this.rev) {
            throw new SessionLostError(
              `mutex ${this.prefix}: key ${this.key} is gone (lease ${session.leaseId} expired or revoked)`,
            );
          }
        }
        session.throwIfDone();
        this.held = true;
      },
      () => {
        this.held = false;
        this.rev = 0;
        return deleteOwnKey(session, this.key, this.inflight);
      },
    );
  }

  /** Takes the lock if nobody holds it; otherwise leaves no key behind and returns false. */
  async tryLock(): Promise<boolean> {
    this.session.throwIfDone();
    const { owner } = await this.acquire(undefined);
    if (!owner || owner.createRevision === this.rev) {
      this.held = true;
      return true;
    }
    await this.session.store.delete(this.key);
    this.rev = 0;
    return false;
  }

  /** Releases the lock (deletes this contender's key). Idempotent. */
  async unlock(): Promise<void> {
    this.held = false;
    await this.session.store.delete(this.key);
    this.rev = 0;
  }

  /**
   * A compare that holds while this contender owns the lock (`CreateRevision(key) == rev`): put it in a txn
   * to write only under the lock. Throws `NotLeaderError` when the lock is not held.
   */
  isOwner(): Compare {
    if (!this.isLocked) throw new NotLeaderError(`mutex ${this.prefix}: not the owner`);
    return { key: this.key, target: 'create', op: '=', value: this.rev };
  }

  /**
   * Go's `tryAcquire`: put our key if absent (else reuse it), and read the current owner (the key with the
   * lowest create revision) in the same txn.
   */
  private async acquire(signal: AbortSignal | undefined): Promise<{ owner?: KeyValue }> {
    const ownerRange = {
      type: 'range',
      key: this.keyPrefix,
      prefix: true,
      sortBy: 'create',
      sortOrder: 'ascend',
      limit: 1,
    } as const;
    const txn = this.session.store.txn({
      compare: [{ key: this.key, target: 'create', op: '=', value: 0 }],
      success: [{ type: 'put', key: this.key, value: '', lease: this.session.leaseId }, ownerRange],
      failure: [{ type: 'range', key: this.key }, ownerRange],
    });
    this.inflight = txn;
    const res: TxnResult = await raceSignal(txn, signal);
    this.rev = res.revision;
    if (!res.succeeded) {
      const mine = res.responses[0];
      const kv = mine?.type === 'range' ? mine.kvs[0] : undefined;
      if (!kv) throw new SessionLostError(`mutex ${this.prefix}: key ${this.key} vanished`);
      this.rev = kv.createRevision;
    }
    const o = res.responses[1];
    return { owner: o?.type === 'range' ? o.kvs[0] : undefined };
  }
}
