/**
 * Benchmark 5, Footprint: resident memory and CPU time of a master holding 100k tasks and of a worker
 * holding 10k, each alone in a child process (`bench/child.ts`), reported by the child itself from
 * `process.memoryUsage()`, `process.resourceUsage().maxRSS` and `process.cpuUsage()`. The baseline is the
 * same child before it created its master or worker (Node + the tsx loader + the library loaded).
 */
import { keys } from '../src/scheduler/keys.js';
import { Master } from '../src/scheduler/master.js';
import { PrometheusMetrics } from '../src/scheduler/prometheus.js';
import {
  type BenchConfig,
  benchRoot,
  Child,
  cleanRoot,
  emit,
  etcdStore,
  fakeWorkers,
  makeTasks,
  note,
  skipBarrier,
} from './lib.js';

type Footprint = Record<string, number>;

export interface FootprintResult {
  master: { tasks: number; rssMB: number; maxRssMB: number; baselineRssMB: number; cpuMs: number };
  worker: { tasks: number; rssMB: number; maxRssMB: number; baselineRssMB: number; cpuMs: number };
}

export async function benchFootprint(cfg: BenchConfig): Promise<FootprintResult> {
  return { master: await masterFootprint(cfg, 100_000), worker: await workerFootprint(cfg, 10_000) };
}

async function masterFootprint(cfg: BenchConfig, n: number): Promise<FootprintResult['master']> {
  const root = benchRoot('footprint-master');
  const admin = etcdStore(cfg.endpoints);
  const workers = Array.from({ length: 10 }, (_, i) => `w${i}`);
  const revoke = await fakeWorkers(admin, root, workers);
  let child: Child | undefined;
  try {
    await skipBarrier(admin, root);
    child = new Child('master', {
      endpoints: cfg.endpoints,
      root,
      name: 'footprint-master',
      tasks: n,
      maxNumNodes: 11,
      ttl: 10,
    });
    const baseline = (await child.next('ready', 30_000)).footprint as Footprint;
    const first = await child.next('schedule', 180_000);
    // A second schedule: the steady state (nothing to write, the whole assignment read and planned again).
    child.send({ type: 'schedule' });
    const second = await child.next('schedule', 180_000);
    const f1 = first.footprint as Footprint;
    const f2 = second.footprint as Footprint;
    const r1 = first.report as { assigned: number; durationMs: number; txns: number };
    const r2 = second.report as { assigned: number; durationMs: number };
    if (r1.assigned !== n) throw new Error(`footprint bench: first schedule ${JSON.stringify(r1)}`);
    emit('footprint.master', {
      tasks: n,
      workers: workers.length,
      baseline,
      afterFirstSchedule: f1,
      afterSecondSchedule: f2,
      firstScheduleMs: r1.durationMs,
      firstScheduleTxns: r1.txns,
      secondScheduleMs: r2.durationMs,
      secondScheduleAssigned: r2.assigned,
    });
    return {
      tasks: n,
      rssMB: Math.max(f1.rssMB, f2.rssMB),
      maxRssMB: f2.maxRssMB,
      baselineRssMB: baseline.rssMB,
      cpuMs: f2.cpuUserMs + f2.cpuSystemMs,
    };
  } finally {
    await child?.kill();
    await revoke().catch(() => undefined);
    await cleanRoot(admin, root);
    await admin.close();
  }
}

async function workerFootprint(cfg: BenchConfig, n: number): Promise<FootprintResult['worker']> {
  const root = benchRoot('footprint-worker');
  const k = keys(root);
  const admin = etcdStore(cfg.endpoints);
  const masterStore = etcdStore(cfg.endpoints);
  let child: Child | undefined;
  let master: Master | undefined;
  try {
    await skipBarrier(admin, root);
    child = new Child('worker', {
      endpoints: cfg.endpoints,
      root,
      name: 'footprint-worker',
      maxNumNodes: 2,
      ttl: 10,
    });
    const baseline = (await child.next('ready', 30_000)).footprint as Footprint;
    await child.next('registered', 60_000);
    const tasks = makeTasks(n);
    master = new Master({
      store: masterStore,
      rootName: root,
      name: 'footprint-master',
      maxNumNodes: 2,
      metrics: new PrometheusMetrics(),
      interval: 3_600_000,
      generator: () => tasks,
    });
    master.start();
    const deadline = Date.now() + 180_000;
    while ((child.last('running')?.n ?? 0) !== n) {
      if (Date.now() > deadline) throw new Error(`footprint bench: the worker never ran all ${n} tasks`);
      await child.next('running', 180_000).catch(() => undefined);
    }
    child.send({ type: 'footprint' });
    const f = (await child.next('footprint', 30_000)).footprint as Footprint;
    const held = await admin.range(k.workerTasks('footprint-worker'), { prefix: true, countOnly: true });
    emit('footprint.worker', { tasks: n, assigned: held.count, baseline, allRunning: f });
    note(`footprint: worker holds ${held.count} tasks`);
    return {
      tasks: n,
      rssMB: f.rssMB,
      maxRssMB: f.maxRssMB,
      baselineRssMB: baseline.rssMB,
      cpuMs: f.cpuUserMs + f.cpuSystemMs,
    };
  } finally {
    await child?.kill();
    await master?.stop().catch(() => undefined);
    await cleanRoot(admin, root);
    await Promise.allSettled([admin.close(), masterStore.close()]);
  }
}
