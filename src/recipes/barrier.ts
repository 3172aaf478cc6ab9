/**
 * A double barrier for `count` participants, compatible with etcd v3.5's Go `contrib/recipes`
 * `DoubleBarrier`: each participant creates `<key>/waiters/<unixNano>` with its session's lease (a
 * create-if-absent txn); the one that makes the count complete puts `<key>/ready`, which releases everyone
 * waiting in `enter()`. `leave()` returns once every participant has left; the last one deletes
 * `<key>/ready`. A Go process and a TypeScript process can meet at the same barrier.
 *
 * Beyond Go: `enter`/`leave` take a timeout and an `AbortSignal`, and clean up their own key when they give
 * up, so a missing participant cannot hang the others forever.
 */

import { BarrierTimeoutError, EschedulerError, OptionError } from '../errors.js';
import type { KeyValue } from '../store/port.js';
import type { Clock } from '../util/clock.js';
import { linkSignal, raceSignal } from '../util/signals.js';
import { deleteOwnKey, withSessionSignal } from './recipe.js';
import type { Session } from './session.js';
import { waitForDelete, waitForPut } from './watcher.js';

/** More participants than `count` tried to enter (Go's `ErrTooManyClients`). */
export class TooManyParticipantsError extends EschedulerError {
  override name = 'TooManyParticipantsError';
}

export interface BarrierWaitOptions {
  /** Gives up (and removes this participant's keys) when it aborts. */
  signal?: AbortSignal;
  /** Gives up after this long, on the session's clock, with `BarrierTimeoutError`. @default none (ms) */
  timeoutMs?: number;
}

export class DoubleBarrier {
  /** `<key>/waiters/`: every participant's key starts with it. */
  readonly waitersPrefix: string;
  /** `<key>/ready`: put when all participants have entered. */
  readonly readyKey: string;
  private myKey?: string;
  private myRev = 0;
  /** The last create of our key, so a cleanup after an abort deletes only after it landed. */
  private inflight?: Promise<unknown>;

  constructor(
    readonly session: Session,
    readonly key: string,
    readonly count: number,
  ) {
    if (!Number.isInteger(count) || count < 1) {
      throw new OptionError(`Expected barrier \`count\` to be a whole number from 1 up, got \`${count}\``);
    }
    this.waitersPrefix = `${key}/waiters/`;
    this.readyKey = `${key}/ready`;
  }

  /** This participant's key once it entered. */
  get participantKey(): string | undefined {
    return this.myKey;
  }

  /**
   * Enters the barrier and waits until `count` participants have entered. Throws
   * `TooManyParticipantsError` when the barrier is full, `BarrierTimeoutError` after `timeoutMs`
   * (naming how many of the expected participants were there), `SessionLostError` when the session is lost,
   * or the signal's reason; when it gives up it deletes its own key.
   */
  async enter(options: BarrierWaitOptions = {}): Promise<void> {
    const { store } = this.session;
    await this.guard('enter', options, async (signal) => {
      const before = await this.waiters(signal);
      if (before.length >= this.count) throw this.tooMany(before.length);
      await this.createOwnKey(signal);
      const after = await this.waiters(signal);
      if (after.length >= this.count) {
        const last = after[this.count - 1];
        if (this.myRev > last.createRevision) {
          await this.deleteMyKey();
          throw this.tooMany(after.length);
        }
        if (this.myRev === last.createRevision) {
          await raceSignal(store.put(this.readyKey, ''), signal);
          return;
        }
      }
      await waitForPut(store, this.readyKey, this.myRev, signal, { clock: this.session.clock });
    });
  }

  /**
   * Leaves the barrier and waits until every participant has left (Go's algorithm: the lowest waits for
   * the highest to go, the others delete themselves and wait for the lowest; the last deletes `ready`).
   * Throws `BarrierTimeoutError` after `timeoutMs`, `SessionLostError` or the signal's reason; when it gives
   * up its own key is deleted.
   */
  async leave(options: BarrierWaitOptions = {}): Promise<void> {
    const { store } = this.session;
    await this.guard('leave', options, async (signal) => {
      const clock = this.session.clock;
      for (;;) {
        const kvs = await this.waiters(signal);
        if (kvs.length === 0) return;
        let lowest = kvs[0];
        let highest = kvs[0];
        for (const kv of kvs) {
          if (kv.modRevision < lowest.modRevision) lowest = kv;
          if (kv.modRevision > highest.modRevision) highest = kv;
        }
        const isLowest = lowest.key === this.myKey;
        if (kvs.length === 1 && isLowest) {
          await raceSignal(store.delete(this.readyKey), signal);
          await raceSignal(store.delete(lowest.key), signal);
          this.myKey = undefined;
          return;
        }
        if (isLowest) {
          await waitForDelete(store, highest.key, highest.modRevision, signal, { clock });
          continue;
        }
        if (this.myKey) {
          await raceSignal(store.delete(this.myKey), signal);
          this.myKey = undefined;
        }
        await waitForDelete(store, lowest.key, lowest.modRevision, signal, { clock });
      }
    });
  }

  /** Runs `body` under the session's, the caller's and the timeout's signal; one cleanup path. */
  private async guard(
    what: 'enter' | 'leave',
    options: BarrierWaitOptions,
    body: (signal: AbortSignal) => Promise<void>,
  ): Promise<void> {
    const { session } = this;
    const clock: Clock = session.clock;
    const timeoutMs = options.timeoutMs;
    if (timeoutMs !== undefined && (!Number.isFinite(timeoutMs) || timeoutMs < 0)) {
      throw new OptionError(`Expected \`timeoutMs\` to be a number of ms from 0 up, got \`${timeoutMs}\``);
    }
    // Aborts on the caller's signal or the timeout, whichever comes first.
    const limit = new AbortController();
    const unlinkUser = linkSignal(limit, options.signal);
    let timedOut = false;
    const timer =
      timeoutMs === undefined
        ? undefined
        : clock.setTimeout(() => {
            timedOut = true;
            limit.abort(new Error(`barrier ${what} timed out`));
          }, timeoutMs);
    try {
      await withSessionSignal(`barrier ${this.key}`, session, limit.signal, body, async (err) => {
        if (err instanceof TooManyParticipantsError) throw err; // the barrier is full: rejected as is
        const present = timedOut ? await this.countWaiters() : undefined;
        await this.deleteMyKey();
        // A lost session explains the timeout: then withSessionSignal rejects with the loss.
        if (timedOut && !session.isLost) throw this.timeoutError(what, present, timeoutMs, err);
      });
    } finally {
      if (timer) clock.clearTimeout(timer);
      unlinkUser();
    }
  }

  /** Participants, oldest first (Go's `enteredClients`). */
  private async waiters(signal: AbortSignal): Promise<KeyValue[]> {
    const res = await raceSignal(
      this.session.store.range(this.waitersPrefix, { prefix: true, sortBy: 'create', sortOrder: 'ascend' }),
      signal,
    );
    return res.kvs;
  }

  private async countWaiters(): Promise<number | undefined> {
    try {
      const res = await this.session.store.range(this.waitersPrefix, { prefix: true, countOnly: true });
      return res.count;
    } catch {
      return undefined; // the error message then says "an unknown number"
    }
  }

  /** Go's `newUniqueEphemeralKey`: `<key>/waiters/<unixNano>`, created only if absent, with our lease. */
  private async createOwnKey(signal: AbortSignal): Promise<void> {
    const { store, leaseId, clock } = this.session;
    for (let attempt = 0; ; attempt++) {
      const key = `${this.waitersPrefix}${uniqueNanos(clock)}`;
      const txn = store.txn({
        compare: [{ key, target: 'version', op: '=', value: 0 }],
        success: [{ type: 'put', key, value: '', lease: leaseId }],
      });
      this.myKey = key; // set before the put lands, so a cleanup after an abort deletes it too
      this.inflight = txn;
      const res = await raceSignal(txn, signal);
      if (res.succeeded) {
        this.myRev = res.revision;
        return;
      }
      if (attempt >= 100) throw new EschedulerError(`barrier ${this.key}: could not create a unique key`);
    }
  }

  private async deleteMyKey(): Promise<void> {
    const key = this.myKey;
    this.myKey = undefined;
    if (key) await deleteOwnKey(this.session, key, this.inflight);
  }

  private timeoutError(
    what: 'enter' | 'leave',
    present: number | undefined,
    timeoutMs: number | undefined,
    cause: unknown,
  ): BarrierTimeoutError {
    const seen = present === undefined ? 'an unknown number' : String(present);
    return new BarrierTimeoutError(
      what === 'enter'
        ? `barrier ${this.key}: ${seen} of ${this.count} participants entered within ${timeoutMs} ms; ` +
            `expected ${this.count} (is a participant missing, or is \`count\` too high?)`
        : `barrier ${this.key}: ${seen} of ${this.count} participants still had not left after ${timeoutMs} ms`,
      { cause },
    );
  }

  private tooMany(n: number): TooManyParticipantsError {
    return new TooManyParticipantsError(
      `barrier ${this.key}: ${n} participants entered already, the barrier is for ${this.count}`,
    );
  }
}

let lastNanos = 0n;
/** Go's `time.Now().UnixNano()` on `clock`, strictly increasing within this process. */
function uniqueNanos(clock: Clock): string {
  const sub = process.hrtime.bigint() % 1_000_000n;
  let n = BigInt(Math.floor(clock.now())) * 1_000_000n + sub;
  if (n <= lastNanos) n = lastNanos + 1n;
  lastNanos = n;
  return n.toString();
}
