/**
 * `npm run bench:scale`: how the cost grows with the fleet, measured as a curve (issue 17). For each point
 * (T tasks, W workers) — 1k×10, 10k×100, 100k×1k, and 1M×10k without `--quick` — on an etcd of its own
 * (fsync on, auto-compaction on, quota raised to 8 GiB as a user of a large fleet would):
 *
 * - W workers: W − S as lease-bound keys (the master only reads them), S real `Worker`s that claim and run;
 * - a master in a child process (`bench/child.ts`, bundled): its first assignment (schedule time and the
 *   time of its task-writing txns) against the floor — the same puts in unfenced 128-op txns on a fresh
 *   root —, then no-change schedules (time, and reads under `/<root>/task/` counted by a store wrapper in
 *   the child: the watch-fed view makes them 0), a join and a leave (time, moves), its RSS;
 * - etcd's DB size (total and in use, from its /metrics) after the point;
 * - the planner alone in a process of its own (`bench/scale-planner.ts`): first, no-change, join and leave
 *   plans against a dealing pass.
 *
 * One JSON line per point on stdout and in docs/bench-scale.jsonl, charts (log–log SVG) in
 * docs/bench-scale-time.svg and docs/bench-scale-size.svg, a Markdown table on stdout. Every process it
 * started (etcd, the master child, the planner child) is stopped by pid, also on failure and at the
 * deadline (10 min with `--quick`, 60 min without).
 *
 * Usage: npm run bench:scale [-- --quick] [--points=1000x10,10000x100] [--master-flags='--max-semi-space-size=64']
 *        [--tag=name]   (results in docs/bench-scale-name.jsonl and -time/-size.svg instead)
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { keys } from '../src/scheduler/keys.js';
import { Worker } from '../src/scheduler/worker.js';
import type { Op, Store } from '../src/store/port.js';
import { encodeTask } from '../src/task.js';
import { type EtcdCluster, startEtcd } from '../test/helpers/etcd.js';
import {
  BENCH_DIR,
  benchRoot,
  bundleChild,
  Child,
  deleteLarge,
  etcdStore,
  killChildren,
  makeTasks,
  median,
  note,
  now,
  round,
  skipBarrier,
} from './lib.js';
import { charts, markdownTable, type ScalePoint } from './scale-report.js';

const argv = process.argv.slice(2);
const quick = argv.includes('--quick');
const pointsFlag = argv.find((a) => a.startsWith('--points='))?.slice('--points='.length);
const POINTS: [number, number][] = pointsFlag
  ? pointsFlag.split(',').map((p) => p.split('x').map(Number) as [number, number])
  : [
      [1_000, 10],
      [10_000, 100],
      [100_000, 1_000],
      ...(quick ? [] : ([[1_000_000, 10_000]] as [number, number][])),
    ];
const DEADLINE_MS = quick ? 10 * 60_000 : 60 * 60_000;
/**
 * Node flags of the master's process (`--master-flags='--max-semi-space-size=64'`: the larger young
 * generation docs/OPERATIONS.md discusses); by default none.
 */
const MASTER_FLAGS = (
  argv.find((a) => a.startsWith('--master-flags='))?.slice('--master-flags='.length) ?? ''
)
  .split(' ')
  .filter((f) => f.length > 0);
/** `--tag=x`: results go to docs/bench-scale-x.jsonl (and its charts), beside the default run's. */
const TAG = argv.find((a) => a.startsWith('--tag='))?.slice('--tag='.length);
const OUT = TAG ? `bench-scale-${TAG.replace(/[^a-z0-9-]/gi, '_')}` : 'bench-scale';
/** Real workers per point (the others are keys). */
const SAMPLE = 2;
const DOCS = join(BENCH_DIR, '..', 'docs');

let etcd: EtcdCluster | undefined;
const planners = new Set<number>();
function stopAll(): void {
  killChildren();
  for (const pid of planners) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  void etcd?.destroy();
}

/** Registers worker keys under one lease, 128 per txn. Returns the lease. */
async function workerKeys(store: Store, root: string, names: string[]): Promise<string> {
  const k = keys(root);
  const lease = await store.grantLease(3_600);
  for (let i = 0; i < names.length; i += 128) {
    const success: Op[] = names
      .slice(i, i + 128)
      .map((n) => ({ type: 'put', key: k.worker(n), value: 'running', lease: lease.id }));
    await store.txn({ compare: [], success });
  }
  return lease.id;
}

/** The floor: the first assignment's puts (same keys and values, dealt over W workers) in unfenced 128-op txns. */
async function floorMs(store: Store, T: number, W: number): Promise<number> {
  const root = benchRoot('scale-floor');
  const k = keys(root);
  const tasks = makeTasks(T);
  const t0 = now();
  for (let i = 0; i < T; i += 128) {
    const success: Op[] = [];
    for (let j = i; j < Math.min(T, i + 128); j++) {
      success.push({ type: 'put', key: k.task(`w${j % W}`, tasks[j].id), value: encodeTask(tasks[j]) });
    }
    await store.txn({ compare: [], success });
  }
  const ms = now() - t0;
  await deleteLarge(store, `${k.root}/`);
  return ms;
}

/** etcd's DB size (total and in use), MB, from its /metrics. */
async function dbSize(endpoint: string): Promise<{ dbMB: number; dbInUseMB: number }> {
  const text = await (await fetch(`http://${endpoint}/metrics`)).text();
  const metric = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? Number.NaN);
  return {
    dbMB: round(metric('etcd_mvcc_db_total_size_in_bytes') / 1048576),
    dbInUseMB: round(metric('etcd_mvcc_db_total_size_in_use_in_bytes') / 1048576),
  };
}

function plannerPoint(T: number, W: number): Promise<Record<string, number>> {
  const runs = T >= 1_000_000 ? 2 : 3;
  const proc = spawn(
    process.execPath,
    [
      '--expose-gc',
      '--import',
      'tsx',
      join(BENCH_DIR, 'scale-planner.ts'),
      String(T),
      String(W),
      String(runs),
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  if (proc.pid) planners.add(proc.pid);
  let out = '';
  proc.stdout.on('data', (d: Buffer) => {
    out += d.toString();
  });
  return new Promise((resolve, reject) => {
    proc.once('exit', (code) => {
      if (proc.pid) planners.delete(proc.pid);
      if (code === 0) resolve(JSON.parse(out));
      else reject(new Error(`planner ${T}x${W} exited with ${code}`));
    });
  });
}

async function point(endpoints: string[], T: number, W: number): Promise<ScalePoint> {
  const admin = etcdStore(endpoints);
  const root = benchRoot(`scale-${T}`);
  const k = keys(root);
  const timeout = Math.max(120_000, T / 2); // 1M tasks: up to ~8 min for one schedule on a loaded machine
  const sample: Worker[] = [];
  let child: Child | undefined;
  try {
    await skipBarrier(admin, root);
    const names = Array.from({ length: W - SAMPLE }, (_, i) => `worker-${String(i).padStart(5, '0')}`);
    const lease = await workerKeys(admin, root, names);
    const running = new Map<string, number>();
    for (let s = 0; s < SAMPLE; s++) {
      const name = `real-${s}`;
      running.set(name, 0);
      const w = new Worker({
        store: etcdStore(endpoints),
        rootName: root,
        name,
        maxNumNodes: W + 2,
        ttl: 10,
        run: (_task, { signal }) =>
          new Promise<void>((resolve) => {
            running.set(name, (running.get(name) ?? 0) + 1);
            signal.addEventListener('abort', () => {
              running.set(name, (running.get(name) ?? 0) - 1);
              resolve();
            });
          }),
      });
      await w.start();
      sample.push(w);
    }
    child = new Child(
      'master',
      {
        endpoints,
        root,
        name: 'scale-master',
        tasks: T,
        maxNumNodes: W + 2,
        ttl: 10,
        rebalanceWait: 300,
        io: true,
      },
      MASTER_FLAGS,
    );
    const baseline = (await child.next('ready', 60_000)).footprint as Record<string, number>;
    const first = await child.next('schedule', timeout);
    const firstReport = first.report as Record<string, number>;
    const firstIo = first.io as Record<string, number>;
    if (firstReport.assigned !== T)
      throw new Error(`scale ${T}x${W}: first schedule ${JSON.stringify(firstReport)}`);
    const firstEnd = first.at as number;
    // The real workers claim and run their share.
    const sampleMs = await (async () => {
      for (;;) {
        let done = true;
        for (const [name, n] of running) {
          const held = (await admin.range(k.workerTasks(name), { prefix: true, countOnly: true })).count;
          if (held === 0 || n < held) done = false;
        }
        if (done) return Date.now() - firstEnd;
        if (Date.now() - firstEnd > timeout)
          throw new Error(`scale ${T}x${W}: sample workers never ran their share`);
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    const noChange: { ms: number; taskReads: number; reads: number; txns: number }[] = [];
    let last = first;
    for (let i = 0; i < 3; i++) {
      child.send({ type: 'schedule' });
      last = await child.next('schedule', timeout);
      const r = last.report as Record<string, number>;
      const io = last.io as Record<string, number>;
      noChange.push({ ms: r.durationMs, taskReads: io.taskReads, reads: io.reads, txns: r.txns });
    }
    await admin.put(k.worker('worker-joined'), 'running', { lease });
    const join = await child.next('schedule', timeout);
    await admin.delete(k.worker('worker-joined'));
    const leave = await child.next('schedule', timeout);
    child.send({ type: 'footprint' });
    const fp = (await child.next('footprint', 60_000)).footprint as Record<string, number>;
    const floor = await floorMs(admin, T, W);
    const db = await dbSize(endpoints[0]);
    const jr = join.report as Record<string, number>;
    const lr = leave.report as Record<string, number>;
    return {
      tasks: T,
      workers: W,
      firstScheduleMs: firstReport.durationMs,
      firstWriteMs: round(firstIo.writeMs),
      firstTxns: firstReport.txns,
      floorMs: round(floor),
      firstVsFloor: round(firstIo.writeMs / floor, 2),
      sampleRunningMs: sampleMs,
      noChangeMs: median(noChange.map((n) => n.ms)),
      noChangeTaskReads: Math.max(...noChange.map((n) => n.taskReads)),
      noChangeReads: Math.max(...noChange.map((n) => n.reads)),
      noChangeTxns: Math.max(...noChange.map((n) => n.txns)),
      joinMs: jr.durationMs,
      joinMoves: jr.moves,
      leaveMs: lr.durationMs,
      leaveMoves: lr.moves,
      masterRssMB: fp.rssMB,
      masterRssAfterGcMB: fp.rssAfterGcMB,
      masterMaxRssMB: fp.maxRssMB,
      masterBaselineRssMB: baseline.rssMB,
      masterFlags: MASTER_FLAGS.join(' '),
      bytesPerTask: Math.round(((fp.rssAfterGcMB - baseline.rssMB) * 1048576) / T),
      ...db,
      load: loadavg().map((x) => round(x, 2)),
    };
  } finally {
    await child?.kill();
    await Promise.allSettled(sample.map((w) => w.stop()));
    await deleteLarge(admin, `${k.root}/`).catch((err: unknown) => note(`cleaning ${k.root}/: ${err}`));
    await admin.close();
  }
}

async function main(): Promise<void> {
  const deadline = setTimeout(() => {
    note(`deadline of ${DEADLINE_MS / 60_000} min reached: stopping everything`);
    stopAll();
    process.exit(1);
  }, DEADLINE_MS);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.on(sig, () => {
      stopAll();
      process.exit(130);
    });
  }
  const points: ScalePoint[] = [];
  try {
    await bundleChild();
    etcd = await startEtcd({
      fsync: true,
      args: [
        '--quota-backend-bytes',
        String(8 * 1024 ** 3),
        '--auto-compaction-mode',
        'periodic',
        '--auto-compaction-retention',
        '1m',
      ],
    });
    note(
      `etcd on ${etcd.endpoints[0]} (fsync on, auto-compaction 1m, quota 8 GiB); points ${POINTS.map((p) => p.join('x')).join(', ')}`,
    );
    const lines: string[] = [];
    for (const [T, W] of POINTS) {
      note(`point ${T} tasks × ${W} workers: fleet`);
      const p = await point(etcd.endpoints, T, W);
      note(`point ${T} × ${W}: planner`);
      p.planner = await plannerPoint(T, W);
      points.push(p);
      const line = JSON.stringify({ bench: 'scale.point', quick, at: new Date().toISOString(), ...p });
      process.stdout.write(`${line}\n`);
      lines.push(line);
      writeFileSync(join(DOCS, `${OUT}.jsonl`), `${lines.join('\n')}\n`);
      // Charts after every point: a run stopped at its deadline still leaves the curve so far.
      const [time, size] = charts(points);
      writeFileSync(join(DOCS, `${OUT}-time.svg`), time);
      writeFileSync(join(DOCS, `${OUT}-size.svg`), size);
    }
    process.stdout.write(`\n${markdownTable(points)}\n`);
  } finally {
    clearTimeout(deadline);
    stopAll();
    await etcd?.destroy();
  }
}

main().catch((err: unknown) => {
  note(`bench:scale FAILED: ${(err as Error)?.stack ?? String(err)}`);
  stopAll();
  process.exit(1);
});
