/**
 * etcd refuses (issue 18): `escheduler run` processes on a 3-member etcd with a small
 * `--quota-backend-bytes`. First quorum goes (two members killed past the TTL): reads fail, every worker
 * self-fences, and everything runs again once quorum is back. Then etcd fills up until the `NOSPACE`
 * alarm: the leading master reports it (log line, `/metrics`; `escheduler status` names the alarm) and
 * keeps retrying; runs that hold claims keep running (their leases still renew: no self-fence, no worker
 * key lost); after compaction, defragmentation and disarming the alarm, scheduling resumes without a
 * restart. The invariant checker runs over the whole history.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { StoreUnavailableError } from '../src/errors.js';
import { EtcdStore } from '../src/store/etcd.js';
import { runCli } from './fixtures/cli-process.js';
import { waitFor } from './helpers/async.js';
import { formatReport } from './helpers/checker.js';
import { alarms, defragAndDisarm } from './helpers/etcd.js';
import { FaultFleet, REBALANCE_WAIT, sleep, TTL } from './helpers/faults.js';

/** Small enough to fill in a few seconds (values of 512 KiB), big enough for the fleet itself. */
const QUOTA = 8 * 1024 * 1024;

/** `escheduler_master_schedules_total` with result="error", summed over reasons, from a /metrics text. */
function failedSchedules(metrics: string): number {
  let n = 0;
  for (const line of metrics.split('\n')) {
    if (line.startsWith('escheduler_master_schedules_total{') && line.includes('result="error"')) {
      n += Number(line.slice(line.lastIndexOf(' ') + 1));
    }
  }
  return n;
}

describe('etcd refuses: no quorum, then out of space (NOSPACE)', () => {
  const f = new FaultFleet({
    workers: 3,
    tasks: 12,
    http: true,
    logLevel: process.env.REFUSES_LOG ?? 'warn',
  });
  after(async () => {
    await f.destroy();
  });

  it('starts balanced on a 3-member etcd with a small backend quota', async () => {
    await f.start({ args: ['--quota-backend-bytes', String(QUOTA)] });
    await f.waitBalanced(3);
  });

  it('no quorum: reads fail, workers self-fence, all runs again when quorum returns', async () => {
    const keep = (await f.etcd.leader()) ?? f.etcd.members[0];
    const down = f.etcd.members.filter((m) => m !== keep);
    const open = f.runs().filter((r) => r.stop === undefined);
    assert.equal(open.length, 12);
    const from = Date.now();
    await Promise.all(down.map((m) => m.stop('SIGKILL')));
    const lone = new EtcdStore({ hosts: keep.endpoint, callTimeout: 1_000 });
    try {
      const err = await waitFor(
        'a read on the member left without quorum to fail',
        async () => {
          try {
            await lone.range(f.k.workerPrefix, { prefix: true });
            return undefined;
          } catch (e) {
            return e;
          }
        },
        15_000,
        200,
      );
      assert.ok(err instanceof StoreUnavailableError, `a retryable error: ${String(err)}`);
    } finally {
      await lone.close();
    }
    // Nothing renews a lease without quorum: every worker stops every run by itself (self-fencing).
    await waitFor(
      'every run to stop while quorum is gone',
      () =>
        open.every((r) =>
          f
            .runs()
            .some(
              (x) =>
                x.worker === r.worker && x.task === r.task && x.start === r.start && x.stop !== undefined,
            ),
        ),
      15_000,
      100,
    );
    await sleep(Math.max(0, from + TTL * 1000 + 1_500 - Date.now()));
    for (const m of down) m.start('existing');
    await f.etcd.ready(30_000);
    const back = Date.now();
    f.count('no-quorum');
    const ms = await f.waitAllRunning(back, 'quorum back');
    console.log(`# no quorum for ${back - from} ms; every task runs again ${ms} ms after quorum returned`);
  });

  it('NOSPACE: the master reports it and retries, runs keep running, scheduling resumes after compact + defrag + disarm', async () => {
    await f.waitBalanced(3);
    // The leader by its own account (after the outage, a lease of the old term can outlive it briefly).
    const lp = await waitFor(
      'one process leading by its /metrics and by the election',
      async () => {
        const name = await f.leaderName();
        const p = f.live().find((x) => x.name === name);
        const text = p?.port ? await (await fetch(`http://127.0.0.1:${p.port}/metrics`)).text() : '';
        return /^escheduler_master_is_leader\{[^}]*\} 1$/m.test(text) ? p : undefined;
      },
      30_000,
      200,
    );
    const metrics = async () => (await fetch(`http://127.0.0.1:${lp.port}/metrics`)).text();
    const failedBefore = failedSchedules(await metrics());

    // A quiet fleet first (the moves after the outage done), so that no revocation written before the
    // alarm reaches a worker after it: then every run open at the alarm must stay open.
    await waitFor(
      'no assignment change for 6 s (interval 5 s + rebalanceWait)',
      () => Date.now() - Math.max(0, ...f.assignments.map((a) => a.to ?? a.from)) > 6_000,
      60_000,
      200,
    );
    const selfFences = async () => {
      let n = 0;
      for (const p of f.live()) {
        const text = await (await fetch(`http://127.0.0.1:${p.port}/metrics`)).text();
        for (const m of text.matchAll(/^escheduler_worker_self_fences_total\{[^}]*\} (\d+)$/gm))
          n += Number(m[1]);
      }
      return n;
    };
    const fencesBefore = await selfFences();
    // Fill etcd (outside the fleet's root) until it refuses.
    const filler = `/${f.root}-filler/`;
    const value = 'x'.repeat(512 * 1024);
    let refused: unknown;
    for (let i = 0; i < 64 && refused === undefined; i++) {
      await f.observer.put(`${filler}${i}`, value).catch((err: unknown) => {
        refused = err;
      });
    }
    assert.match(String(refused), /database space exceeded/, 'etcd refused a put for space');
    assert.deepEqual(
      [...new Set((await alarms(f.etcd)).map((a) => a.alarm))],
      ['NOSPACE'],
      'the NOSPACE alarm is raised',
    );
    // From here on no write can change the assignment: every run open now must stay open.
    const from = Date.now();
    const open = f.runs().filter((r) => r.stop === undefined);
    // `escheduler status` names the alarm (the master cannot write its status while etcd refuses writes).
    const statusArgs = ['status', '--etcd', f.etcd.endpoints.join(','), '--root', f.root];
    const status = await runCli(statusArgs, 20_000);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /^etcd alarm NOSPACE \(member [0-9a-f]+\): etcd refuses writes/m);
    assert.ok(open.length >= 12, `${open.length} runs open when the alarm went off`);
    f.count('nospace');

    // Four new tasks: the master must write, and cannot.
    f.setTasks(16);
    const failedLog = await waitFor(
      'the leader to log a failed schedule naming the cause',
      () =>
        lp.cli
          .logs()
          .find(
            (l) => l.msg === 'schedule failed' && JSON.stringify(l.err).includes('database space exceeded'),
          ),
      30_000,
      200,
    ).catch((err: unknown) => {
      const since = lp.cli
        .logs()
        .filter((l) => (l.time as number) >= from - 10_000)
        .map(
          (l) => `${l.time} ${l.component} ${l.msg} ${JSON.stringify(l.err ?? l.reason ?? '').slice(0, 200)}`,
        );
      throw new Error(`${String(err)}\n${lp.name}'s log since the alarm:\n${since.join('\n')}`);
    });
    console.log(`# the leader's log: ${JSON.stringify(failedLog).slice(0, 400)}`);
    // It keeps retrying (the metric counts every failed schedule), for longer than a lease lives.
    await waitFor(
      'the leader to retry the failed schedule, for longer than the TTL',
      async () =>
        failedSchedules(await metrics()) - failedBefore >= 3 &&
        Date.now() - from > 2 * TTL * 1000 + REBALANCE_WAIT,
      60_000,
      250,
    );
    // Meanwhile nothing stopped: leases renew under NOSPACE, so no worker fenced and no run ended.
    const now = f.runs();
    for (const r of open) {
      const same = now.find((x) => x.worker === r.worker && x.task === r.task && x.start === r.start);
      assert.equal(same?.stop, undefined, `${r.task} on ${r.worker} still runs under NOSPACE`);
    }
    assert.deepEqual(
      f.workerEvents.filter((e) => e.type === 'delete' && e.at >= from),
      [],
      'no worker lost its key under NOSPACE',
    );
    assert.equal(await selfFences(), fencesBefore, 'no worker self-fenced under NOSPACE');
    const running = f.runningNow();
    assert.ok(
      ['t12', 't13', 't14', 't15'].every((id) => !running.has(id)),
      'the new tasks could not be assigned while etcd refused writes',
    );

    // The operator's cure: free space, compact, defragment every member, disarm. No process restarts.
    await f.observer.delete(filler, { prefix: true });
    const rev = (await f.observer.range(f.k.root, { prefix: true, countOnly: true })).revision;
    await f.observer.compact(rev);
    await defragAndDisarm(f.etcd);
    const healed = Date.now();
    assert.deepEqual(await alarms(f.etcd), [], 'the alarm is disarmed');
    assert.doesNotMatch((await runCli(statusArgs, 20_000)).stdout, /etcd alarm/);
    const pids = f.live().map((p) => p.cli.pid);
    const ms = await f.waitAllRunning(healed, 'NOSPACE cleared');
    console.log(
      `# NOSPACE for ${healed - from} ms, ${failedSchedules(await metrics()) - failedBefore} failed schedules; every task (16) runs ${ms} ms after the alarm was disarmed`,
    );
    assert.deepEqual(
      f.live().map((p) => p.cli.pid),
      pids,
      'no process restarted',
    );
    const last = await waitFor(
      'a successful schedule in the master status',
      async () => {
        const kv = await f.observer.get(f.k.masterStatus);
        const s = kv ? (JSON.parse(kv.value) as { result: string; tasks: number; time: string }) : undefined;
        return s?.result === 'ok' && s.tasks === 16 ? s : undefined;
      },
      20_000,
      200,
    );
    assert.equal(last.result, 'ok');
  });

  it('the checker over the whole history: zero second-owner acts', () => {
    const report = f.check();
    console.log(`# faults: ${JSON.stringify(f.faults)}`);
    console.log(formatReport(report, '# etcd refuses').replace(/\n/g, '\n# '));
    assert.deepEqual(report.violations, [], formatReport(report));
    assert.ok(report.handoffs > 0 && report.runsChecked > 0, 'the checker saw handoffs');
  });
});
