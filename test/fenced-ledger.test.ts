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
import { checkLedger, formatReport, type LedgerWrite } from './helpers/checker.js';
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
    // Whether the resumed process gets a write out before its overdue self-fencing timer fires depends on
    // which of its timers expired first: repeat the scenario (at most 3 pauses) until a zombie wrote late.
    let report = checkLedger(ledger.log);
    const zombies: { name: string; resumed: number }[] = [];
    const late = () =>
      report.stale.filter((s) => zombies.some((z) => s.worker === z.name && s.at >= z.resumed));
    for (let round = 0; round < 3 && late().length === 0; round++) {
      const name = await f.pauseWorker();
      const resumed = f.frozen.at(-1)!.to;
      zombies.push({ name, resumed });
      await f.waitAllRunning(resumed, 'SIGSTOP zombie');
      await waitFor(
        'the resumed worker to settle its old runs',
        () => {
          report = checkLedger(ledger.log);
          return f.runs().every((r) => r.worker !== name || r.start > resumed || r.stop !== undefined);
        },
        LIVENESS_WITHIN,
        50,
      );
      report = checkLedger(ledger.log);
    }
    const invariants = f.check();
    report = checkLedger(ledger.log);
    const fromZombie = late();
    const zombie = zombies.map((z) => z.name).join(',');
    console.log(
      `# fenced ledger under the zombie scenario: ${report.writes} writes, ${report.accepted} accepted, ` +
        `${report.refusedStale} stale refused (${fromZombie.length} from the zombie ${zombie} after its resume, ${zombies.length} pause(s)), ` +
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
      report.stale.every((s) => zombies.some((z) => z.name === s.worker)),
      `only the zombie wrote stale: ${JSON.stringify(report.stale.slice(0, 5))}`,
    );
    assert.deepEqual(invariants.violations, [], formatReport(invariants));
  });
});
