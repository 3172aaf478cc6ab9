/**
 * Partitions of one process (issue 18): a 3-member etcd, `escheduler run` processes that each reach etcd
 * through TCP proxies of their own, and one of them cut off while it keeps running — a worker, then the
 * leading master; cut (connections reset, new ones refused) and blackholed (connections stay open,
 * nothing flows either way; after the heal the old connections stay dead, only new ones work). Must hold:
 * the cut worker stops its runs before its lease expires (before etcd deletes its worker key) and before a
 * new owner starts (the checker: zero second-owner acts); the cut master stops writing and another one
 * leads; on heal both rejoin without a restart (same pid, worker key back, runs again, a candidate again);
 * a blackhole is noticed by the deadlines and keep-alive pings (no call hangs: the process recovers over
 * fresh connections). The checker runs over the whole history at the end.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { waitFor } from './helpers/async.js';
import { formatReport } from './helpers/checker.js';
import { FaultFleet, type Proc, REBALANCE_WAIT, TTL } from './helpers/faults.js';

/** Long enough for the lease to expire and the tasks to move: ttl + rebalanceWait + 1.5 s. */
const PARTITION_MS = TTL * 1000 + REBALANCE_WAIT + 1_500;

describe('partitions of one process on a 3-member etcd', () => {
  const f = new FaultFleet({ workers: 3, tasks: 12, proxied: !process.env.NOPROXY });
  after(async () => {
    await f.destroy();
  });

  /** Cuts `p` off, checks what must hold for a cut worker, heals, waits until it is back. */
  async function partitionAndRejoin(p: Proc, how: 'cut' | 'blackhole'): Promise<void> {
    const pid = p.cli.pid;
    const openAtCut = [...f.runningNow()].filter(([, ws]) => ws.includes(p.name)).map(([task]) => task);
    assert.ok(openAtCut.length > 0, `${p.name} runs tasks before the partition`);
    const { from, to } = await f.partition(p, how, PARTITION_MS);
    // Its lease expired while it was cut off (etcd deleted its worker key): every run it had was stopped
    // before that moment, by the self-fencing timer (nothing told it: it was cut off).
    const expired = f.workerEvents.find((e) => e.name === p.name && e.type === 'delete' && e.at >= from);
    assert.ok(expired, `${p.name}'s worker key was deleted while it was cut off`);
    for (const task of openAtCut) {
      const run = f
        .runs()
        .filter((r) => r.worker === p.name && r.task === task && r.start < from)
        .at(-1);
      assert.ok(run?.stop !== undefined, `${p.name} stopped ${task} during the partition`);
      assert.ok(
        run.stop < expired.at,
        `${p.name} stopped ${task} at ${run.stop}, before its lease expired (worker key deleted at ${expired.at})`,
      );
    }
    // Back without a restart: same process, registered again, running tasks again.
    await waitFor(
      `${p.name} registered again after the ${how}`,
      () => f.workerEvents.some((e) => e.name === p.name && e.type === 'put' && e.at >= to),
      30_000,
      100,
    );
    await f.waitAllRunning(to, `${how} of ${p.name}`);
    await f.waitBalanced(3, 30_000);
    assert.equal(p.cli.proc.exitCode, null, `${p.name} still runs`);
    assert.equal(p.cli.pid, pid);
    assert.ok(
      f.runs().some((r) => r.worker === p.name && r.start > to),
      `${p.name} runs tasks again after the ${how}`,
    );
  }

  async function leaderProc(): Promise<Proc> {
    const name = await waitFor('a leader', () => f.leaderName(), 20_000, 100);
    const p = f.live().find((x) => x.name === name);
    assert.ok(p, `the leader ${name} is one of the fleet's processes`);
    return p;
  }

  async function partitionLeader(how: 'cut' | 'blackhole'): Promise<void> {
    const old = await leaderProc();
    const before = f.statusWrites.length;
    const run = partitionAndRejoin(old, how);
    // Another candidate leads while the old leader is cut off, and the old one writes nothing more.
    const next = await waitFor(
      'another leader',
      async () => {
        const name = await f.leaderName();
        return name !== undefined && name !== old.name ? name : undefined;
      },
      20_000,
      100,
    );
    await run;
    assert.notEqual(next, old.name);
    const cut = f.partitions.at(-1)!;
    const stale = f.statusWrites.slice(before).filter((w) => w.leader === old.name && w.at > cut.from);
    assert.deepEqual(stale, [], `${old.name} wrote no master status after it was cut off`);
    assert.ok(
      f.statusWrites.slice(before).some((w) => w.leader !== old.name),
      'the new leader scheduled (wrote its status)',
    );
    // The old leader campaigns again: its election key is back.
    await waitFor(
      `${old.name} a candidate again`,
      async () => {
        const res = await f.observer.range(f.k.election, { prefix: true });
        return res.kvs.some((kv) => kv.value === old.name);
      },
      20_000,
      100,
    );
  }

  it('starts balanced', async () => {
    await f.start();
    await f.waitBalanced(3);
  });

  for (const how of ['cut', 'blackhole'] as const) {
    it(`a worker ${how}: it stops before its lease expires, no second owner, rejoins on heal`, async () => {
      const leader = await f.leaderName();
      const p = f.live().find((x) => x.name !== leader);
      assert.ok(p);
      await partitionAndRejoin(p, how);
    });

    it(`the leading master ${how}: another leads, it writes nothing more, both rejoin on heal`, async () => {
      await partitionLeader(how);
    });
  }

  it('the checker over the whole history: zero second-owner acts, runs follow the assignment', () => {
    const report = f.check();
    console.log(`# partitions: ${JSON.stringify(f.partitions.map((p) => [p.worker, p.how, p.to - p.from]))}`);
    console.log(formatReport(report, '# partitions').replace(/\n/g, '\n# '));
    assert.deepEqual(report.violations, [], formatReport(report));
    assert.ok(report.handoffs > 0 && report.runsChecked > 0, 'the checker saw handoffs');
    assert.equal(f.partitions.length, 4);
  });
});
