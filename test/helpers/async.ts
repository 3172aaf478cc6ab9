/**
 * The test suite's async helpers, in one place: deadlines for the code under test (`within`), waits for a
 * condition with a deadline (`waitFor`), promise state without awaiting (`track`), and the seeded PRNG of
 * the project (`mulberry32`, from src/util/random.ts) with `seeded()`, which names the seed of a failing
 * test so it can be replayed. Never a fixed sleep to prove something did not happen: advance a
 * `ManualClock` or show the order of events instead.
 */
import { type Clock, ManualClock } from '../../src/util/clock.js';
import { mulberry32 } from '../../src/util/random.js';

export { fnv1a } from '../../src/planner/hash.js';
export { mulberry32 };

/** Settles as `p` does, or rejects naming `what` if `p` is still pending after `ms` (a deadline, not a sleep). */
export async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: still pending after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, limit]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Polls `cond` every `everyMs` until it returns a truthy value (returned) or `timeoutMs` passes (then
 * throws, naming `what` and the last error `cond` threw, if any).
 */
export async function waitFor<T>(
  what: string,
  cond: () => T | Promise<T>,
  timeoutMs = 10_000,
  everyMs = 20,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await cond();
      if (v) return v as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`,
      );
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Tracks a promise's state without awaiting it (and without leaving a rejection unhandled). */
export function track<T>(p: Promise<T>): {
  p: Promise<T>;
  state: () => 'pending' | 'resolved' | 'rejected';
  done: () => boolean;
} {
  let state: 'pending' | 'resolved' | 'rejected' = 'pending';
  p.then(
    () => {
      state = 'resolved';
    },
    () => {
      state = 'rejected';
    },
  );
  return { p, state: () => state, done: () => state !== 'pending' };
}

/** `ESCHEDULER_TEST_SEED` when set (to replay a failure), else a fresh seed. */
export function testSeed(): number {
  const env = process.env.ESCHEDULER_TEST_SEED;
  if (env !== undefined && env !== '') {
    const seed = Number(env);
    if (!Number.isInteger(seed) || seed < 0 || seed >= 2 ** 32) {
      throw new Error(`Expected ESCHEDULER_TEST_SEED to be a whole number in [0, 2^32), got \`${env}\``);
    }
    return seed;
  }
  return Math.floor(Math.random() * 2 ** 32);
}

/**
 * Runs `body` with a PRNG seeded by `seed` (default {@link testSeed}); if it fails, the error names the
 * seed and how to replay it.
 */
export async function seeded<T>(
  body: (random: () => number, seed: number) => Promise<T>,
  seed = testSeed(),
): Promise<T> {
  try {
    return await body(mulberry32(seed), seed);
  } catch (err) {
    throw new Error(
      `with seed ${seed} (replay: ESCHEDULER_TEST_SEED=${seed}): ${err instanceof Error ? err.message : String(err)}`,
      { cause: err },
    );
  }
}

/**
 * {@link waitFor} on `clock`: on a `ManualClock`, checks `cond`, then advances the clock by `stepMs`,
 * until `cond` holds or `timeoutMs` of the clock's time passed (nothing else moves that clock, so it is
 * deterministic); on any other clock, polls in real time. Returns `cond`'s value and the clock time it
 * took.
 */
export async function until<T>(
  clock: Clock,
  what: string,
  cond: () => T | Promise<T>,
  timeoutMs = 10_000,
  stepMs = 10,
): Promise<{ value: NonNullable<T>; ms: number }> {
  const start = clock.now();
  if (!(clock instanceof ManualClock)) {
    const value = await waitFor(what, cond, timeoutMs);
    return { value, ms: clock.now() - start };
  }
  for (;;) {
    await clock.advance(0);
    const v = await cond();
    if (v) return { value: v as NonNullable<T>, ms: clock.now() - start };
    if (clock.now() - start >= timeoutMs) {
      throw new Error(`${what}: not within ${timeoutMs} ms of the manual clock`);
    }
    await clock.advance(Math.min(stepMs, start + timeoutMs - clock.now()));
  }
}
