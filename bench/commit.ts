/**
 * Benchmark 1, Commit: the first assignment of 10k tasks to 10 workers through the master's real fenced,
 * batched write path, against (a) one Put per task in priority order (the original's way) and (b) the
 * same keys in unfenced 128-op txns (etcd's floor on this machine).
 *
 * What is timed, from outside the library (a store wrapper timestamps every txn):
 * - `writeMs`: from the start of the master's first txn that writes a task key to the end of its last one
 *   (its fenced txns, one after another, as the master's `writeBatches` sends them);
 * - `afterGeneratorMs`: from the generator's return to the end of the status write (validation,
 *   reading the current assignment, planning, encoding, writing, status);
 * - `scheduleMs`: the master's own `ScheduleReport.durationMs` (reads workers, generator, all the above).
 * The floor replays exactly the master's put ops (same keys under a fresh root, same values, same order)
 * in unfenced txns of 128; the original's way puts them one by one in the same (priority) order.
 */
import { keys } from '../src/scheduler/keys.js';
import { Master, type ScheduleReport } from '../src/scheduler/master.js';
import { PrometheusMetrics } from '../src/scheduler/prometheus.js';
import type { Op, Store } from '../src/store/port.js';
import {
  type BenchConfig,
  benchRoot,
  cleanRoot,
  emit,
  etcdStore,
  fakeWorkers,
  makeTasks,
  median,
  note,
  now,
  round,
  skipBarrier,
  type TxnTiming,
  timedStore,
} from './lib.js';

const TASKS = 10_000;
const WORKERS = 10;

export interface CommitResult {
  tasks: number;
  runs: number;
  escheduler: { writeMs: number; afterGeneratorMs: number; scheduleMs: number; txns: number };
  floorMs: number;
  onePutPerTaskMs: number;
  /** writeMs / floorMs */
  vsFloor: number;
  /** onePutPerTaskMs / writeMs */
  speedupVsOriginal: number;
  /** afterGeneratorMs / floorMs */
  scheduleVsFloor: number;
}

export async function benchCommit(cfg: BenchConfig): Promise<CommitResult> {
  const runs = cfg.quick ? 3 : 5;
  const originalRuns = cfg.quick ? 1 : 3;
  const store = etcdStore(cfg.endpoints);
  const tasks = makeTasks(TASKS);
  const samples = { write: [] as number[], after: [] as number[], schedule: [] as number[], txns: 0 };
  const floor: number[] = [];
  const original: number[] = [];
  try {
    for (let run = 0; run < runs; run++) {
      const m = await masterFirstSchedule(store, tasks);
      samples.write.push(m.writeMs);
      samples.after.push(m.afterGeneratorMs);
      samples.schedule.push(m.report.durationMs);
      samples.txns = m.report.txns;
      emit('commit.escheduler', {
        run,
        tasks: TASKS,
        workers: WORKERS,
        writeMs: round(m.writeMs),
        afterGeneratorMs: round(m.afterGeneratorMs),
        scheduleMs: m.report.durationMs,
        txns: m.report.txns,
        taskTxns: m.taskTxns,
        assigned: m.report.assigned,
      });

      const f = await replay(store, m.puts, 'txn128');
      floor.push(f);
      emit('commit.floor', { run, tasks: m.puts.length, ms: round(f), txns: Math.ceil(m.puts.length / 128) });

      if (run < originalRuns) {
        const o = await replay(store, m.puts, 'put');
        original.push(o);
        emit('commit.onePutPerTask', { run, tasks: m.puts.length, ms: round(o), puts: m.puts.length });
      }
    }
  } finally {
    await store.close();
  }
  const writeMs = median(samples.write);
  const floorMs = median(floor);
  const onePutPerTaskMs = median(original);
  const afterGeneratorMs = median(samples.after);
  const result: CommitResult = {
    tasks: TASKS,
    runs,
    escheduler: {
      writeMs: round(writeMs),
      afterGeneratorMs: round(afterGeneratorMs),
      scheduleMs: round(median(samples.schedule)),
      txns: samples.txns,
    },
    floorMs: round(floorMs),
    onePutPerTaskMs: round(onePutPerTaskMs),
    vsFloor: round(writeMs / floorMs, 2),
    speedupVsOriginal: round(onePutPerTaskMs / writeMs, 1),
    scheduleVsFloor: round(afterGeneratorMs / floorMs, 2),
  };
  emit('commit', { ...result, median: true, originalRuns });
  return result;
}

interface MasterRun {
  report: ScheduleReport;
  writeMs: number;
  afterGeneratorMs: number;
  taskTxns: number;
  /** The master's put ops on task keys, in the order it sent them. */
  puts: Array<{ key: string; value: string; root: string }>;
}

async function masterFirstSchedule(store: Store, tasks: ReturnType<typeof makeTasks>): Promise<MasterRun> {
  const root = benchRoot('commit');
  const k = keys(root);
  const workers = Array.from({ length: WORKERS }, (_, i) => `w${i}`);
  const revoke = await fakeWorkers(store, root, workers);
  await skipBarrier(store, root);
  const txns: TxnTiming[] = [];
  let generatorReturned = 0;
  const master = new Master({
    store: timedStore(store, (t) => txns.push(t)),
    rootName: root,
    name: 'bench-master',
    maxNumNodes: WORKERS + 1,
    metrics: new PrometheusMetrics(),
    interval: 3_600_000,
    generator: () => {
      generatorReturned = now();
      return tasks;
    },
  });
  try {
    const report = await new Promise<ScheduleReport>((resolve, reject) => {
      master.once('schedule', resolve);
      master.once('error', ({ error }) => reject(error));
      master.start();
    });
    if (report.result !== 'ok' || report.assigned !== tasks.length) {
      throw new Error(`commit bench: unexpected first schedule ${JSON.stringify(report)}`);
    }
    const taskTxns = txns.filter((t) => t.request.success.some((op) => op.key.startsWith(k.taskPrefix)));
    const status = txns.find((t) => t.request.success.some((op) => op.key === k.masterStatus));
    if (!status || taskTxns.length === 0) throw new Error('commit bench: no task or status txn seen');
    const puts = taskTxns.flatMap((t) =>
      t.request.success.flatMap((op: Op) =>
        op.type === 'put' ? [{ key: op.key.slice(k.root.length), value: op.value, root }] : [],
      ),
    );
    return {
      report,
      writeMs: taskTxns[taskTxns.length - 1].end - taskTxns[0].start,
      afterGeneratorMs: status.end - generatorReturned,
      taskTxns: taskTxns.length,
      puts,
    };
  } finally {
    await master.stop();
    await revoke();
    await cleanRoot(store, root);
  }
}

/** Writes the same relative keys and values under a fresh root: one Put each, or unfenced 128-op txns. */
async function replay(
  store: Store,
  puts: Array<{ key: string; value: string }>,
  how: 'put' | 'txn128',
): Promise<number> {
  const root = keys(benchRoot(`commit-${how}`)).root;
  const t0 = now();
  if (how === 'put') {
    for (const p of puts) await store.put(root + p.key, p.value);
  } else {
    for (let i = 0; i < puts.length; i += 128) {
      const success: Op[] = puts
        .slice(i, i + 128)
        .map((p) => ({ type: 'put', key: root + p.key, value: p.value }));
      const res = await store.txn({ compare: [], success });
      if (!res.succeeded) throw new Error('commit bench: an unconditional txn failed');
    }
  }
  const ms = now() - t0;
  await store.delete(`${root}/`, { prefix: true });
  note(`commit ${how}: ${puts.length} keys in ${round(ms)} ms`);
  return ms;
}
