/**
 * `npm run test:soak -- --minutes N` (issue 18): memory and resources of `escheduler run` processes over
 * time, on a 3-member etcd, under continuous churn. `--stable` processes (master candidate + worker, each
 * through its own TCP proxies) live for the whole run and are the ones judged; up to `--churn` more join,
 * drain (SIGTERM), die (SIGKILL) and come back; the task set changes; every `--master-every` the leading
 * master goes: SIGKILL when it is a churn process, a partition past the TTL (its proxies cut) when it is a
 * stable one. After each event, a bounded wait until every task runs exactly once again.
 *
 * Every process carries test/fixtures/soak-sampler.mjs (`node --expose-gc --import`): every `--sample`
 * it runs a full GC and writes RSS, heap used, event-loop delay, active handles and listener counts. At
 * the end: the invariant checker over the whole history, and per stable process the least-squares slope of
 * heap used after GC (after a warm-up), which must stay within `--bound` MiB per hour; no
 * MaxListenersExceededWarning anywhere. Prints JSON; writes the samples and an SVG plot to `--out`.
 * Exit code 1 on a violation, a missed recovery, a slope over the bound or a listener warning.
 *
 * Usage: npm run test:soak -- [--minutes 5] [--seed 1] [--stable 3] [--churn 3] [--tasks 24]
 *        [--sample 5] [--master-every 3] [--bound 12] [--out DIR]
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { mulberry32 } from '../src/util/random.js';
import { formatReport } from '../test/helpers/checker.js';
import {
  FaultFleet,
  LIVENESS_WITHIN,
  type Proc,
  REBALANCE_WAIT,
  sleep,
  TTL,
} from '../test/helpers/faults.js';
import {
  byProcess,
  judge,
  memorySvg,
  parseSamples,
  type Sample,
  type Verdict,
} from '../test/helpers/soak.js';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '5' },
    seed: { type: 'string', default: '1' },
    stable: { type: 'string', default: '3' },
    churn: { type: 'string', default: '3' },
    tasks: { type: 'string', default: '24' },
    sample: { type: 'string', default: '5' },
    'master-every': { type: 'string', default: '3' },
    bound: { type: 'string', default: '4' },
    out: { type: 'string' },
    analyze: { type: 'string' },
  },
});
const minutes = Number(values.minutes);
const seed = Number(values.seed);
const stableCount = Number(values.stable);
const churnMax = Number(values.churn);
const bound = Number(values.bound);
const masterEvery = Number(values['master-every']) * 60_000;
for (const [k, v] of Object.entries({ minutes, seed, stableCount, churnMax, bound, masterEvery })) {
  if (!Number.isFinite(v) || v < 0) {
    console.error(`soak: --${k} must be a non-negative number`);
    process.exit(2);
  }
}
const rand = mulberry32(seed);
const out = values.out ?? join(tmpdir(), `escheduler-soak-${Date.now()}`);
mkdirSync(out, { recursive: true });
const samplesFile = join(out, 'samples.jsonl');
writeFileSync(samplesFile, '');
const sampler = fileURLToPath(new URL('../test/fixtures/soak-sampler.mjs', import.meta.url));

function summary(v: Verdict) {
  return {
    warmupMs: v.warmupMs,
    heapSlopeBoundMiBPerHour: v.boundMiBPerHour,
    stable: v.judged,
    churnProcesses: {
      count: v.others.length,
      heapMaxMiB: Math.max(0, ...v.others.map((x) => x.heapMaxMiB)),
      listenersMax: Math.max(0, ...v.others.map((x) => x.listenersMax)),
    },
    overBound: v.overBound,
    maxListenerWarnings: v.maxListenerWarnings,
  };
}

function plot(samples: Sample[], v: Verdict): string {
  const names = new Set(v.judged.map((x) => x.name));
  const series = new Map([...byProcess(samples)].filter(([n]) => names.has(n)));
  return memorySvg(
    series,
    `escheduler run: heap used after GC and RSS, ${minutes}-minute soak, ${names.size} long-lived processes`,
  );
}

/** `--analyze samples.jsonl`: the verdict and the plot of an earlier run's samples, without a fleet. */
function analyze(file: string): number {
  const samples = parseSamples(readFileSync(file, 'utf8'));
  const verdict = judge(samples, minutes, bound);
  const svg = join(out, 'memory.svg');
  writeFileSync(svg, plot(samples, verdict));
  console.log(JSON.stringify({ samples: file, plot: svg, ...summary(verdict) }, null, 1));
  return verdict.overBound.length > 0 || verdict.maxListenerWarnings.length > 0 ? 1 : 0;
}

async function main(): Promise<number> {
  if (values.analyze) return analyze(values.analyze);
  const t0 = Date.now();
  const end = t0 + minutes * 60_000;
  const f = new FaultFleet({
    workers: stableCount,
    tasks: Number(values.tasks),
    proxied: true,
    nodeArgs: ['--expose-gc', '--import', sampler],
    env: { SOAK_SAMPLES: samplesFile, SOAK_SAMPLE_MS: String(Number(values.sample) * 1000) },
  });
  const stop = () => {
    void f.destroy().finally(() => process.exit(130));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const stable = new Set<string>();
  const churn: Proc[] = [];
  let taskSeq = Number(values.tasks);
  let missed = 0;
  const drains: number[] = [];
  try {
    await f.start();
    for (const p of f.procs) stable.add(p.name);
    await f.waitBalanced(Math.floor(Number(values.tasks) / stableCount) - 1);
    const liveChurn = () => churn.filter((p) => p.killedAt === undefined && p.cli.proc.exitCode === null);
    const pickChurn = () => {
      const live = liveChurn();
      return live.length > 0 ? live[Math.floor(rand() * live.length)] : undefined;
    };
    const joinOne = async () => {
      if (liveChurn().length >= churnMax) return false;
      churn.push(f.spawn());
      f.count('join');
      return true;
    };
    const drain = async () => {
      const p = pickChurn();
      if (!p) return joinOne();
      const from = Date.now();
      p.cli.kill('SIGTERM');
      await p.cli.wait(30_000);
      p.killedAt = Date.now();
      drains.push(p.killedAt - from);
      f.count('sigterm-drain');
      return true;
    };
    const kill = async (restart: boolean) => {
      const p = pickChurn();
      if (!p) return joinOne();
      p.killedAt = Date.now();
      p.cli.kill('SIGKILL');
      await p.cli.exited;
      f.count(restart ? 'sigkill-restart' : 'sigkill');
      if (restart) churn.push(f.spawn());
      return true;
    };
    const changeTasks = async () => {
      // Two new tasks, two of the oldest gone: the set changes, its size stays.
      const next = f.tasks.slice(2).concat([{ id: `t${taskSeq++}` }, { id: `t${taskSeq++}` }]);
      f.tasks = next;
      writeFileSync(f.tasksFile, JSON.stringify(next.map((t) => ({ id: t.id }))));
      f.count('task-set-change');
      // The master picks the file up at its next schedule (interval 5 s): wait for it to be planned.
      await sleep(REBALANCE_WAIT);
      return true;
    };
    const masterGoes = async () => {
      const leader = await f.leaderName();
      const p = f.live().find((x) => x.name === leader);
      if (!p) return false;
      if (!stable.has(p.name)) {
        p.killedAt = Date.now();
        p.cli.kill('SIGKILL');
        await p.cli.exited;
        f.count('sigkill-leader');
        return true;
      }
      for (const x of p.proxies ?? []) x.isolate();
      await sleep(TTL * 1000 + REBALANCE_WAIT + 500);
      for (const x of p.proxies ?? []) x.heal();
      f.count('partition-leader');
      return true;
    };
    let nextMaster = t0 + masterEvery;
    let events = 0;
    while (Date.now() < end) {
      let name: string;
      let fault: () => Promise<boolean>;
      if (masterEvery > 0 && Date.now() >= nextMaster) {
        nextMaster += masterEvery;
        [name, fault] = ['leader', masterGoes];
      } else {
        const r = rand();
        if (r < 0.25) [name, fault] = ['join', joinOne];
        else if (r < 0.45) [name, fault] = ['drain', drain];
        else if (r < 0.6) [name, fault] = ['sigkill', () => kill(false)];
        else if (r < 0.75) [name, fault] = ['restart', () => kill(true)];
        else [name, fault] = ['tasks', changeTasks];
      }
      await fault();
      events++;
      const healed = Date.now();
      try {
        const ms = await f.waitAllRunning(healed, name);
        if (ms > LIVENESS_WITHIN) {
          missed++;
          console.error(
            `# missed: every task ran again only ${ms} ms after a ${name} event (bound ${LIVENESS_WITHIN} ms)`,
          );
        }
      } catch (err) {
        missed++;
        console.error(String(err).slice(0, 2000));
      }
      await sleep(1_000 + Math.floor(rand() * 3_000));
      if (events % 20 === 0) {
        const m = Math.round((Date.now() - t0) / 6_000) / 10;
        console.error(`# ${m} min: ${events} events, ${f.procs.length} processes so far, ${missed} missed`);
      }
    }
    const healed = Date.now();
    await f.waitAllRunning(healed, 'end').catch(() => {
      missed++;
    });
    const report = f.check(healed);
    console.log(formatReport(report, 'soak'));
    // Let the last samples land, then judge.
    await sleep(Number(values.sample) * 1000 + 500);
    const samples = parseSamples(readFileSync(samplesFile, 'utf8'));
    const verdict = judge(samples, minutes, bound, stable);
    writeFileSync(join(out, 'memory.svg'), plot(samples, verdict));
    const byKind: Record<string, { n: number; maxMs: number }> = {};
    for (const r of f.recoveries) {
      const k = byKind[r.fault] ?? { n: 0, maxMs: 0 };
      byKind[r.fault] = k;
      k.n++;
      k.maxMs = Math.max(k.maxMs, r.ms);
    }
    console.log(
      JSON.stringify(
        {
          seed,
          minutes: Math.round((Date.now() - t0) / 6_000) / 10,
          events,
          faults: f.faults,
          processes: f.procs.length,
          drainMsMax: Math.max(0, ...drains),
          recoveryMsAfterEvent: byKind,
          livenessBoundMs: LIVENESS_WITHIN,
          missedRecoveries: missed,
          handoffs: report.handoffs,
          runsChecked: report.runsChecked,
          violations: report.violations.length,
          ...summary(verdict),
          samples: samplesFile,
          plot: join(out, 'memory.svg'),
        },
        null,
        1,
      ),
    );
    const over = verdict.overBound;
    const warnings = verdict.maxListenerWarnings;
    return report.violations.length > 0 || missed > 0 || over.length > 0 || warnings.length > 0 ? 1 : 0;
  } finally {
    await f.destroy();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
