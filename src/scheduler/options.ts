import { networkInterfaces } from 'node:os';
import { OptionError } from '../errors.js';
import type { Store } from '../store/port.js';
import type { Task } from '../task.js';
import { Backoff, DEFAULT_MAX_RETRY_DELAY } from '../util/backoff.js';
import { type Clock, systemClock } from '../util/clock.js';
import { type Logger, silentLogger } from '../util/logger.js';
import { checkName, rootPath } from './keys.js';
import { type Metrics, noopMetrics } from './metrics.js';

/** @default 10 (s) */
export const DEFAULT_TTL = 10;
/** @default 60_000 (ms) */
export const DEFAULT_INTERVAL = 60_000;
/** @default 30_000 (ms) */
export const DEFAULT_TIMEOUT = 30_000;
/** @default 2_000 (ms) */
export const DEFAULT_REBALANCE_WAIT = 2_000;
/** @default 60_000 (ms) */
export const DEFAULT_BARRIER_TIMEOUT = 60_000;
/** @default 10_000 (ms) */
export const DEFAULT_DRAIN_TIMEOUT = 10_000;
/** A run that lasted this long is steady (leaves the failing list). @default 5_000 (ms) */
export const DEFAULT_STEADY_AFTER = 5_000;
export { DEFAULT_MAX_RETRY_DELAY };

/** What master and worker share: where and who. */
export interface NodeOptions {
  /** The coordination store: `new EtcdStore({ hosts })` in production, `new MemoryStore()` in one process. */
  store: Store;
  /** Root folder of every key, as in the original (`a/b` gives `/a/b/...`). */
  rootName: string;
  /** Lease TTL, in seconds: how long a crashed process holds its place. @default 10 (s) */
  ttl?: number;
  /** Total worker count + 1 (the master): the start-up barrier's size and the cap on workers (`maxNumNodes - 1`). */
  maxNumNodes: number;
  /** Unique name of this process. @default `${ip}-${pid}` */
  name?: string;
  /** Waiting at the start-up barrier on a fresh root at most this long. @default 60_000 (ms) */
  barrierTimeout?: number;
  /** Time source; inject a `ManualClock` for deterministic tests. @default systemClock */
  clock?: Clock;
  /** Where to log (pino-compatible). @default silent */
  logger?: Logger;
  /**
   * Where metrics go: an implementation of the `Metrics` port, e.g. `new PrometheusMetrics()` from
   * `escheduler/prometheus` (what the CLI serves on `/metrics`). @default `noopMetrics` (none recorded)
   */
  metrics?: Metrics;
  /**
   * Longest wait between two tries of a failed store call of the roles (campaign, registration, claims,
   * re-reads, restarting the assignment watch after it failed for good). Waits grow from ~200 ms by doubling
   * with full jitter up to this cap, so after an etcd outage every process is back within about this long of
   * etcd. (The recipes' watches themselves resume after a transient failure every 500 ms.) @default 5_000 (ms)
   */
  maxRetryDelay?: number;
}

export interface GeneratorContext {
  /** Aborted when the schedule times out or the master steps down. */
  signal: AbortSignal;
}

/** Returns the desired tasks. Called by the leader on every schedule. */
export type Generator = (ctx: GeneratorContext) => Promise<readonly Task[]> | readonly Task[];

export interface ResolvedNodeOptions {
  store: Store;
  rootName: string;
  ttl: number;
  maxNumNodes: number;
  name: string;
  barrierTimeout: number;
  clock: Clock;
  logger: Logger;
  metrics: Metrics;
  maxRetryDelay: number;
}

function describe(v: unknown): string {
  return `\`${typeof v === 'string' ? v : JSON.stringify(v)}\` (${typeof v})`;
}

/** Checks an integer option is in [min, max]; the error names the option and the value. */
export function intOption(name: string, value: unknown, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new OptionError(
      `Expected \`${name}\` to be an integer from ${min} to ${max}, got ${describe(value)}`,
    );
  }
  return value;
}

/** Checks a plain number option (a factor, a ratio) is finite and ≥ min. */
export function numberOption(name: string, value: unknown, min: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min) {
    throw new OptionError(`Expected \`${name}\` to be a number ≥ ${min}, got ${describe(value)}`);
  }
  return value;
}

/** Checks a duration option in milliseconds is ≥ min. */
export function msOption(name: string, value: unknown, min: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min) {
    throw new OptionError(
      `Expected \`${name}\` to be a number of milliseconds ≥ ${min}, got ${describe(value)}`,
    );
  }
  return value;
}

/** The original's default process name: first non-internal IPv4 address and the pid. */
export function defaultName(): string {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) {
      if (a.family === 'IPv4' && !a.internal) return `${a.address}-${process.pid}`;
    }
  }
  return `127.0.0.1-${process.pid}`;
}

export function parseNodeOptions(o: NodeOptions): ResolvedNodeOptions {
  if (!o || typeof o !== 'object') throw new OptionError('options must be an object');
  if (!o.store || typeof o.store.txn !== 'function') {
    throw new OptionError('Expected `store` to be a Store (EtcdStore or MemoryStore)');
  }
  rootPath(o.rootName);
  const ttl = intOption('ttl', o.ttl ?? DEFAULT_TTL, 2, 3600);
  return {
    store: o.store,
    rootName: o.rootName,
    ttl,
    maxNumNodes: intOption('maxNumNodes', o.maxNumNodes, 2, 100_000),
    name: checkName('name', o.name ?? defaultName()),
    barrierTimeout: msOption('barrierTimeout', o.barrierTimeout ?? DEFAULT_BARRIER_TIMEOUT, 0),
    clock: o.clock ?? systemClock,
    logger: o.logger ?? silentLogger,
    metrics: o.metrics ?? noopMetrics,
    maxRetryDelay: msOption('maxRetryDelay', o.maxRetryDelay ?? DEFAULT_MAX_RETRY_DELAY, 1),
  };
}

/**
 * The backoff of one retry loop of a store call: from `initialDelay` up to the node's `maxRetryDelay`,
 * full jitter drawn from the clock's randomness (seeded under a ManualClock).
 */
export function retryBackoff(o: ResolvedNodeOptions, initialDelay = 200): Backoff {
  const clock = o.clock;
  return new Backoff({
    initialDelay: Math.min(initialDelay, o.maxRetryDelay),
    maxDelay: o.maxRetryDelay,
    random: clock.random ? () => clock.random!() : Math.random,
  });
}
