/**
 * Kubernetes-native probes and scaling (issue 19), with real `escheduler run` processes on an etcd each
 * test starts itself (it pauses it):
 *
 * - etcd SIGSTOPped for 3 × ttl + 10 s under a running fleet: `/healthz` (liveness) answers 200 the whole
 *   time, `/readyz` 503 with a reason; after etcd resumes every process is ready again without a restart
 *   (same pids) and the invariant checker finds every task on exactly one worker.
 * - `--max-nodes 3`, two workers and a third: the third stays up as a standby (live, not ready, listed by
 *   status, counted by the metric, logged once); SIGTERM one of the two and the standby registers and runs
 *   tasks within ttl + rebalanceWait + 2 s, no task on two workers meanwhile.
 * - A handler that blocks the event loop longer than `--liveness-budget` turns `/healthz` 503: liveness
 *   still catches what it is for.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { collectStatus } from '../src/cli/status.js';
import { EtcdStore } from '../src/store/etcd.js';
import { CliProcess, FIXTURES, killAll } from './fixtures/cli-process.js';
import { waitFor } from './helpers/async.js';
import { formatReport } from './helpers/checker.js';
import { freePort, sharedEndpoints, uniqueRoot } from './helpers/etcd.js';
import { FaultFleet, REBALANCE_WAIT, sleep, TTL } from './helpers/faults.js';

type Fleet = FaultFleet;
type Answer = { at: number; name: string; status: number; reason?: string; error?: string };

/** Polls `path` of every live process every 200 ms until `stop()`; records each answer (or failure). */
function poll(f: Fleet, path: string): { answers: Answer[]; stop: () => Promise<void> } {
  const answers: Answer[] = [];
  let on = true;
  const loops = f.live().map(async (p) => {
    while (on) {
      const at = Date.now();
      try {
        const { status, body } = await f.probe(p, path);
        answers.push({ at, name: p.name, status, reason: body.reason as string | undefined });
      } catch (err) {
        answers.push({ at, name: p.name, status: 0, error: String(err) });
      }
      await sleep(200);
    }
  });
  return {
    answers,
    stop: async () => {
      on = false;
      await Promise.all(loops);
    },
  };
}

const fleetReady = (f: Fleet) =>
  waitFor(
    'every process /readyz 200',
    async () => {
      for (const p of f.live()) if ((await f.probe(p, '/readyz')).status !== 200) return false;
      return true;
    },
    60_000,
    200,
  ).catch((err: Error) => {
    throw new Error(`${err.message}\n${f.stderrTail()}`);
  });

describe('kubernetes probes and scaling, escheduler run processes', () => {
  const fleets: Fleet[] = [];
  after(async () => {
    await Promise.allSettled(fleets.map((f) => f.destroy()));
    killAll();
  });

  it('etcd paused for 3 × ttl + 10 s: /healthz 200 throughout, /readyz 503 with a reason, same pids ready after', async () => {
    const f = new FaultFleet({ workers: 3, tasks: 6, etcdSize: 1, http: true });
    fleets.push(f);
    await f.start();
    await f.waitBalanced(2);
    await fleetReady(f);
    const pids = new Map(f.live().map((p) => [p.name, p.cli.pid]));

    const health = poll(f, '/healthz');
    const ready = poll(f, '/readyz');
    const member = f.etcd.members[0];
    const pausedAt = Date.now();
    member.pause();
    let resumedAt: number;
    try {
      await sleep(3 * TTL * 1000 + 10_000);
    } finally {
      member.resume();
      resumedAt = Date.now();
    }
    await fleetReady(f);
    await health.stop();
    await ready.stop();

    // Liveness: every answer 200, from every process, before, during and after the outage.
    const bad = health.answers.filter((a) => a.status !== 200);
    assert.deepEqual(bad, [], `/healthz answers other than 200:\n${JSON.stringify(bad.slice(0, 10))}`);
    for (const name of pids.keys()) {
      const during = health.answers.filter((a) => a.name === name && a.at > pausedAt && a.at < resumedAt);
      assert.ok(during.length >= 20, `${name}: /healthz asked ${during.length} times during the outage`);
    }
    // Readiness: each process said it was not ready during the outage, and why.
    for (const name of pids.keys()) {
      const reasons = new Set(
        ready.answers
          .filter((a) => a.name === name && a.at > pausedAt && a.at < resumedAt && a.status === 503)
          .map((a) => a.reason),
      );
      assert.ok(
        reasons.has('etcd unreachable') || reasons.has('fenced'),
        `${name}: /readyz reasons during the outage: ${JSON.stringify([...reasons])}`,
      );
    }
    // No restart: the same processes, all alive and ready.
    for (const p of f.procs) {
      assert.equal(p.cli.proc.exitCode, null, `${p.name} exited\n${p.cli.stderr.slice(-2000)}`);
      assert.equal(p.cli.pid, pids.get(p.name), `${p.name} has the same pid`);
    }
    assert.equal(f.procs.length, 3, 'no process was started meanwhile');
    const ms = await f.waitAllRunning(resumedAt, 'etcd paused');
    console.log(`# etcd paused ${resumedAt - pausedAt} ms; every task runs again ${ms} ms after it resumed`);
    const report = f.check(resumedAt);
    console.log(formatReport(report, '# etcd paused').replace(/\n/g, '\n# '));
    assert.deepEqual(report.violations, [], formatReport(report));
    assert.ok(report.runsChecked > 0);
  });

  it('--max-nodes 3: the third process waits as a standby, and registers when a worker leaves', async () => {
    const f = new FaultFleet({ workers: 2, tasks: 6, etcdSize: 1, maxNodes: 3, http: true });
    fleets.push(f);
    await f.start();
    await f.waitBalanced(3);
    const third = await f.spawnHttp();
    const standby = await waitFor(
      'the third process on standby',
      async () => {
        const r = await f.probe(third, '/readyz');
        return r.status === 503 && r.body.reason === 'standby' ? r : undefined;
      },
      30_000,
      200,
    ).catch((err: Error) => {
      throw new Error(`${err.message}\n${f.stderrTail()}`);
    });
    assert.equal(standby.body.state, 'standby');
    assert.equal((await f.probe(third, '/healthz')).status, 200, 'a standby is live');
    const status = await collectStatus(f.observer, f.root);
    assert.deepEqual(
      status.standbys.map((s) => [s.name, s.pid]),
      [[third.name, third.cli.pid]],
    );
    assert.equal(status.workers.length, 2);
    const metrics = await (await fetch(`http://127.0.0.1:${third.port}/metrics`)).text();
    assert.match(metrics, new RegExp(`escheduler_worker_standby\\{name="${third.name}"\\} 1`));
    // Stays a standby (no crash loop) while the fleet is full; one log line says why.
    await sleep(2 * TTL * 1000);
    assert.equal(third.cli.proc.exitCode, null, third.cli.stderr);
    assert.equal((await f.probe(third, '/readyz')).body.reason, 'standby');
    const waits = third.cli.logs().filter((l) => String(l.msg).startsWith('fleet full'));
    assert.equal(waits.length, 1, third.cli.stderr);

    // SIGTERM one of the first two (not the leader): the standby takes its slot and runs its share.
    const leader = await f.leaderName();
    const victim = f.procs.find((p) => p !== third && p.name !== leader)!;
    const t0 = Date.now();
    victim.cli.kill('SIGTERM');
    const bound = TTL * 1000 + REBALANCE_WAIT + 2_000;
    await waitFor(
      `${third.name} runs tasks within ttl + rebalanceWait + 2 s of the SIGTERM`,
      () => [...f.runningNow().values()].some((ws) => ws.includes(third.name)),
      Math.max(0, t0 + bound - Date.now()),
      50,
    ).catch((err: Error) => {
      throw new Error(`${err.message}\n${f.stderrTail()}`);
    });
    const exit = await victim.cli.wait(15_000);
    assert.equal(exit.code, 0);
    const ms = await f.waitAllRunning(t0, 'SIGTERM with a standby waiting');
    console.log(`# the standby ran tasks after the SIGTERM; all tasks on one worker each ${ms} ms after it`);
    await fleetReady(f);
    const after = await collectStatus(f.observer, f.root);
    assert.deepEqual(after.standbys, []);
    assert.deepEqual(
      after.workers.map((w) => w.name).sort(),
      f
        .live()
        .map((p) => p.name)
        .sort(),
    );
    const report = f.check();
    assert.deepEqual(report.violations, [], formatReport(report));
  });

  it('a handler that blocks the event loop past --liveness-budget turns /healthz 503', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'escheduler-wedge-'));
    const store = new EtcdStore({ hosts: sharedEndpoints() });
    const root = uniqueRoot('wedge');
    const port = await freePort();
    const tasks = join(dir, 'tasks.json');
    writeFileSync(tasks, JSON.stringify([{ id: 'spin' }]));
    const proc = new CliProcess(
      [
        'run',
        ...['--etcd', sharedEndpoints().join(','), '--root', root, '--name', 'wedged', '--max-nodes', '2'],
        ...['--ttl', '5', '--liveness-budget', '1s', '--rebalance-wait', '200ms'],
        ...['--generator', tasks, '--handler', join(FIXTURES, 'wedge-handler.mjs')],
        ...['--http', `127.0.0.1:${port}`, '--log-level', 'warn'],
      ],
      { WEDGE_MS: '1500' },
    );
    const get = async () => {
      const res = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(3_000) });
      return { status: res.status, body: (await res.json()) as { reason?: string } };
    };
    try {
      // Live before a task runs (the probe answers as soon as the server listens)...
      await waitFor('/healthz 200 before the wedge', async () => (await get()).status === 200, 20_000, 50);
      // ...and 503 naming the blocked loop once the handler spins, between its blocks.
      const wedged = await waitFor(
        '/healthz 503 once the handler blocks the loop',
        async () => {
          const r = await get().catch(() => undefined);
          return r && r.status !== 200 ? r : undefined;
        },
        30_000,
        50,
      ).catch((err: Error) => {
        throw new Error(`${err.message}\n${proc.stderr.slice(-3000)}`);
      });
      assert.equal(wedged.status, 503);
      assert.match(wedged.body.reason ?? '', /^event loop blocked for \d/);
      assert.equal(proc.proc.exitCode, null, 'the process itself is up: liveness, not a crash, says it');
    } finally {
      proc.kill('SIGKILL');
      await proc.exited;
      await store.delete(`/${root}/`, { prefix: true }).catch(() => undefined);
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
