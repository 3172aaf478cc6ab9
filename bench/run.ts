/**
 * `npm run bench`: the end-to-end benchmarks of issue 7 in one run, against an etcd of their own (one
 * member on free loopback ports, fsync on as in a real deployment). One JSON line per measurement on
 * stdout, then a summary table; progress on stderr. Every process it starts (etcd, bench children, the
 * planner benchmark) is stopped by pid, also on failure, on Ctrl-C and at the overall deadline.
 *
 * Usage: npm run bench [-- --quick] [--no-fsync] [--only commit,latency,failover,master,footprint,rolling,planner]
 *
 * See BENCHMARKS.md for what each measurement times and the latest figures.
 */
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, freemem, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { type EtcdCluster, etcdBinary, startEtcd } from '../test/helpers/etcd.js';
import { benchCommit, type CommitResult } from './commit.js';
import {
  benchMasterFailover,
  benchWorkerFailover,
  type FailoverResult,
  failoverParams,
  type MasterFailoverResult,
} from './failover.js';
import { benchFootprint, type FootprintResult } from './footprint.js';
import { benchLatency, type LatencyResult } from './latency.js';
import { BENCH_DIR, type BenchConfig, bundleChild, emit, killChildren, note, round } from './lib.js';
import { benchRolling, type RollingResult } from './rolling.js';

const ALL = ['commit', 'latency', 'failover', 'master', 'footprint', 'rolling', 'planner'] as const;
type Part = (typeof ALL)[number];

const argv = process.argv.slice(2);
const quick = argv.includes('--quick');
const fsync = !argv.includes('--no-fsync');
function flagValue(name: string): string | undefined {
  const i = argv.findIndex((a) => a === name || a.startsWith(`${name}=`));
  if (i < 0) return undefined;
  return argv[i].includes('=') ? argv[i].slice(name.length + 1) : argv[i + 1];
}
const only = new Set((flagValue('--only') ?? ALL.join(',')).split(',').map((s) => s.trim()));
for (const p of only) {
  if (!(ALL as readonly string[]).includes(p)) {
    console.error(`bench: unknown part ${JSON.stringify(p)} in --only; expected some of ${ALL.join(',')}`);
    process.exit(2);
  }
}
/** The whole run must end within this (then every process is stopped and the run fails). */
const DEADLINE_MS = quick ? 6 * 60_000 : 15 * 60_000;

interface Row {
  measurement: string;
  figure: string;
  target: string;
  met: boolean | undefined;
}
const rows: Row[] = [];
const failures: string[] = [];

function row(measurement: string, figure: string, target: string, met?: boolean): void {
  rows.push({ measurement, figure, target, met });
}

async function part<T>(name: Part, fn: () => Promise<T>): Promise<T | undefined> {
  if (!only.has(name)) return undefined;
  const t0 = Date.now();
  note(`${name}: start`);
  try {
    const r = await fn();
    note(`${name}: done in ${round((Date.now() - t0) / 1000)} s`);
    return r;
  } catch (err) {
    const msg = (err as Error)?.stack ?? String(err);
    failures.push(`${name}: ${(err as Error)?.message ?? String(err)}`);
    emit(name, { error: (err as Error)?.message ?? String(err) });
    note(`${name}: FAILED\n${msg}`);
    return undefined;
  }
}

function machine(): Record<string, unknown> {
  let etcdVersion = 'unknown';
  try {
    etcdVersion =
      /etcd Version: (\S+)/.exec(execFileSync(etcdBinary(), ['--version'], { encoding: 'utf8' }))?.[1] ?? '?';
  } catch {
    etcdVersion = 'not found';
  }
  let disk = '';
  try {
    disk = execFileSync('sh', ['-c', 'df -h --output=source,fstype /tmp | tail -1'], {
      encoding: 'utf8',
    }).trim();
  } catch {
    disk = '?';
  }
  return {
    nproc: cpus().length,
    cpu: cpus()[0]?.model,
    memoryGB: round(totalmem() / 2 ** 30, 1),
    freeMemoryGB: round(freemem() / 2 ** 30, 1),
    node: process.version,
    etcd: etcdVersion,
    etcdDataDir: `tmpdir (${disk})`,
    fsync,
    quick,
    loadavg: loadavg().map((x) => round(x, 2)),
  };
}

/** Runs `npm run bench:planner` (the planner helper's benchmark) and passes its JSON lines through. */
async function planner(): Promise<Array<Record<string, unknown>>> {
  const pkg = JSON.parse(readFileSync(join(BENCH_DIR, '..', 'package.json'), 'utf8')) as {
    scripts?: Record<string, string>;
  };
  if (!pkg.scripts?.['bench:planner']) throw new Error('package.json has no bench:planner script');
  const child = spawn('npm', ['run', '-s', 'bench:planner', '--', ...(quick ? ['--quick'] : [])], {
    cwd: join(BENCH_DIR, '..'),
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true, // its own process group: npm and the node under it are stopped together, by pid
  });
  const summaries: Array<Record<string, unknown>> = [];
  let buf = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => {
    buf += d.toString();
    for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
      const line = buf.slice(0, nl).trim();
      buf = buf.slice(nl + 1);
      if (!line.startsWith('{')) continue;
      try {
        const o = JSON.parse(line) as Record<string, unknown>;
        emit('planner', o);
        if (o.summary !== undefined) summaries.push(o);
      } catch {
        note(`planner: not JSON: ${line.slice(0, 200)}`);
      }
    }
  });
  child.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-5_000);
  });
  const stopGroup = () => {
    try {
      if (child.pid) process.kill(-child.pid, 'SIGKILL');
    } catch {
      // already exited
    }
  };
  process.on('exit', stopGroup);
  const timeoutMs = quick ? 120_000 : 300_000;
  const code = await new Promise<number | null>((resolve) => {
    const t = setTimeout(() => {
      note(`planner: no end after ${timeoutMs} ms; stopping it`);
      stopGroup();
    }, timeoutMs);
    child.once('exit', (c) => {
      clearTimeout(t);
      resolve(c);
    });
  });
  process.off('exit', stopGroup);
  if (code !== 0) throw new Error(`bench:planner exited with ${code}: ${stderr.slice(-1_000)}`);
  return summaries;
}

function summarize(
  commit?: CommitResult,
  latency?: LatencyResult,
  failover?: FailoverResult,
  master?: MasterFailoverResult,
  footprint?: FootprintResult,
  plannerSummaries?: Array<Record<string, unknown>>,
  rolling?: RollingResult,
): void {
  if (commit) {
    const e = commit.escheduler;
    row(
      `commit ${commit.tasks} tasks → 10 workers (median of ${commit.runs})`,
      `escheduler writes ${e.writeMs} ms in ${e.txns} fenced txns; floor ${commit.floorMs} ms; one Put per task ${commit.onePutPerTaskMs} ms`,
      '',
    );
    row('  commit vs floor', `${commit.vsFloor}×`, '≤ 1.3×', commit.vsFloor <= 1.3);
    row(
      '  commit vs one Put per task',
      `${commit.speedupVsOriginal}× faster`,
      '≥ 10×',
      commit.speedupVsOriginal >= 10,
    );
    row(
      '  whole schedule after the generator vs floor',
      `${e.afterGeneratorMs} ms = ${commit.scheduleVsFloor}× floor (validate, read, plan, write, status)`,
      '(info)',
    );
  }
  if (latency) {
    row(
      `assign → run, ${latency.tasks} tasks / ${latency.workers} workers`,
      `p50 ${latency.p50Ms} ms, p99 ${latency.p99Ms} ms, max ${latency.maxMs} ms`,
      'p99 < 50 ms',
      latency.p99Ms < 50,
    );
    row(
      '  all running',
      `${latency.allRunningFromFirstCommitMs} ms after the first commit (${latency.allRunningFromScheduleMs} ms after the schedule began; writes ${latency.writeMs} ms)`,
      '< 2000 ms',
      latency.allRunningFromFirstCommitMs < 2_000,
    );
  }
  if (failover) {
    const p = failover.params;
    row(
      `worker SIGKILLed (${failover.kill.moved} tasks, ttl ${p.ttl} s, rebalanceWait ${p.rebalanceWait} ms)`,
      `${failover.kill.ms} ms (lease gone after ${failover.kill.leaseGoneMs} ms)`,
      `≤ ${failover.kill.boundMs + 1000} ms`,
      failover.kill.ms <= failover.kill.boundMs + 1000,
    );
    row(
      `worker drained by stop() (${failover.drain.moved} tasks)`,
      `${failover.drain.ms} ms (worker key gone after ${failover.drain.keyGoneMs} ms)`,
      `≤ ${p.rebalanceWait + 500} ms`,
      failover.drain.ms <= p.rebalanceWait + 500,
    );
  }
  if (master) {
    row(
      'master SIGKILLed → next schedule by the new leader',
      `${master.ms} ms (elected after ${master.electedMs} ms, schedule ${master.scheduleMs} ms)`,
      `≤ ${master.boundMs + 1000} ms`,
      master.ms <= master.boundMs + 1000,
    );
  }
  if (footprint) {
    const m = footprint.master;
    const w = footprint.worker;
    row(
      `master holding ${m.tasks} tasks (own process)`,
      `RSS ${m.rssMB} MB (peak ${m.maxRssMB}, baseline ${m.baselineRssMB}); CPU ${m.cpuMs} ms for 2 schedules`,
      '< 300 MB',
      m.rssMB < 300,
    );
    row(
      `worker holding ${w.tasks} tasks (own process)`,
      `RSS ${w.rssMB} MB (peak ${w.maxRssMB}, baseline ${w.baselineRssMB}); CPU ${w.cpuMs} ms until all ran`,
      '< 150 MB',
      w.rssMB < 150,
    );
  }
  if (rolling) {
    const g = rolling.grace;
    const d = rolling.drain;
    row(
      `rolling restart: ${rolling.workers} escheduler run × ${rolling.tasks} tasks, each back ~${rolling.downtimeMs / 1000} s after exit`,
      `model (no grace): ours ${rolling.modelOurs} moves, original ${rolling.modelOriginal}`,
      '(info)',
    );
    row(
      '  with --restart-grace 30s',
      `${g.moves} moves (${g.deletes} task keys deleted); gap p50 ${g.gapP50Ms} ms, max ${g.gapMaxMs} ms; worst gap − downtime ${g.maxOverDowntimeMs} ms (downtime p50 ${g.downtimeP50Ms} ms); two owners: ${g.twoOwners}`,
      '0 moves, gap ≤ downtime + 1 s, checker clean',
      g.moves === 0 && g.deletes === 0 && (g.maxOverDowntimeMs ?? 0) <= 1_000 && g.twoOwners === 0,
    );
    row(
      '  without (SIGTERM drains)',
      `${d.moves} moves (${d.deletes} task keys deleted); gap p50 ${d.gapP50Ms} ms, max ${d.gapMaxMs} ms; two owners: ${d.twoOwners}`,
      '(comparison)',
    );
  }
  for (const s of plannerSummaries ?? []) {
    row(
      `planner ${String(s.summary)} (${String(s.cases)} cases)`,
      `moves ours ${String(s.movesEscheduler)} / original ${String(s.movesOriginal)} (lower bound ${String(
        s.lowerBound,
      )}); worst max−min ${String(s.worstMaxMinTotalEscheduler)} vs ${String(
        s.worstMaxMinTotalOriginal,
      )}; worst plan ${String(s.worstPlanMsMedianEscheduler)} ms`,
      '(info)',
    );
  }
  for (const f of failures) row('FAILED', f.slice(0, 200), '', false);

  const verdict = (r: Row) => (r.met === undefined ? '' : r.met ? 'met' : 'MISSED');
  const w0 = Math.max(...rows.map((r) => r.measurement.length), 11);
  const w2 = Math.max(...rows.map((r) => r.target.length), 6);
  const lines = [
    `${'measurement'.padEnd(w0)} | ${'target'.padEnd(w2)} | result | figure`,
    `${'-'.repeat(w0)}-|-${'-'.repeat(w2)}-|--------|-------`,
    ...rows.map(
      (r) => `${r.measurement.padEnd(w0)} | ${r.target.padEnd(w2)} | ${verdict(r).padEnd(6)} | ${r.figure}`,
    ),
  ];
  process.stdout.write(`\n${lines.join('\n')}\n`);
}

async function main(): Promise<void> {
  const deadline = setTimeout(() => {
    note(`the run passed its deadline of ${DEADLINE_MS / 60_000} min: stopping everything`);
    process.exit(3); // exit handlers stop etcd and every child by pid
  }, DEADLINE_MS);
  deadline.unref();
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      note(`${sig}: stopping everything`);
      process.exit(130);
    });
  }
  emit('machine', machine());
  const needsEtcd = [...only].some((p) => p !== 'planner');
  let etcd: EtcdCluster | undefined;
  try {
    if (needsEtcd) {
      etcd = await startEtcd({ fsync });
      note(`etcd pid ${etcd.members[0].pid} at ${etcd.endpoints.join(',')} (fsync ${fsync ? 'on' : 'off'})`);
    }
    const cfg: BenchConfig = { endpoints: etcd?.endpoints ?? [], quick, fsync };
    if (only.has('failover') || only.has('master') || only.has('footprint')) await bundleChild();
    const commit = await part('commit', () => benchCommit(cfg));
    const latency = await part('latency', () => benchLatency(cfg));
    const failover = await part('failover', () => benchWorkerFailover(cfg, failoverParams(quick)));
    const master = await part('master', () => benchMasterFailover(cfg, failoverParams(quick)));
    const footprint = await part('footprint', () => benchFootprint(cfg));
    const rolling = await part('rolling', () => benchRolling(cfg));
    const plannerSummaries = await part('planner', planner);
    emit('machine.end', { loadavg: loadavg().map((x) => round(x, 2)) });
    summarize(commit, latency, failover, master, footprint, plannerSummaries, rolling);
  } finally {
    killChildren();
    await etcd?.destroy();
  }
  process.exitCode = failures.length > 0 ? 1 : 0;
}

await main();
