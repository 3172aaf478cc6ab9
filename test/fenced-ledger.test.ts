/**
 * The fenced-ledger example (examples/fenced-ledger/, issue 12): a resource that remembers the highest
 * fencing token per task and refuses lower ones. First the ledger and its checker alone (the checker must
 * catch a ledger that does not fence); then the fault suite's zombie scenario — a worker SIGSTOPped past
 * its TTL while it writes, then resumed: its writes after the resume are refused by token, and no write
 * from an owner older than the newest is ever accepted.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
// @ts-expect-error: a plain ES module example, no types
import { startLedger } from '../examples/fenced-ledger/ledger.mjs';
import { FIXTURES } from './fixtures/cli-process.js';
import { waitFor } from './helpers/async.js';
import { checkLedger, formatReport, type LedgerWrite, type RunInterval } from './helpers/checker.js';
import { FaultFleet, LIVENESS_WITHIN } from './helpers/faults.js';

interface Ledger {
  url: string;
  log: LedgerWrite[];
  state: { highest: Record<string, number> };
  close(): Promise<void>;
}

async function write(url: string, task: string, token: number, worker = 'w'): Promise<number> {
  const res = await fetch(`${url}/write`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ task, token, worker, value: 1 }),
  });
  await res.body?.cancel();
  return res.status;
}

describe('fenced ledger', () => {
  const ledgers: Ledger[] = [];
  const fleets: FaultFleet[] = [];
  after(async () => {
    await Promise.allSettled(fleets.map((f) => f.destroy()));
    await Promise.allSettled(ledgers.map((l) => l.close()));
  });

  it('refuses a token lower than the highest seen per task; the checker counts stale writes and catches an unfenced ledger', async () => {
    const ledger = (await startLedger({ port: 0 })) as Ledger;
    ledgers.push(ledger);
    assert.equal(await write(ledger.url, 'a', 5), 200);
    assert.equal(await write(ledger.url, 'a', 5), 200, 'the same owner writes again');
    assert.equal(await write(ledger.url, 'a', 3), 409, 'an older owner is refused');
    assert.equal(await write(ledger.url, 'b', 3), 200, 'tokens are per task');
    assert.equal(await write(ledger.url, 'a', 9), 200, 'a newer owner');
    assert.equal(await write(ledger.url, 'a', 5), 409);
    assert.deepEqual(ledger.state.highest, { a: 9, b: 3 });
    const report = checkLedger(ledger.log);
    assert.deepEqual(
      {
        refusedStale: report.refusedStale,
        acceptedStale: report.acceptedStale,
        refusedCurrent: report.refusedCurrent,
      },
      { refusedStale: 2, acceptedStale: 0, refusedCurrent: 0 },
    );
    // A ledger that does not fence (accepts everything): the checker sees the stale writes accepted.
    const unfenced = checkLedger(ledger.log.map((w) => ({ ...w, accepted: true })));
    assert.equal(unfenced.acceptedStale, 2);
  });

  it('under the zombie scenario (SIGSTOP past the TTL, then SIGCONT) the zombie’s writes are refused by token and no stale write is accepted', async () => {
    const ledger = (await startLedger({ port: 0 })) as Ledger;
    ledgers.push(ledger);
    const f = new FaultFleet({
      workers: 3,
      tasks: 12,
      handler: join(FIXTURES, 'ledger-fault-handler.mjs'),
      env: { LEDGER_URL: ledger.url, LEDGER_EVERY_MS: '50' },
    });
    fleets.push(f);
    await f.start();
    await f.waitBalanced(4);
    // The fixture's runs each hold a write "in their hands" that they send on the first callback after
    // the resume (ledger-fault-handler.mjs), so one pause is enough. While the worker is stopped, wait
    // (bounded) until a newer owner of each of its tasks has written: its write is then stale for sure.
    const held: RunInterval[] = [];
    const name = await f.pauseWorker(undefined, async (paused, from) => {
      for (const r of f.runs()) {
        if (r.worker === paused && r.start < from && r.stop === undefined) held.push(r);
      }
      await waitFor(
        'newer owners of the paused worker’s tasks to write to the ledger',
        () =>
          held.every((h) =>
            ledger.log.some(
              (w) => w.task === h.task && w.accepted && w.token > (h.token ?? Number.POSITIVE_INFINITY),
            ),
          ),
        LIVENESS_WITHIN,
        50,
      );
    });
    assert.ok(held.length > 0, `the paused worker ${name} ran no task when it was stopped`);
    const resumed = f.frozen.at(-1)!.to;
    await f.waitAllRunning(resumed, 'SIGSTOP zombie');
    await waitFor(
      'the resumed worker to settle its old runs',
      () => f.runs().every((r) => r.worker !== name || r.start > resumed || r.stop !== undefined),
      LIVENESS_WITHIN,
      50,
    );
    const invariants = f.check();
    const report = checkLedger(ledger.log);
    const fromZombie = report.stale.filter((s) => s.worker === name && s.at >= resumed);
    console.log(
      `# fenced ledger under the zombie scenario: ${report.writes} writes, ${report.accepted} accepted, ` +
        `${report.refusedStale} stale refused (${fromZombie.length} from the zombie ${name} after its resume, which held ${held.length} run(s)), ` +
        `${report.acceptedStale} stale accepted, ${report.refusedCurrent} current refused`,
    );
    for (const s of report.stale.slice(0, 8)) {
      console.log(
        `#   ${s.accepted ? 'ACCEPTED' : 'refused'} ${s.worker} ${s.task} token ${s.token} < ${s.highest}`,
      );
    }
    console.log(formatReport(invariants, '# invariants').replace(/\n/g, '\n# '));
    assert.ok(fromZombie.length > 0 && report.refusedStale > 0, 'the zombie’s late writes were refused');
    assert.equal(report.acceptedStale, 0, 'no write from an older owner accepted');
    assert.equal(report.refusedCurrent, 0, 'no current owner refused');
    assert.ok(
      report.stale.every((s) => s.worker === name),
      `only the zombie wrote stale: ${JSON.stringify(report.stale.slice(0, 5))}`,
    );
    assert.deepEqual(invariants.violations, [], formatReport(invariants));
  });
});
