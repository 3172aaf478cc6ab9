/**
 * A fleet of masters and workers on one store under one unique root, with a run handler that records
 * start/stop timestamps per task and worker, for the protocol tests.
 */
import pino from 'pino';
import { keys } from '../../src/scheduler/keys.js';
import { Master, type MasterOptions } from '../../src/scheduler/master.js';
import { Metrics } from '../../src/scheduler/metrics.js';
import { Worker, type WorkerOptions } from '../../src/scheduler/worker.js';
import type { Store } from '../../src/store/port.js';
import type { Task } from '../../src/task.js';
import type { Logger } from '../../src/util/logger.js';
import { uniqueRoot } from './etcd.js';
import { waitFor } from './wait.js';

export interface RunRecord {
  id: string;
  worker: string;
  start: number;
  stop?: number;
}

/** Set ESCHEDULER_TEST_LOG=debug (or info...) to see the library's logs on stderr while a test runs. */
const testLogger: Logger | undefined = process.env.ESCHEDULER_TEST_LOG
  ? pino({ level: process.env.ESCHEDULER_TEST_LOG }, pino.destination(2))
  : undefined;

export class Fleet {
  readonly root: string;
  readonly k: ReturnType<typeof keys>;
  readonly masters: Master[] = [];
  readonly workers: Worker[] = [];
  readonly runs: RunRecord[] = [];
  readonly metrics = new Metrics();
  tasks: Task[] = [];
  /** Per task id: how long a run keeps going after its signal aborted (ms). */
  stopDelay = new Map<string, number>();

  constructor(
    readonly store: Store,
    name: string,
    readonly maxNumNodes = 10,
    readonly ttl = 2,
  ) {
    this.root = uniqueRoot(name);
    this.k = keys(this.root);
  }

  static tasks(n: number, prefix = 't'): Task[] {
    return Array.from({ length: n }, (_, i) => ({ id: `${prefix}${i}` }));
  }

  master(name: string, options: Partial<MasterOptions> = {}): Master {
    const m = new Master({
      store: this.store,
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
      store: this.store,
      rootName: this.root,
      maxNumNodes: this.maxNumNodes,
      ttl: this.ttl,
      name,
      barrierTimeout: 10_000,
      metrics: this.metrics,
      logger: testLogger,
      restart: { initialDelay: 50, maxDelay: 500 },
      run: (task, { signal }) => this.run(name, task, signal),
      ...options,
    });
    this.workers.push(w);
    return w;
  }

  private run(worker: string, task: Task, signal: AbortSignal): Promise<void> {
    const rec: RunRecord = { id: task.id, worker, start: Date.now() };
    this.runs.push(rec);
    return new Promise<void>((resolve) => {
      const finish = () => {
        const delay = this.stopDelay.get(task.id) ?? 0;
        setTimeout(() => {
          rec.stop = Date.now();
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

  /** Waits until every task is assigned exactly once, to live workers only, and returns the assignment. */
  /** {@link settled}, and balanced: max − min ≤ 1 across `expectWorkers`. */
  balanced(expectWorkers: string[], timeoutMs = 15_000): Promise<Map<string, string[]>> {
    return this.settled(expectWorkers, timeoutMs, 1);
  }

  async settled(
    expectWorkers: string[],
    timeoutMs = 15_000,
    maxSpread = Number.POSITIVE_INFINITY,
  ): Promise<Map<string, string[]>> {
    let last = new Map<string, string[]>();
    try {
      return await waitFor(
        `all ${this.tasks.length} tasks assigned to ${expectWorkers.join(',')}`,
        async () => {
          const a = await this.assignment();
          last = a;
          const ids = [...a.values()].flat();
          const live = [...a.keys()].every((w) => expectWorkers.includes(w));
          const want = new Set(this.tasks.map((t) => t.id));
          const ok =
            live &&
            ids.length === want.size &&
            ids.every((id) => want.has(id)) &&
            spread(a, expectWorkers) <= maxSpread;
          return ok ? a : undefined;
        },
        timeoutMs,
      );
    } catch (err) {
      throw new Error(`${(err as Error).message}; last assignment: ${JSON.stringify([...last])}`);
    }
  }

  /** Ids running now on `worker` per the run records. */
  runningOn(worker: string): string[] {
    return this.runs.filter((r) => r.worker === worker && r.stop === undefined).map((r) => r.id);
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.masters.map((m) => m.stop()), ...this.workers.map((w) => w.stop())]);
  }
}

/** max − min of the sizes of the lists (0 for none). */
export function spread(a: Map<string, string[]>, workers: string[]): number {
  const sizes = workers.map((w) => a.get(w)?.length ?? 0);
  return Math.max(...sizes) - Math.min(...sizes);
}
