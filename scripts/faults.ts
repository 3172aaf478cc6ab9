/**
 * `npm run test:faults`: the long profile of the process fault suite (issue 6). A 3-member etcd cluster on
 * loopback, real `escheduler run` processes, `--rounds` (default 21, at least 20) rounds of mixed faults in
 * a seeded order (every kind at least three times), after each round a bounded wait until every desired
 * task runs exactly once again, and at the end the invariant checker over the whole history. Prints the
 * counts of faults injected and checks made; exit code 1 on any violation or missed recovery.
 *
 * Usage: npm run test:faults -- [--rounds 21] [--seed 1] [--workers 4] [--tasks 24]
 */
import { parseArgs } from 'node:util';
import { mulberry32 } from '../src/util/random.js';
import { formatReport } from '../test/helpers/checker.js';
import { FaultFleet, LIVENESS_WITHIN } from '../test/helpers/faults.js';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '21' },
    seed: { type: 'string', default: '1' },
    workers: { type: 'string', default: '4' },
    tasks: { type: 'string', default: '24' },
  },
});
const rounds = Number(values.rounds);
const seed = Number(values.seed);
const rand = mulberry32(seed);

async function main(): Promise<number> {
  const t0 = Date.now();
  const f = new FaultFleet({ workers: Number(values.workers), tasks: Number(values.tasks) });
  const stop = () => {
    void f.destroy().finally(() => process.exit(130));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    await f.start();
    await f.waitBalanced(Math.floor(Number(values.tasks) / Number(values.workers)) - 1);
    const kinds: [string, () => Promise<unknown>][] = [
      ['sigkill-worker', () => f.killWorker()],
      ['sigstop-worker', () => f.pauseWorker()],
      ['sigkill-master-mid-plan', () => f.killMasterMidPlan(200 + Math.floor(rand() * 200))],
      ['etcd-leader-restart', () => f.restartEtcdLeader()],
      ['etcd-all-down', () => f.allEtcdDown()],
      ['compaction', () => f.compactPastPausedWatcher()],
      ['burst', () => f.burst()],
    ];
    // Every kind at least three times, then random ones, in a seeded order.
    const plan = kinds.flatMap((k) => [k, k, k]);
    while (plan.length < rounds) plan.push(kinds[Math.floor(rand() * kinds.length)]);
    for (let i = plan.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [plan[i], plan[j]] = [plan[j], plan[i]];
    }
    let healed = Date.now();
    let missed = 0;
    for (const [i, [name, fault]] of plan.entries()) {
      const started = Date.now();
      await fault();
      healed = Date.now();
      const ms = await f.waitAllRunning(healed, name);
      if (ms > LIVENESS_WITHIN) missed++;
      console.log(
        `round ${i + 1}/${plan.length} ${name}: fault ${healed - started} ms, every task runs again ${ms} ms after`,
      );
    }
    const report = f.check(healed);
    console.log(formatReport(report, 'fault suite (long)'));
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
          rounds: plan.length,
          faultsInjected: Object.entries(f.faults)
            .filter(([k]) => k !== 'burstMs')
            .reduce((a, [, v]) => a + v, 0),
          faults: f.faults,
          recoveryMsAfterHeal: byKind,
          livenessBoundMs: LIVENESS_WITHIN,
          missedRecoveries: missed,
          handoffs: report.handoffs,
          overlappingPairsChecked: report.pairsCompared,
          runsChecked: report.runsChecked,
          processes: f.procs.length,
          violations: report.violations.length,
          minutes: Math.round((Date.now() - t0) / 6_000) / 10,
        },
        null,
        1,
      ),
    );
    return report.violations.length > 0 || missed > 0 ? 1 : 0;
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
