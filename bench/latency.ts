/**
 * Benchmark 2, Assign → run: 10k tasks over 10 in-process workers (each with its own etcd connection and
 * claim handoff, as in production), all meeting the master at the start-up barrier. For each task: from
 * the end of the master's txn that wrote its assignment (the commit, as the master's client saw it
 * acknowledged) to the start of its `run` on the worker. Also the time until all 10k run, from the end
 * of the first assignment txn and from the generator's call (the schedule's start, after reading workers).
 */
import { keys } from '../src/scheduler/keys.js';
import { Master, type ScheduleReport } from '../src/scheduler/master.js';
import { PrometheusMetrics } from '../src/scheduler/prometheus.js';
import { Worker } from '../src/scheduler/worker.js';
import type { EtcdStore } from '../src/store/etcd.js';
import {
  type BenchConfig,
  benchRoot,
  cleanRoot,
  emit,
  etcdStore,
  makeTasks,
  note,
  now,
  quantile,
  round,
  timedStore,
  waitUntil,
} from './lib.js';

export interface LatencyResult {
  tasks: number;
  workers: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  allRunningFromFirstCommitMs: number;
  allRunningFromScheduleMs: number;
  writeMs: number;
}

export async function benchLatency(cfg: BenchConfig, n = 10_000, workerCount = 10): Promise<LatencyResult> {
  const root = benchRoot('latency');
  const k = keys(root);
  const tasks = makeTasks(n);
  const admin = etcdStore(cfg.endpoints);
  const stores: EtcdStore[] = [];
  const workers: Worker[] = [];
  const committedAt = new Map<string, number>();
  const startedAt = new Map<string, number>();
  let generatorCalled = 0;
  let firstCommit = 0;
  let firstWrite = 0;
  let lastCommit = 0;
  const masterStore = etcdStore(cfg.endpoints);
  const master = new Master({
    store: timedStore(masterStore, (t) => {
      for (const op of t.request.success) {
        if (op.type !== 'put' || !op.key.startsWith(k.taskPrefix)) continue;
        const id = op.key.slice(op.key.lastIndexOf('/') + 1);
        committedAt.set(id, t.end);
        if (!firstCommit) {
          firstCommit = t.end;
          firstWrite = t.start;
        }
        lastCommit = t.end;
      }
    }),
    rootName: root,
    name: 'bench-master',
    maxNumNodes: workerCount + 1,
    metrics: new PrometheusMetrics(),
    interval: 3_600_000,
    generator: () => {
      generatorCalled = now();
      return tasks;
    },
  });
  try {
    for (let i = 0; i < workerCount; i++) {
      const store = etcdStore(cfg.endpoints);
      stores.push(store);
      workers.push(
        new Worker({
          store,
          rootName: root,
          name: `w${i}`,
          maxNumNodes: workerCount + 1,
          metrics: new PrometheusMetrics(),
          run: (task, { signal }) => {
            if (!startedAt.has(task.id)) startedAt.set(task.id, now());
            return new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve()));
          },
        }),
      );
    }
    await Promise.all(workers.map((w) => w.start()));
    const scheduled = new Promise<ScheduleReport>((resolve) => master.once('schedule', resolve));
    master.start();
    const report = await scheduled;
    if (report.assigned !== n) throw new Error(`latency bench: first schedule ${JSON.stringify(report)}`);
    await waitUntil(`all ${n} runs started`, () => startedAt.size >= n, 120_000);
    const lat: number[] = [];
    let last = 0;
    for (const [id, at] of startedAt) {
      const c = committedAt.get(id);
      if (c === undefined) throw new Error(`latency bench: task ${id} ran without a commit seen`);
      lat.push(at - c);
      last = Math.max(last, at);
    }
    const result: LatencyResult = {
      tasks: n,
      workers: workerCount,
      p50Ms: round(quantile(lat, 0.5)),
      p99Ms: round(quantile(lat, 0.99)),
      maxMs: round(quantile(lat, 1)),
      allRunningFromFirstCommitMs: round(last - firstCommit),
      allRunningFromScheduleMs: round(last - generatorCalled),
      writeMs: round(lastCommit - firstWrite),
    };
    emit('assignToRun', { ...result, minMs: round(Math.min(...lat)), scheduleMs: report.durationMs });
    return result;
  } finally {
    note('assign→run: stopping the fleet');
    await master.stop().catch(() => undefined);
    await Promise.allSettled(workers.map((w) => w.stop()));
    await cleanRoot(admin, root);
    await Promise.allSettled([...stores, masterStore, admin].map((s) => s.close()));
  }
}
