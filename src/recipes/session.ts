/**
 * A session: one lease, kept alive by a loop on the session's own clock, with loss detection that does
 * not trust the store to say so in time (DESIGN §3, §6): when no keep-alive has succeeded for
 * `ttl − margin`, the session declares itself lost — before the server can expire the lease — so its
 * owner stops acting on what the lease protects (self-fencing).
 */

import { EschedulerError, LeaseNotFoundError, OptionError, SessionLostError } from '../errors.js';
import type { LeaseId, Store } from '../store/port.js';
import { type Clock, sleep, systemClock, type TimerHandle } from '../util/clock.js';
import { TypedEmitter } from '../util/emitter.js';
import { raceSignal } from '../util/signals.js';

export interface SessionOptions {
  store: Store;
  /** Lease TTL, a whole number of seconds ≥ 1 (etcd's minimum is about 2 with default raft timings). */
  ttl: number;
  /**
   * Loss is declared when no keep-alive succeeded for `ttl * 1000 - margin` ms (measured from when the last
   * successful keep-alive was *sent*, so it is never later than the server's own expiry).
   * @default min(1000, ttl * 1000 / 4) (ms)
   */
  margin?: number;
  /** @default systemClock */
  clock?: Clock;
  /** Interval between keep-alives. @default floor(ttl * 1000 / 3) (ms) */
  keepAliveInterval?: number;
  /** Delay before the next try after a failed keep-alive. @default min(500, keepAliveInterval) (ms) */
  retryDelay?: number;
  /** Called when a listener throws (listeners cannot break the keep-alive loop). */
  onListenerError?: (event: string, err: unknown) => void;
}

export interface SessionEvents {
  /** Emitted exactly once when the lease is (or must be assumed) gone. */
  lost: { reason: string; error?: unknown };
  /** A keep-alive failed; the loop retries until the loss deadline. */
  keepAliveFailed: { error: unknown };
  /** `close()` could not revoke the lease; it expires by itself within its TTL. */
  revokeFailed: { error: unknown };
}

/** Default loss margin for a TTL in seconds: a quarter of the TTL, at most one second. */
export function defaultMargin(ttl: number): number {
  return Math.min(1000, (ttl * 1000) / 4);
}

/**
 * A lease with a keep-alive loop. `lost` is emitted once, at the latest `ttl − margin` after the last
 * successful keep-alive on the session's clock (a timer — a keep-alive call that hangs does not delay it),
 * and at once when the store says the lease is not found. `signal` aborts when the session is lost or
 * closed; hand it to everything that must stop with the session.
 */
export class Session extends TypedEmitter<SessionEvents> {
  readonly store: Store;
  readonly leaseId: LeaseId;
  /** Granted TTL in seconds. */
  readonly ttl: number;
  /** ms; see {@link SessionOptions.margin}. */
  readonly margin: number;
  readonly clock: Clock;
  readonly keepAliveInterval: number;
  /** Clock time the last successful keep-alive (or the grant) was sent. */
  lastKeepAliveAt: number;

  private readonly controller = new AbortController();
  private readonly retryDelay: number;
  private lossTimer?: TimerHandle;
  private lostState = false;
  private leaseGone = false;
  private closing?: Promise<void>;
  private loop?: Promise<void>;

  private constructor(
    store: Store,
    leaseId: LeaseId,
    ttl: number,
    grantedAt: number,
    options: Required<Pick<SessionOptions, 'margin' | 'clock' | 'keepAliveInterval' | 'retryDelay'>> &
      Pick<SessionOptions, 'onListenerError'>,
  ) {
    super(options.onListenerError);
    this.store = store;
    this.leaseId = leaseId;
    this.ttl = ttl;
    this.margin = options.margin;
    this.clock = options.clock;
    this.keepAliveInterval = options.keepAliveInterval;
    this.retryDelay = options.retryDelay;
    this.lastKeepAliveAt = grantedAt;
  }

  /** Grants a lease of `ttl` seconds and starts keeping it alive. */
  static async create(options: SessionOptions): Promise<Session> {
    const { store, ttl } = options;
    if (!Number.isInteger(ttl) || ttl < 1) {
      throw new OptionError(`Expected \`ttl\` to be a whole number of seconds from 1 up, got \`${ttl}\``);
    }
    const margin = options.margin ?? defaultMargin(ttl);
    if (!Number.isFinite(margin) || margin < 0 || margin >= ttl * 1000) {
      throw new OptionError(
        `Expected \`margin\` to be a number of ms from 0 up to below ttl * 1000 (${ttl * 1000}), got \`${margin}\``,
      );
    }
    const keepAliveInterval = options.keepAliveInterval ?? Math.floor((ttl * 1000) / 3);
    if (!Number.isFinite(keepAliveInterval) || keepAliveInterval <= 0) {
      throw new OptionError(
        `Expected \`keepAliveInterval\` to be a positive number of ms, got \`${keepAliveInterval}\``,
      );
    }
    const retryDelay = options.retryDelay ?? Math.min(500, keepAliveInterval);
    if (!Number.isFinite(retryDelay) || retryDelay <= 0) {
      throw new OptionError(`Expected \`retryDelay\` to be a positive number of ms, got \`${retryDelay}\``);
    }
    const clock = options.clock ?? systemClock;
    const sentAt = clock.now();
    const grant = await store.grantLease(ttl);
    const session = new Session(store, grant.id, grant.ttl, sentAt, {
      margin,
      clock,
      keepAliveInterval,
      retryDelay,
      onListenerError: options.onListenerError,
    });
    session.armLossTimer();
    session.loop = session.run();
    return session;
  }

  get isLost(): boolean {
    return this.lostState;
  }

  get isClosed(): boolean {
    return this.closing !== undefined;
  }

  /** Aborted when the session is lost (reason: `SessionLostError`) or closed. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Clock time at which loss is declared unless a keep-alive succeeds before. */
  get lossDeadline(): number {
    return this.lastKeepAliveAt + this.ttl * 1000 - this.margin;
  }

  /** Throws `SessionLostError` (or the close reason) when the session can no longer be used. */
  throwIfDone(): void {
    if (this.controller.signal.aborted) throw this.controller.signal.reason;
  }

  /**
   * Stops the keep-alive loop and (by default) revokes the lease, best effort, which deletes its keys at
   * once. Idempotent; does not emit `lost`.
   */
  close(options: { revoke?: boolean } = {}): Promise<void> {
    this.closing ??= this.doClose(options.revoke ?? true);
    return this.closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  private async doClose(revoke: boolean): Promise<void> {
    this.stopTimers();
    if (!this.controller.signal.aborted) {
      this.controller.abort(new EschedulerError(`session ${this.leaseId} closed`));
    }
    await this.loop;
    // A session lost by its own timer may still hold its lease on the server: revoke frees its keys now.
    if (revoke && !this.leaseGone) {
      try {
        await this.store.revokeLease(this.leaseId);
      } catch (err) {
        this.emit('revokeFailed', { error: err });
      }
    }
  }

  private async run(): Promise<void> {
    const signal = this.controller.signal;
    let delay = this.keepAliveInterval;
    while (!signal.aborted) {
      try {
        await sleep(this.clock, delay, signal);
      } catch {
        break; // stopped: lost or closed
      }
      const sentAt = this.clock.now();
      try {
        await raceSignal(this.store.keepAliveOnce(this.leaseId), signal);
        if (signal.aborted) break;
        this.lastKeepAliveAt = Math.max(this.lastKeepAliveAt, sentAt);
        this.armLossTimer();
        delay = this.keepAliveInterval;
      } catch (err) {
        if (signal.aborted) break;
        if (err instanceof LeaseNotFoundError) {
          this.leaseGone = true;
          this.declareLost(`lease ${this.leaseId} not found (expired or revoked)`, err);
          break;
        }
        this.emit('keepAliveFailed', { error: err });
        delay = this.retryDelay;
      }
    }
  }

  private armLossTimer(): void {
    if (this.lossTimer) this.clock.clearTimeout(this.lossTimer);
    const wait = Math.max(0, this.lossDeadline - this.clock.now());
    this.lossTimer = this.clock.setTimeout(() => {
      this.lossTimer = undefined;
      this.declareLost(
        `no successful keep-alive of lease ${this.leaseId} for ${this.ttl * 1000 - this.margin} ms (ttl ${this.ttl} s − margin ${this.margin} ms)`,
      );
    }, wait);
  }

  private stopTimers(): void {
    if (this.lossTimer) this.clock.clearTimeout(this.lossTimer);
    this.lossTimer = undefined;
  }

  private declareLost(reason: string, error?: unknown): void {
    if (this.lostState || this.closing) return;
    this.lostState = true;
    this.stopTimers();
    this.controller.abort(new SessionLostError(`session lost: ${reason}`, { cause: error }));
    this.emit('lost', error === undefined ? { reason } : { reason, error });
  }
}
