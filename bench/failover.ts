/**
 * Benchmarks 3 and 4, Failover.
 * - Worker killed: one worker runs in a child process and is SIGKILLed (no drain, no revoke: its lease
 *   and claims expire after its TTL). Measured: from the kill to the last of its tasks starting on another
 *   worker, against `ttl + rebalanceWait`.
 * - Worker drained: `stop()` on an in-process worker (deletes its key, stops runs, releases claims, revokes
 *   its lease). Measured the same way, against `rebalanceWait` (no TTL may be in it).
 * - Master killed: the leader runs in a child process and is SIGKILLed; a second master waits in the
 *   election. Measured: from the kill to the end of the new leader's first schedule, against `ttl`.
 */
import { keys } from '../src/scheduler/keys.js';
import { Master } from '../src/scheduler/master.js';
import { PrometheusMetrics } from '../src/scheduler/prometheus.js';
import { Worker } from '../src/scheduler/worker.js';
import type { EtcdStore } from '../src/store/etcd.js';
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
  now,
  round,
  skipBarrier,
  waitUntil,
} from './lib.js';

export interface FailoverParams {
  tasks: number;
  workers: number;
  /** s */
  ttl: number;
  /** ms */
  rebalanceWait: number;
}

export function failoverParams(quick: boolean): FailoverParams {
  // Full: the library's defaults (ttl 10 s, rebalanceWait 2 s); quick: shorter, to finish sooner.
  return quick
    ? { tasks: 2_000, workers: 5, ttl: 3, rebalanceWait: 500 }
    : { tasks: 10_000, workers: 10, ttl: 10, rebalanceWait: 2_000 };
}

export interface FailoverResult {
  params: FailoverParams;
  kill: { ms: number; moved: number; leaseGoneMs: number; boundMs: number };
  drain: { ms: number; moved: number; keyGoneMs: number; boundMs: number };
}

export async function benchWorkerFailover(cfg: BenchConfig, p: FailoverParams): Promise<FailoverResult> {
  const root = benchRoot('failover');
  const k = keys(root);
  const admin = etcdStore(cfg.endpoints);
  const stores: EtcdStore[] = [];
  const workers: Worker[] = [];
  /** task id → starts (worker, time) */
  const starts = new Map<string, Array<{ worker: string; at: number }>>();
  let master: Master | undefined;
  let victim: Child | undefined;
  try {
    await skipBarrier(admin, root);
    const common = { rootName: root, maxNumNodes: p.workers + 1, ttl: p.ttl };
    victim = new Child('worker', { endpoints: cfg.endpoints, root, name: 'victim', ...common, ttl: p.ttl });
    for (let i = 1; i < p.workers; i++) {
      const store = etcdStore(cfg.endpoints);
      stores.push(store);
      const name = `w${i}`;
      workers.push(
        new Worker({
          ...common,
          store,
          name,
          metrics: new PrometheusMetrics(),
          run: (task, { signal }) => {
            const list = starts.get(task.id) ?? [];
            list.push({ worker: name, at: now() });
            starts.set(task.id, list);
            return new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve()));
          },
        }),
      );
    }
    await Promise.all([victim.next('registered', 60_000), ...workers.map((w) => w.start())]);
    const masterStore = etcdStore(cfg.endpoints);
    stores.push(masterStore);
    const tasks = makeTasks(p.tasks);
    master = new Master({
      ...common,
      store: masterStore,
      name: 'bench-master',
      metrics: new PrometheusMetrics(),
      rebalanceWait: p.rebalanceWait,
      interval: 3_600_000,
      generator: () => tasks,
    });
    const schedules: Array<{ at: number; durationMs: number; reason: string }> = [];
    master.on('schedule', (r) => schedules.push({ at: now(), durationMs: r.durationMs, reason: r.reason }));
    /** The first schedule that ended after t: when it ended (ms after t) and how long it took. */
    const scheduleAfter = (t: number) => {
      const s = schedules.find((x) => x.at > t);
      return s ? { scheduleEndMs: round(s.at - t), scheduleMs: s.durationMs } : {};
    };
    master.start();
    const running = () => workers.reduce((n, w) => n + w.runningTasks().length, 0);
    await waitUntil(
      `all ${p.tasks} tasks running`,
      () => ((victim!.last('running')?.n as number | undefined) ?? 0) + running() === p.tasks,
      120_000,
      10,
    );

    // -- kill --------------------------------------------------------------------------------------
    const victimTasks = await tasksOf(admin, k.workerTasks('victim'));
    let leaseGone = 0;
    const t0 = now();
    await victim.kill();
    const watchGone = waitUntil(
      'victim key gone',
      async () => !(await admin.get(k.worker('victim'))),
      60_000,
      20,
    ).then(() => {
      leaseGone = now();
    });
    const killEnd = await movedAt(starts, victimTasks, t0, 'victim', (p.ttl * 1000 + p.rebalanceWait) * 3);
    await watchGone;
    const bound = p.ttl * 1000 + p.rebalanceWait;
    const kill = {
      ms: round(killEnd - t0),
      moved: victimTasks.length,
      leaseGoneMs: round(leaseGone - t0),
      boundMs: bound,
    };
    emit('failover.workerKilled', { ...kill, ...scheduleAfter(t0), ...p, targetMs: bound + 1000 });

    // -- drain -------------------------------------------------------------------------------------
    const drained = workers[0];
    const drainedTasks = await tasksOf(admin, k.workerTasks(drained.name));
    const t1 = now();
    const stopping = drained.stop();
    let keyGone = 0;
    const drainGone = waitUntil(
      'drained key gone',
      async () => !(await admin.get(k.worker(drained.name))),
      30_000,
      10,
    ).then(() => {
      keyGone = now();
    });
    const drainEnd = await movedAt(starts, drainedTasks, t1, drained.name, (p.rebalanceWait + 5_000) * 3);
    await stopping;
    await drainGone;
    const drain = {
      ms: round(drainEnd - t1),
      moved: drainedTasks.length,
      keyGoneMs: round(keyGone - t1),
      boundMs: p.rebalanceWait,
    };
    emit('failover.workerDrained', { ...drain, ...scheduleAfter(t1), ...p, targetMs: p.rebalanceWait + 500 });
    return { params: p, kill, drain };
  } finally {
    note('failover: stopping the fleet');
    await victim?.kill();
    await master?.stop().catch(() => undefined);
    await Promise.allSettled(workers.map((w) => w.stop()));
    await cleanRoot(admin, root);
    await Promise.allSettled([...stores, admin].map((s) => s.close()));
  }
}

async function tasksOf(store: EtcdStore, prefix: string): Promise<string[]> {
  const res = await store.range(prefix, { prefix: true, keysOnly: true });
  if (res.kvs.length === 0) throw new Error(`failover bench: no tasks under ${prefix}`);
  return res.kvs.map((kv) => kv.key.slice(prefix.length));
}

/** Waits until each of `ids` started on a worker other than `from` after `t0`; returns the last such start. */
async function movedAt(
  starts: Map<string, Array<{ worker: string; at: number }>>,
  ids: string[],
  t0: number,
  from: string,
  timeoutMs: number,
): Promise<number> {
  let last = 0;
  await waitUntil(
    `${ids.length} tasks of ${from} running elsewhere`,
    () => {
      last = 0;
      for (const id of ids) {
        const s = starts.get(id)?.find((x) => x.at > t0 && x.worker !== from);
        if (!s) return false;
        last = Math.max(last, s.at);
      }
      return true;
    },
    timeoutMs,
  );
  return last;
}

export interface MasterFailoverResult {
  ms: number;
  electedMs: number;
  boundMs: number;
  scheduleMs: number;
}

export async function benchMasterFailover(
  cfg: BenchConfig,
  p: FailoverParams,
): Promise<MasterFailoverResult> {
  const root = benchRoot('master-failover');
  const k = keys(root);
  const admin = etcdStore(cfg.endpoints);
  const store = etcdStore(cfg.endpoints);
  let leader: Child | undefined;
  let standby: Master | undefined;
  const revoke = await fakeWorkers(
    admin,
    root,
    Array.from({ length: p.workers }, (_, i) => `w${i}`),
  );
  try {
    await skipBarrier(admin, root);
    const common = { rootName: root, maxNumNodes: p.workers + 1, ttl: p.ttl };
    leader = new Child('master', {
      endpoints: cfg.endpoints,
      root,
      name: 'leader',
      tasks: p.tasks,
      ...common,
      rebalanceWait: p.rebalanceWait,
    });
    await leader.next('schedule', 60_000);
    const tasks = makeTasks(p.tasks);
    standby = new Master({
      ...common,
      store,
      name: 'standby',
      metrics: new PrometheusMetrics(),
      rebalanceWait: p.rebalanceWait,
      interval: 3_600_000,
      generator: () => tasks,
    });
    let elected = 0;
    standby.on('elected', () => {
      elected = now();
    });
    const scheduled = new Promise<{ at: number; durationMs: number }>((resolve) =>
      standby!.once('schedule', (r) => resolve({ at: now(), durationMs: r.durationMs })),
    );
    standby.start();
    await waitUntil(
      'the standby campaigning',
      async () => (await admin.range(`${k.election}/`, { prefix: true, countOnly: true })).count >= 2,
      30_000,
      20,
    );
    const t0 = now();
    await leader.kill();
    const s = await scheduled;
    const result = {
      ms: round(s.at - t0),
      electedMs: round(elected - t0),
      boundMs: p.ttl * 1000,
      scheduleMs: s.durationMs,
    };
    emit('failover.masterKilled', { ...result, ...p, targetMs: p.ttl * 1000 + 1000 });
    return result;
  } finally {
    await leader?.kill();
    await standby?.stop().catch(() => undefined);
    await revoke().catch(() => undefined);
    await cleanRoot(admin, root);
    await Promise.allSettled([store.close(), admin.close()]);
  }
}
