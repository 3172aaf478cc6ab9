import { type Clock, sleep } from './clock.js';

/** Default longest wait between two tries of a failed store call, in ms. */
export const DEFAULT_MAX_RETRY_DELAY = 5_000;

export interface BackoffOptions {
  /** Ceiling of the first delay. @default 200 (ms) */
  initialDelay?: number;
  /** Longest delay. @default DEFAULT_MAX_RETRY_DELAY (ms) */
  maxDelay?: number;
  /** Growth of the ceiling per try. @default 2 */
  factor?: number;
  /**
   * `'full'`: each delay is uniform in [0, ceiling) (AWS "full jitter": retries of many processes after a
   * shared outage spread out instead of arriving together). `'none'`: the ceiling itself. @default 'full'
   */
  jitter?: 'full' | 'none';
  /** Source of randomness in [0, 1): the clock's when it has one (seeded under a ManualClock). @default Math.random */
  random?: () => number;
}

/**
 * Exponential backoff: ceiling `initialDelay * factor^n` capped at `maxDelay`, with full jitter by default.
 * One instance per retry loop: `next()` after each failure, `reset()` after a success, or `wait()` to
 * sleep the next delay on the injectable clock.
 */
export class Backoff {
  private readonly initialDelay: number;
  private readonly maxDelay: number;
  private readonly factor: number;
  private readonly jitter: 'full' | 'none';
  private readonly random: () => number;
  private tries = 0;

  constructor(options: BackoffOptions = {}) {
    this.initialDelay = options.initialDelay ?? 200;
    this.maxDelay = options.maxDelay ?? DEFAULT_MAX_RETRY_DELAY;
    this.factor = options.factor ?? 2;
    this.jitter = options.jitter ?? 'full';
    this.random = options.random ?? Math.random;
  }

  /** Failed tries since the last reset. */
  get attempts(): number {
    return this.tries;
  }

  /** The ceiling the next delay is drawn under. */
  get ceiling(): number {
    return Math.min(this.maxDelay, this.initialDelay * this.factor ** this.tries);
  }

  /** The delay before the next try, in ms; grows the ceiling for the one after. */
  next(): number {
    const ceiling = this.ceiling;
    this.tries++;
    return this.jitter === 'full' ? Math.floor(this.random() * ceiling) : ceiling;
  }

  /** After a success: the next delay starts again from `initialDelay`. */
  reset(): void {
    this.tries = 0;
  }

  /**
   * Sleeps the next delay on `clock`. Resolves early (never rejects) when `signal` aborts: the caller's
   * loop checks its own stop condition.
   */
  async wait(clock: Clock, signal?: AbortSignal): Promise<void> {
    await sleep(clock, this.next(), signal).catch(() => undefined);
  }
}
