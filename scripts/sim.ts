/**
 * `npm run test:sim -- --seeds N`: runs the seeded simulation (test/helpers/sim.ts) for seeds 1..N (or
 * `--from S`), prints every violation with its seed, and at the end the counts of faults injected and
 * checks made. `--seed S --verbose` replays one seed and prints its trace (set SIM_LOG=debug for the
 * library's logs). Exit code 1 when any seed has a violation.
 *
 * Usage: npm run test:sim -- [--seeds 1000] [--from 1] [--steps 2000] [--seed S] [--verbose] [--handoff none]
 */
import { parseArgs } from 'node:util';
import { simulate } from '../test/helpers/sim.js';

const { values } = parseArgs({
  options: {
    seeds: { type: 'string', default: '100' },
    from: { type: 'string', default: '1' },
    steps: { type: 'string', default: '2000' },
    seed: { type: 'string' },
    verbose: { type: 'boolean', default: false },
    handoff: { type: 'string', default: 'claim' },
  },
});
const handoff = values.handoff === 'none' ? 'none' : 'claim';
const steps = Number(values.steps);
const seeds =
  values.seed !== undefined
    ? [Number(values.seed)]
    : Array.from({ length: Number(values.seeds) }, (_, i) => Number(values.from) + i);

const t0 = Date.now();
const faults: Record<string, number> = {};
let checks = 0;
let liveness = 0;
let tolerated = 0;
let maxRecoveryMs = 0;
let runs = 0;
const failed: number[] = [];
for (const seed of seeds) {
  const r = await simulate({ seed, steps, handoff, keepTrace: values.verbose });
  if (values.verbose) console.log(r.trace.join('\n'));
  for (const [k, v] of Object.entries(r.faults)) faults[k] = (faults[k] ?? 0) + v;
  checks += r.checks;
  liveness += r.livenessChecks;
  tolerated += r.tolerated;
  runs += r.runs;
  maxRecoveryMs = Math.max(maxRecoveryMs, r.maxRecoveryMs);
  if (r.violations.length > 0) {
    failed.push(seed);
    console.log(`seed ${seed}: ${r.violations.length} violation(s) (trace ${r.traceHash})`);
    for (const v of r.violations.slice(0, 10)) console.log(`  ${v}`);
    console.log(`  reproduce: npm run test:sim -- --seed ${seed} --steps ${steps} --verbose`);
  }
}
const injected = Object.values(faults).reduce((a, b) => a + b, 0);
console.log(
  JSON.stringify(
    {
      seeds: seeds.length,
      steps,
      handoff,
      failedSeeds: failed,
      faultsInjected: injected,
      faults,
      checks,
      livenessChecks: liveness,
      toleratedLostLeaseOverlaps: tolerated,
      runs,
      maxRecoveryMs,
      seconds: Math.round((Date.now() - t0) / 100) / 10,
    },
    null,
    1,
  ),
);
process.exit(failed.length > 0 ? 1 : 0);
