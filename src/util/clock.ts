import { mulberry32 } from './random.js';
import { abortReason } from './signals.js';

/**
 * One injectable clock for everything that reads time or waits: stores (lease expiry), sessions
 * (self-fencing), masters and workers (intervals, backoff). The system clock is the default; the
 * {@link ManualClock} makes the memory store and the whole protocol deterministic in tests and simulation.
 */
export interface Clock {
  /** Milliseconds since the epoch (or any fixed origin); monotonic for the manual clock. */
  now(): number;
  /** Calls `fn` after `ms` milliseconds; returns a handle for {@link Clock.clearTimeout}. */
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
  /**
   * Uniform in [0, 1): the randomness of retry jitter. A ManualClock draws it from a seeded PRNG so a
   * simulation stays deterministic. @default Math.random
   */
  random?(): number;
}

/** Opaque timer handle. */
export interface TimerHandle {
  readonly __timer: unknown;
}

/** The process clock: `Date.now()` and Node timers (not unref'd: pending timers keep the process alive, so cancel them). */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout(fn, ms) {
    const t = setTimeout(fn, Math.max(0, ms));
    return { __timer: t };
  },
  clearTimeout(handle) {
    clearTimeout(handle.__timer as NodeJS.Timeout);
  },
  random: Math.random,
};

/**
 * Resolves after `ms` on `clock`, or rejects with the signal's reason as soon as `signal` aborts.
 */
export function sleep(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(abortReason(signal));
      return;
    }
    const onAbort = () => {
      clock.clearTimeout(handle);
      reject(abortReason(signal!));
    };
    const handle = clock.setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

interface ManualTimer {
  at: number;
  seq: number;
  fn: () => void;
  cancelled: boolean;
}

/**
 * A clock that only moves when told. Timers fire in (due time, creation order) order while
 * {@link ManualClock.advance} moves time forward; between timers it yields to pending promise jobs so the
 * async code woken by one timer runs before the next fires.
 */
export class ManualClock implements Clock {
  private current: number;
  private seq = 0;
  private timers: ManualTimer[] = [];

  /** Seeded randomness for retry jitter: the same seed gives the same delays. */
  readonly random: () => number;

  constructor(start = 1_700_000_000_000, seed = 1) {
    this.current = start;
    this.random = mulberry32(seed);
  }

  now(): number {
    return this.current;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const t: ManualTimer = { at: this.current + Math.max(0, ms), seq: this.seq++, fn, cancelled: false };
    this.timers.push(t);
    return { __timer: t };
  }

  clearTimeout(handle: TimerHandle): void {
    (handle.__timer as ManualTimer).cancelled = true;
  }

  /** Number of timers not yet fired or cancelled. */
  pending(): number {
    return this.timers.filter((t) => !t.cancelled).length;
  }

  /** Moves time forward by `ms`, firing every timer due on the way, in order. */
  async advance(ms: number): Promise<void> {
    const until = this.current + ms;
    for (;;) {
      await flushMicrotasks();
      this.timers = this.timers.filter((t) => !t.cancelled);
      let next: ManualTimer | undefined;
      for (const t of this.timers) {
        if (t.at <= until && (!next || t.at < next.at || (t.at === next.at && t.seq < next.seq))) next = t;
      }
      if (!next) break;
      this.current = Math.max(this.current, next.at);
      next.cancelled = true;
      next.fn();
    }
    this.current = until;
    await flushMicrotasks();
  }
}

/** Lets queued promise jobs (and the jobs they queue) run. */
export async function flushMicrotasks(rounds = 20): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((r) => setImmediate(r));
}
