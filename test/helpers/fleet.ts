/**
 * The test fleet builder: masters and workers on one store under one unique root, with a run handler that
 * records start/stop times per task and worker. On the system clock against any store (protocol tests), or
 * on a `ManualClock` with the memory store, where every timer (TTL, rebalanceWait, a run's clean-up) moves
 * only when the test advances the clock; `storeFor` gives each node a store of its own (e.g. a
 * `FaultyStore` over one memory store, to cut one node off).
 */
import pino from 'pino';
import { keys } from '../../src/scheduler/keys.js';
import { Master, type MasterOptions } from '../../src/scheduler/master.js';
import { PrometheusMetrics } from '../../src/scheduler/prometheus.js';
import { Worker, type WorkerOptions } from '../../src/scheduler/worker.js';
import type { Store } from '../../src/store/port.js';
import type { Task } from '../../src/task.js';
import { type Clock, ManualClock, systemClock } from '../../src/util/clock.js';
import type { Logger } from '../../src/util/logger.js';
import { until } from './async.js';
import { uniqueRoot } from './etcd.js';

export interface RunRecord {
  id: string;
  worker: string;
  start: number;
  stop?: number;
  /** The run's fencing token and attempt (RunContext). */
  token?: number;
  attempt?: number;
}

/** Set ESCHEDULER_TEST_LOG=debug (or info...) to see the library's logs on stderr while a test runs. */
const testLogger: Logger | undefined = process.env.ESCHEDULER_TEST_LOG
  ? pino({ level: process.env.ESCHEDULER_TEST_LOG }, pino.destination(2))
  : undefined;

export interface FleetOptions {
  /** The clock of every node and of the run records. @default systemClock */
  clock?: Clock;
  /** The store a node (by name) talks to. @default the fleet's store */
  storeFor?: (node: string) => Store;
}

export class Fleet {
  readonly root: string;
  readonly k: ReturnType<typeof keys>;
  readonly masters: Master[] = [];
  readonly workers: Worker[] = [];
  readonly runs: RunRecord[] = [];
  readonly metrics = new PrometheusMetrics();
  tasks: Task[] = [];
  /** Per task id: how long a run keeps going after its signal aborted (ms). */
  stopDelay = new Map<string, number>();
  readonly clock: Clock;
  private readonly storeFor: (node: string) => Store;

  constructor(
    readonly store: Store,
    name: string,
    readonly maxNumNodes = 10,
    readonly ttl = 2,
    options: FleetOptions = {},
  ) {
    this.root = uniqueRoot(name);
    this.k = keys(this.root);
    this.clock = options.clock ?? systemClock;
    this.storeFor = options.storeFor ?? (() => store);
  }

  static tasks(n: number, prefix = 't'): Task[] {
    return Array.from({ length: n }, (_, i) => ({ id: `${prefix}${i}` }));
  }

  master(name: string, options: Partial<MasterOptions> = {}): Master {
    const m = new Master({
      store: this.storeFor(name),
      clock: this.clock,
      rootName: this.root,
      maxNumNodes: this.maxNumNodes,
      ttl: this.ttl,
      name,
      generator: () => this.tasks,
      rebalanceWait: 200,
      interval: 60_000,
      timeout: 2_000,
      barrierTimeout: 10_000,
      metrics: this.metrics,
      logger: testLogger,
      ...options,
    });
    this.masters.push(m);
    m.start();
    return m;
  }

  /** Creates a worker with the recording run handler (not started). */
  worker(name: string, options: Partial<WorkerOptions> = {}): Worker {
    const w = new Worker({
      store: this.storeFor(name),
      clock: this.clock,
      rootName: this.root,
      maxNumNodes: this.maxNumNodes,
      ttl: this.ttl,
      name,
      barrierTimeout: 10_000,
      metrics: this.metrics,
      logger: testLogger,
      restart: { initialDelay: 50, maxDelay: 500 },
      run: (task, { signal, token, attempt }) => this.run(name, task, signal, token, attempt),
      ...options,
    });
    this.workers.push(w);
    return w;
  }

  private run(
    worker: string,
    task: Task,
    signal: AbortSignal,
    token?: number,
    attempt?: number,
  ): Promise<void> {
    const rec: RunRecord = { id: task.id, worker, start: this.clock.now(), token, attempt };
    this.runs.push(rec);
    return new Promise<void>((resolve) => {
      const finish = () => {
        const delay = this.stopDelay.get(task.id) ?? 0;
        this.clock.setTimeout(() => {
          rec.stop = this.clock.now();
          resolve();
        }, delay);
      };
      if (signal.aborted) finish();
      else signal.addEventListener('abort', finish, { once: true });
    });
  }

  /** The assignment in the store: worker → sorted task ids. */
  async assignment(): Promise<Map<string, string[]>> {
    const res = await this.store.range(this.k.taskPrefix, { prefix: true, keysOnly: true });
    const out = new Map<string, string[]>();
    for (const kv of res.kvs) {
      const [worker, id] = kv.key.slice(this.k.taskPrefix.length).split('/');
      out.set(worker, [...(out.get(worker) ?? []), id].sort());
    }
    return out;
  }

  /** {@link settled}, and balanced: max − min ≤ 1 across `expectWorkers`. */
  balanced(expectWorkers: string[], timeoutMs = 15_000): Promise<Map<string, string[]>> {
    return this.settled(expectWorkers, timeoutMs, 1);
  }

  /**
   * Waits until every task is assigned exactly once, to `expectWorkers` only (and the spread is at most
   * `maxSpread`), and returns the assignment.
   */
  async settled(
    expectWorkers: string[],
    timeoutMs = 15_000,
    maxSpread = Number.POSITIVE_INFINITY,
  ): Promise<Map<string, string[]>> {
    let last = new Map<string, string[]>();
    try {
      return await this.until(
        `all ${this.tasks.length} tasks assigned to ${expectWorkers.join(',')}`,
        async () => {
          const a = await this.assignment();
          last = a;
          const live = [...a.keys()].every((w) => expectWorkers.includes(w));
          const ok = live && exactlyOnce(a, this.tasks) && spread(a, expectWorkers) <= maxSpread;
          return ok ? a : undefined;
        },
        timeoutMs,
      );
    } catch (err) {
      throw new Error(`${(err as Error).message}; last assignment: ${JSON.stringify([...last])}`);
    }
  }

  /**
   * Waits for `cond` on the fleet's clock (a ManualClock is advanced, deterministically, in `stepMs`
   * steps) for at most `timeoutMs` of that clock; returns `cond`'s value.
   */
  async until<T>(
    what: string,
    cond: () => T | Promise<T>,
    timeoutMs = 15_000,
    stepMs = 10,
  ): Promise<NonNullable<T>> {
    return (await until(this.clock, what, cond, timeoutMs, stepMs)).value;
  }

  /** Ids running now on `worker` per the run records. */
  runningOn(worker: string): string[] {
    return this.runs.filter((r) => r.worker === worker && r.stop === undefined).map((r) => r.id);
  }

  /** Stops every node (on a ManualClock, advancing it while they drain). */
  async close(): Promise<void> {
    let done = false;
    const all = Promise.allSettled([
      ...this.masters.map((m) => m.stop()),
      ...this.workers.map((w) => w.stop()),
    ]).then(() => {
      done = true;
    });
    if (this.clock instanceof ManualClock) await this.until('the fleet to stop', () => done, 120_000, 50);
    await all;
  }
}

/**
 * Every task of `tasks` is in `assignment` exactly once, and nothing else is: the assigned ids, as a
 * multiset, equal the task ids (a task on two workers, or a missing one, is not).
 */
export function exactlyOnce(
  assignment: ReadonlyMap<string, readonly string[]>,
  tasks: readonly Task[],
): boolean {
  const ids = [...assignment.values()].flat().sort();
  const want = tasks.map((t) => t.id).sort();
  return ids.length === want.length && ids.every((id, i) => id === want[i]);
}

/** max − min of the sizes of the lists (0 for none). */
export function spread(a: Map<string, string[]>, workers: string[]): number {
  const sizes = workers.map((w) => a.get(w)?.length ?? 0);
  return Math.max(...sizes) - Math.min(...sizes);
}
