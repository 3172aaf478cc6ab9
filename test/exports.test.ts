/**
 * The public surface, checked on the BUILT package: `tsc -p tsconfig.build.json` (what `npm run build`
 * runs) into a scratch copy of the package, then a child process imports `escheduler`,
 * `escheduler/recipes`, `escheduler/testing` and `escheduler/prometheus` by the package's own name
 * (Node's self-reference through the `exports` map) and lists what each exports. The lists below are the
 * API: a new internal file, or an export added by accident, fails here. It also checks that the three
 * library entries do not load prom-client, and type-checks a small consumer against the built `.d.ts`.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';

const run = promisify(execFile);
const repo = resolve(import.meta.dirname, '..');
const tsc = join(repo, 'node_modules', 'typescript', 'bin', 'tsc');

/** Runtime exports (values) of each entry point, sorted. Types are checked by the consumer below. */
const EXPECTED: Record<string, string[]> = {
  escheduler: [
    'Admin',
    'BarrierTimeoutError',
    'CompactedError',
    'ControlError',
    'DEFAULT_BARRIER_TIMEOUT',
    'DEFAULT_DRAIN_TIMEOUT',
    'DEFAULT_INTERVAL',
    'DEFAULT_MAX_RETRY_DELAY',
    'DEFAULT_REBALANCE_WAIT',
    'DEFAULT_STEADY_AFTER',
    'DEFAULT_TIMEOUT',
    'DEFAULT_TTL',
    'EschedulerError',
    'EtcdStore',
    'InvalidTaskError',
    'LeaseNotFoundError',
    'MAX_TASK_WEIGHT',
    'MAX_WORKER_CAPACITY',
    'Master',
    'MemoryStore',
    'NO_LEASE',
    'NotLeaderError',
    'OptionError',
    'PlannerInputError',
    'SessionLostError',
    'StoreRequestError',
    'StoreUnavailableError',
    'Worker',
    'WorkerNameTakenError',
    'WorkerNumExceedMaximumError',
    'WorkerStatus',
    'defaultName',
    'isRetryableError',
    'noopMetrics',
    'readFleetHealth',
    'rebalance',
    'validateTask',
  ],
  'escheduler/recipes': [
    'DoubleBarrier',
    'Election',
    'Mutex',
    'PrefixWatcher',
    'Session',
    'TooManyParticipantsError',
    'WORKER_VALUE_RUNNING',
    'decodeTask',
    'defaultMargin',
    'encodeTask',
    'keys',
    'waitForDelete',
    'waitForPut',
  ],
  'escheduler/testing': ['ManualClock', 'MemoryStore', 'flushMicrotasks', 'systemClock'],
  'escheduler/prometheus': ['PrometheusMetrics'],
};

/** Imports every entry in a child process; reports its exports and whether prom-client got loaded. */
const PROBE = `
import { createRequire } from 'node:module';
const require = createRequire(import.meta.url);
const promLoaded = () => Object.keys(require.cache).some((p) => p.includes('/node_modules/prom-client/'));
const out = { exports: {}, promBefore: false, promAfter: false };
for (const entry of ['escheduler', 'escheduler/recipes', 'escheduler/testing']) {
  out.exports[entry] = Object.keys(await import(entry)).sort();
}
out.promBefore = promLoaded();
out.exports['escheduler/prometheus'] = Object.keys(await import('escheduler/prometheus')).sort();
out.promAfter = promLoaded();
console.log(JSON.stringify(out));
`;

/** A consumer written against the published types: fails to compile if a subpath or a type is missing. */
const CONSUMER = `
import type { Capacities, Clock, Logger, MasterOptions, Metrics, NodeOptions, NotReadyReason, RunHandler, Store, Task, WorkerCondition, WorkerOptions, WorkerStateKind } from 'escheduler';
import { EtcdStore, Master, MemoryStore, noopMetrics, Worker, WorkerStatus } from 'escheduler';
import type { SessionOptions, StandbyRecord } from 'escheduler/recipes';
import { Election, keys, Session } from 'escheduler/recipes';
import { ManualClock, MemoryStore as TestStore } from 'escheduler/testing';
import { PrometheusMetrics } from 'escheduler/prometheus';

const clock: Clock = new ManualClock();
const store: Store = new TestStore({ clock });
const metrics: Metrics = new PrometheusMetrics();
const none: Metrics = noopMetrics;
const logger: Logger | undefined = undefined;
const task: Task = { id: 'a', weight: 3 };
const caps: Capacities = { a: 2 };
const run: RunHandler = async (_t, { signal }) => void signal;
const base: NodeOptions = { store, rootName: 'r', maxNumNodes: 2, clock, metrics, logger };
const m: MasterOptions = { ...base, generator: () => [task] };
const w: WorkerOptions = { ...base, run, onCapacityFull: 'wait' };
const cond: WorkerCondition = new Worker(w).condition;
const why: NotReadyReason | undefined = cond.reason;
const state: WorkerStateKind = cond.state;
const rec: StandbyRecord = { since: '', pid: 1, host: 'h' };
const status: string = WorkerStatus.Registered;
const so: SessionOptions | undefined = undefined;
export const all = [Master, Worker, EtcdStore, MemoryStore, Election, Session, keys, none, m, w, status, so, caps, why, state, rec];
`;

describe('public surface of the built package', () => {
  let dir = '';

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'escheduler-exports-'));
    cpSync(join(repo, 'package.json'), join(dir, 'package.json'));
    symlinkSync(join(repo, 'node_modules'), join(dir, 'node_modules'), 'dir');
    await run(
      process.execPath,
      [tsc, '-p', join(repo, 'tsconfig.build.json'), '--outDir', join(dir, 'dist')],
      {
        cwd: repo,
      },
    ).catch((err: { stdout?: string; message?: string }) => {
      assert.fail(`building the package failed:\n${err.stdout || err.message}`);
    });
  });

  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('each subpath exports exactly its names; only escheduler/prometheus loads prom-client', async () => {
    writeFileSync(join(dir, 'probe.mjs'), PROBE);
    const { stdout } = await run(process.execPath, [join(dir, 'probe.mjs')], { cwd: dir });
    const out = JSON.parse(stdout) as {
      exports: Record<string, string[]>;
      promBefore: boolean;
      promAfter: boolean;
    };
    for (const [entry, names] of Object.entries(EXPECTED)) {
      assert.deepEqual(out.exports[entry], [...names].sort(), `exports of ${entry}`);
    }
    assert.equal(out.promBefore, false, 'escheduler, /recipes and /testing must not load prom-client');
    assert.equal(out.promAfter, true, 'escheduler/prometheus loads prom-client (the probe can see it)');
  });

  it('a consumer type-checks against the published .d.ts through the exports map', async () => {
    writeFileSync(join(dir, 'consumer.ts'), CONSUMER);
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          noEmit: true,
          skipLibCheck: true,
          types: ['node'],
          typeRoots: [join(repo, 'node_modules', '@types')],
        },
        files: ['consumer.ts'],
      }),
    );
    await run(process.execPath, [tsc, '-p', join(dir, 'tsconfig.json')], { cwd: dir }).catch(
      (err: { stdout?: string }) => {
        assert.fail(`the consumer does not compile:\n${err.stdout}`);
      },
    );
  });
});
