#!/usr/bin/env node
/**
 * The `escheduler` command: `demo` (the fleet rebalancing in front of you, in one process), `run` (the
 * production process: a master candidate and a worker) and `status` (what the fleet under a root looks
 * like). Process concerns — argv, signals, exit codes — live here and in `cli/`, never in the library.
 *
 * Exit codes: 0 done, 1 runtime failure (etcd unreachable, registration refused), 2 bad usage or input.
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { EschedulerError } from '../errors.js';
import {
  DEFAULT_BARRIER_TIMEOUT,
  DEFAULT_DRAIN_TIMEOUT,
  DEFAULT_INTERVAL,
  DEFAULT_REBALANCE_WAIT,
  DEFAULT_STEADY_AFTER,
  DEFAULT_TIMEOUT,
  DEFAULT_TTL,
} from '../scheduler/options.js';
import { addConnectionFlags, CliError, LOG_LEVELS } from './common.js';
import { addControlCommands } from './control-commands.js';
import { DEFAULT_LISTEN, dashboardCommand } from './dashboard/command.js';
import { demoCommand } from './demo.js';
import { formatDuration, parseDuration, parseInteger } from './duration.js';
import { DEFAULT_LIVENESS_BUDGET } from './probes.js';
import { runCommand } from './run.js';
import { statusCommand } from './status.js';

/** Wraps a parser so commander reports its error as "option '--x' argument ... is invalid". */
function arg<T>(parse: (v: string, flag: string) => T, flag: string): (v: string) => T {
  return (v) => {
    try {
      return parse(v, flag);
    } catch (err) {
      throw new InvalidArgumentError((err as Error).message.replace(`${flag}: `, ''));
    }
  };
}

const ms = (flag: string) => arg(parseDuration, flag);

/** `--flag <duration>` with its default shown as a duration (`1m`, not `60000`). */
function durationOption(flag: string, description: string, defaultMs: number): Option {
  return new Option(`${flag} <duration>`, description)
    .argParser(ms(flag))
    .default(defaultMs, formatDuration(defaultMs));
}
const int = (flag: string, min: number) => arg((v, f) => parseInteger(v, f, min), flag);

function version(): string {
  // src/cli/main.ts and dist/cli/main.js are both two folders below package.json.
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version?: string;
  };
  return pkg.version ?? '0.0.0';
}

function finish(code: number): void {
  process.exitCode = code;
  // Let pending writes flush; if a stray handle keeps the loop alive, leave anyway.
  setTimeout(() => process.exit(code), 1_000).unref();
}

export function buildProgram(): Command {
  const program = new Command('escheduler')
    .description(
      'Share a changing set of long-running tasks among a fleet of workers, coordinated through etcd v3.',
    )
    .version(version())
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({ outputError: (s, write) => write(s) });

  const run = program
    .command('run')
    .description('run the production process: a master candidate and a worker (SIGTERM/SIGINT drains)')
    .option('--root <name>', 'root folder of every key (required): /<root>/...')
    .option('--name <name>', 'unique name of this process (default: {ip}-{pid})')
    .option('--ttl <seconds>', 'lease TTL in whole seconds', int('--ttl', 2), DEFAULT_TTL)
    .option(
      '--max-nodes <n>',
      'workers of the fleet + 1 (master): barrier size and worker cap (required with --etcd; default 2 on the memory store)',
      int('--max-nodes', 2),
    )
    .addOption(durationOption('--interval', 'schedule at least this often while leading', DEFAULT_INTERVAL))
    .addOption(
      durationOption(
        '--rebalance-wait',
        'wait after a worker joins/leaves before rebalancing',
        DEFAULT_REBALANCE_WAIT,
      ),
    )
    .addOption(
      durationOption(
        '--timeout',
        'the generator is given this long per schedule (then the assignment is left as it is)',
        DEFAULT_TIMEOUT,
      ),
    )
    .addOption(
      durationOption(
        '--barrier-timeout',
        'wait at most this long at the start-up barrier of a fresh root',
        DEFAULT_BARRIER_TIMEOUT,
      ),
    )
    .addOption(
      durationOption(
        '--drain-timeout',
        'on SIGTERM, wait at most this long for runs to settle',
        DEFAULT_DRAIN_TIMEOUT,
      ),
    )
    .addOption(
      durationOption(
        '--restart-grace',
        "SIGTERM means a restart: hold this worker's tasks (not running) this long for a process of the same --name to come back, instead of moving them (0 = SIGTERM drains; SIGINT always drains)",
        0,
      ),
    )
    .addOption(
      new Option(
        '--on-capacity-full <mode>',
        'over the cap (max-nodes − 1 workers registered): wait as a standby and register when a slot frees, or reject (exit 1)',
      )
        .choices(['wait', 'reject'])
        .default('wait'),
    )
    .addOption(
      durationOption(
        '--liveness-budget',
        '/healthz fails while the event loop is blocked longer than this (and as long again after)',
        DEFAULT_LIVENESS_BUDGET,
      ),
    )
    .addOption(
      durationOption(
        '--steady-after',
        'a run that lasted this long is steady: its task leaves the failing list',
        DEFAULT_STEADY_AFTER,
      ),
    )
    .option(
      '--capacity <n>',
      "this worker's capacity: its share of the load is proportional to it (1..1000000)",
      int('--capacity', 1),
      1,
    )
    .option(
      '--generator <file>',
      'ES module whose default export returns the tasks, or a .json task list (re-read on every schedule)',
    )
    .option(
      '--handler <file>',
      'ES module whose default export is async (task, { signal }) => {} (default: idle until revoked)',
    )
    .addOption(
      new Option(
        '--handoff <mode>',
        'claim: a task never runs on two workers; none: as the Go original (mixed fleets)',
      )
        .choices(['claim', 'none'])
        .default('claim'),
    )
    .option(
      '--max-moves <n>',
      'at most this many tasks move between live workers per schedule (default: unlimited)',
      int('--max-moves', 1),
    )
    .option(
      '--max-txn-ops <n>',
      "the master's most assignment ops per txn, 1-127: only for an etcd with a lower --max-txn-ops (that value - 1)",
      arg((v, f) => {
        const n = parseInteger(v, f, 1);
        if (n > 127)
          throw new CliError(`${f}: expected a whole number from 1 to 127, got ${JSON.stringify(v)}`);
        return n;
      }, '--max-txn-ops'),
    )
    .option('--no-master', 'do not run a master candidate')
    .option('--no-worker', 'do not run a worker')
    .option(
      '--http <host:port>',
      'serve /metrics, /healthz (liveness: the process), /readyz (readiness: runs its share) and the read-only dashboard at / (e.g. :9090)',
    )
    .addOption(new Option('--log-level <level>', 'log level').choices(LOG_LEVELS).default('info'))
    .option('--log-stdout', 'write the JSON logs to stdout instead of stderr')
    .action(async (flags) => finish(await runCommand(flags)));
  addConnectionFlags(run, durationOption);

  const status = program
    .command('status')
    .description(
      'show the leader, the workers with their leases and tasks, the barrier and the last schedule',
    )
    .option('--root <name>', 'root folder of every key (required)')
    .option('--json', 'print one JSON object (with --watch: one per change, a line each)')
    .option('--watch', 'keep printing until Ctrl-C')
    .addOption(durationOption('--every', 'with --watch: poll this often', 1_000))
    .action(async (flags) => finish(await statusCommand(flags)));
  addConnectionFlags(status, durationOption);

  const dashboard = program
    .command('dashboard')
    .description('serve a live web page of the fleet: leader, workers, tasks by group, balance, schedules')
    .option('--root <name>', 'root folder of every key (required)')
    .option('--listen <host:port>', 'address of the page (loopback by default)', DEFAULT_LISTEN)
    .option(
      '--allow-control',
      'show cordon/drain/pin/pause buttons that write control keys (same-origin requests only)',
    )
    .action(async (flags) => finish(await dashboardCommand(flags)));
  addConnectionFlags(dashboard, durationOption);

  const demo = program
    .command('demo')
    .description('watch a fleet rebalance: barrier, first schedule, a join, a crash, a task-set change')
    .option('--workers <n>', 'workers at the start', int('--workers', 1), 4)
    .option('--tasks <n>', 'tasks, in three groups', int('--tasks', 3), 24)
    .addOption(durationOption('--duration', 'how long the story lasts (at least 4s)', 20_000))
    .option(
      '--root <name>',
      'root folder of the keys (default: a fresh escheduler-demo-<pid>-<time>, deleted at the end on etcd)',
    )
    .option('--plain', 'plain log lines even on a terminal')
    .option(
      '--http <host:port>',
      'serve the dashboard of the demo fleet (e.g. 127.0.0.1:7483); the fleet runs on after the story until Ctrl-C',
    )
    .action(async (flags) => finish(await demoCommand(flags)));
  addConnectionFlags(demo, durationOption);
  addControlCommands(program, { durationOption, int, finish });
  return program;
}

function fail(err: unknown): void {
  if (err instanceof CommanderError) {
    // commander printed the message already; usage errors exit 2, --help/--version 0.
    finish(err.exitCode === 0 ? 0 : 2);
    return;
  }
  if (err instanceof CliError) {
    process.stderr.write(`escheduler: ${err.message}\n`);
    finish(err.exitCode);
    return;
  }
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(
    `escheduler: ${err instanceof EschedulerError ? '' : 'unexpected error: '}${message}\n`,
  );
  if (process.env.ESCHEDULER_DEBUG && err instanceof Error) process.stderr.write(`${err.stack}\n`);
  finish(1);
}

process.on('uncaughtException', (err) => {
  fail(err);
  process.exit(1);
});
process.on('unhandledRejection', (err) => {
  fail(err);
  process.exit(1);
});

buildProgram().parseAsync(process.argv).catch(fail);
