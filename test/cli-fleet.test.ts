/**
 * Three `escheduler run` processes against the shared etcd, as an operator deploys them: they share the
 * tasks of a JSON generator evenly, `status --json` reports them, `/metrics` serves Prometheus text with
 * the escheduler_ metrics, `/readyz` turns 200 once the tasks run, and SIGTERM on one process moves only
 * its tasks, and it exits 0 with its worker key gone.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { collectStatus, type StatusReport } from '../src/cli/status.js';
import { keys } from '../src/scheduler/keys.js';
import { EtcdStore } from '../src/store/etcd.js';
import { CliProcess, FIXTURES, killAll, runCli } from './fixtures/cli-process.js';
import { freePort, sharedEndpoints, uniqueRoot } from './helpers/etcd.js';
import { waitFor } from './helpers/wait.js';

const root = uniqueRoot('cli-fleet');
const endpoints = sharedEndpoints().join(',');
const names = ['n1', 'n2', 'n3'];
const procs = new Map<string, CliProcess>();
const ports = new Map<string, number>();
const readySeen = new Map<string, Set<number>>();
let store: EtcdStore;
let polling = true;

before(async () => {
  store = new EtcdStore({ hosts: sharedEndpoints() });
  for (const name of names) {
    const port = await freePort();
    ports.set(name, port);
    readySeen.set(name, new Set());
    procs.set(
      name,
      new CliProcess([
        'run',
        '--etcd',
        endpoints,
        '--root',
        root,
        '--name',
        name,
        '--max-nodes',
        '4',
        '--ttl',
        '2',
        '--rebalance-wait',
        '300ms',
        '--barrier-timeout',
        '20s',
        '--generator',
        join(FIXTURES, 'tasks.json'),
        '--handler',
        join(FIXTURES, 'handler.mjs'),
        '--http',
        `127.0.0.1:${port}`,
      ]),
    );
  }
  // Record every /readyz answer from the start, to see it turn from 503 to 200.
  for (const name of names) {
    void (async () => {
      while (polling) {
        try {
          const res = await fetch(`http://127.0.0.1:${ports.get(name)}/readyz`, {
            signal: AbortSignal.timeout(1_000),
          });
          readySeen.get(name)!.add(res.status);
          await res.body?.cancel();
        } catch {
          // not listening yet
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
  }
});

after(async () => {
  polling = false;
  for (const p of procs.values()) p.kill('SIGKILL');
  killAll();
  await store?.delete(`${keys(root).root}/`, { prefix: true }).catch(() => undefined);
  await store?.close();
});

function fleetDump(): string {
  return [...procs.entries()].map(([n, p]) => `--- ${n} stderr:\n${p.stderr.slice(-3000)}`).join('\n');
}

const byName = (s: StatusReport) => new Map(s.workers.map((w) => [w.name, w]));

/**
 * Parses Prometheus text exposition; throws on a malformed line. Returns sample counts per series name and
 * the declared metric types (a labelled counter nobody incremented has a TYPE line but no sample yet).
 */
function parsePrometheus(text: string): { samples: Map<string, number>; types: Map<string, string> } {
  const samples = new Map<string, number>();
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) {
      if (line.startsWith('# TYPE') || line.startsWith('# HELP')) {
        assert.match(line, /^# (TYPE|HELP) [a-zA-Z_:][a-zA-Z0-9_:]* ?.*$/);
      }
      const t = /^# TYPE (\S+) (counter|gauge|histogram|summary|untyped)$/.exec(line);
      if (t) types.set(t[1], t[2]);
      continue;
    }
    const m =
      /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})? (-?[0-9.e+-]+|NaN|[+-]Inf)( \d+)?$/.exec(
        line,
      );
    assert.ok(m, `malformed Prometheus line: ${JSON.stringify(line)}`);
    samples.set(m[1], (samples.get(m[1]) ?? 0) + 1);
  }
  return { samples, types };
}

test('three processes share the tasks evenly, status reports them, probes and metrics answer', async () => {
  const status = await waitFor(
    'three workers with 4 assigned and 4 claimed tasks each',
    async () => {
      const s = await collectStatus(store, root);
      const ok =
        s.workers.length === 3 &&
        s.workers.every((w) => w.assigned.length === 4 && w.claimed.length === 4) &&
        s.lastSchedule !== null;
      return ok ? s : undefined;
    },
    30_000,
    200,
  ).catch((err: Error) => {
    throw new Error(`${err.message}\n${fleetDump()}`);
  });
  // Per group too: two of group a and two of group b each.
  for (const w of status.workers) {
    assert.equal(w.groups.a?.assigned.length, 2, `${w.name} group a`);
    assert.equal(w.groups.b?.assigned.length, 2, `${w.name} group b`);
    assert.deepEqual([...w.claimed].sort(), [...w.assigned].sort(), `${w.name} runs what it is assigned`);
  }
  assert.equal(status.barrier.passed, true);

  // The CLI's own `status --json`.
  const r = await runCli(['status', '--etcd', endpoints, '--root', root, '--json'], 15_000);
  assert.equal(r.code, 0, r.stderr);
  const json = JSON.parse(r.stdout) as StatusReport;
  assert.ok(names.includes(json.leader ?? ''), `leader ${json.leader}`);
  assert.deepEqual(json.workers.map((w) => w.name).sort(), names);
  for (const w of json.workers) {
    assert.equal(w.assigned.length, 4);
    assert.equal(w.claimed.length, 4);
  }
  assert.equal(json.barrier.passed, true);
  assert.equal(json.lastSchedule?.result, 'ok');
  assert.equal(json.lastSchedule?.tasks, 12);
  // And the text form names every worker.
  const text = await runCli(['status', '--etcd', endpoints, '--root', root], 15_000);
  assert.equal(text.code, 0, text.stderr);
  for (const n of names) assert.match(text.stdout, new RegExp(`^${n} `, 'm'));

  // Probes: ready once the tasks run, and not ready before.
  for (const name of names) {
    const port = ports.get(name);
    await waitFor(
      `${name} /readyz 200`,
      async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200,
      10_000,
      100,
    );
    const health = await fetch(`http://127.0.0.1:${port}/healthz`);
    assert.equal(health.status, 200);
    const body = (await health.json()) as { ok: boolean; worker: string };
    assert.equal(body.worker, name);
  }
  const saw503 = names.some((n) => readySeen.get(n)!.has(503));
  assert.ok(
    saw503,
    `some /readyz answered 503 before the tasks ran: ${JSON.stringify([...readySeen].map(([n, s]) => [n, [...s]]))}`,
  );

  // Metrics: Prometheus text with the master's and the worker's metrics.
  const leaderPort = ports.get(json.leader!);
  const res = await fetch(`http://127.0.0.1:${leaderPort}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /text\/plain/);
  const { samples, types } = parsePrometheus(await res.text());
  for (const metric of [
    'escheduler_master_is_leader',
    'escheduler_master_schedules_total',
    'escheduler_master_schedule_duration_seconds',
    'escheduler_master_moves_total',
    'escheduler_master_tasks_assigned',
    'escheduler_master_workers_online',
    'escheduler_master_generator_errors_total',
    'escheduler_master_fence_rejections_total',
    'escheduler_worker_tasks_assigned',
    'escheduler_worker_tasks_running',
    'escheduler_worker_task_restarts_total',
    'escheduler_worker_claim_wait_seconds',
    'escheduler_worker_keepalive_failures_total',
    'escheduler_worker_status',
  ]) {
    assert.ok(types.has(metric), `metric ${metric} not declared`);
  }
  // Those with values now: this leader scheduled, and every worker runs its 4 tasks.
  for (const series of [
    'escheduler_master_is_leader',
    'escheduler_master_schedules_total',
    'escheduler_master_schedule_duration_seconds_bucket',
    'escheduler_master_workers_online',
    'escheduler_worker_tasks_running',
    'escheduler_worker_claim_wait_seconds_bucket',
    'escheduler_worker_status',
  ]) {
    assert.ok(samples.has(series), `metric ${series} has no sample`);
  }
});

test('SIGTERM on one process drains it: only its tasks move, it exits 0, its worker key is gone', async () => {
  polling = false;
  const before = await collectStatus(store, root);
  const victim = before.workers.find((w) => w.name !== before.leader)!.name;
  const survivors = names.filter((n) => n !== victim);
  const held = byName(before);

  const proc = procs.get(victim)!;
  proc.kill('SIGTERM');
  const exit = await proc.wait(15_000);
  assert.equal(exit.code, 0, `exit of ${victim}: ${JSON.stringify(exit)}\n${proc.stderr.slice(-3000)}`);
  assert.match(proc.stderr, /draining/);
  assert.equal(await store.get(keys(root).worker(victim)), undefined, 'worker key deleted');

  const after = await waitFor(
    'the two survivors with 6 tasks each, all claimed',
    async () => {
      const s = await collectStatus(store, root);
      const ok =
        s.workers.length === 2 &&
        s.workers.every((w) => w.assigned.length === 6 && w.claimed.length === 6) &&
        s.strayClaims.length === 0;
      return ok ? s : undefined;
    },
    20_000,
    200,
  );
  const now = byName(after);
  for (const n of survivors) {
    const kept = held.get(n)!.assigned;
    const has = new Set(now.get(n)!.assigned);
    for (const id of kept) assert.ok(has.has(id), `${n} kept ${id} (only the drained worker's tasks move)`);
  }
  const moved = after.workers
    .flatMap((w) => w.assigned)
    .filter((id) => held.get(victim)!.assigned.includes(id));
  assert.equal(moved.length, 4, 'the drained worker’s 4 tasks went to the survivors');
  assert.deepEqual(after.orphaned, []);
});
