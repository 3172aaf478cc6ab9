/**
 * Rolling restarts of real `escheduler run` processes on the shared etcd (issue 15). With
 * `--restart-grace 30s`, 5 processes and 1,000 tasks, each SIGTERMed and started again under its name ~2 s
 * after it exited: no task key is deleted or moved across the whole rollout, every task runs again, and the
 * checker finds no task on two workers. A worker that does not come back: once its grace runs out exactly
 * its tasks move, each once. The wall-clock figures (gaps, downtimes, the same rollout without the grace) are
 * printed here and measured by `npm run bench -- --only rolling`, never asserted.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { killAll } from './fixtures/cli-process.js';
import { checkInvariants, formatReport } from './helpers/checker.js';
import { sharedEndpoints } from './helpers/etcd.js';
import { rollingRestart, rolloutFigures } from './helpers/rolling.js';

const quantile = (xs: number[], q: number) =>
  [...xs].sort((a, b) => a - b)[Math.max(0, Math.ceil(q * xs.length) - 1)];

describe('rolling restarts of escheduler run processes on etcd', () => {
  after(() => killAll());

  it('with --restart-grace 30s: zero moves across the rollout, every task back, no task on two workers', async () => {
    const rec = await rollingRestart({
      endpoints: sharedEndpoints(),
      workers: 5,
      tasks: 1_000,
      graceMs: 30_000,
      downtimeMs: 2_000,
    });
    const f = rolloutFigures(rec);
    assert.equal(f.deletes, 0, `no task key deleted during the rollout\n${rec.logs()}`);
    assert.equal(f.moves, 0, 'no task moved');
    assert.equal(rec.restarts.filter((r) => r.back !== undefined).length, 5, 'every worker came back');
    // Every task of w restarted on w only (runs from the start of the rollout on).
    for (const [w, ids] of rec.before) {
      for (const id of ids) {
        const workers = new Set(
          rec.runs.filter((r) => r.task === id && r.start >= rec.from).map((r) => r.worker),
        );
        assert.deepEqual([...workers], [w], `${id} ran only on ${w}`);
      }
    }
    const check = checkInvariants({ runs: rec.runs, end: rec.to, fenceBound: 0 });
    assert.deepEqual(check.violations, [], formatReport(check, 'rolling restart with grace'));
    console.log(
      `rolling restart with grace: ${rec.runs.length} runs; gap p50 ${quantile(f.gaps, 0.5)} ms, max ${Math.max(
        ...f.gaps,
      )} ms; downtime p50 ${quantile(f.downtimes, 0.5)} ms; worst gap − downtime ${Math.max(...f.overDowntime)} ms`,
    );
  });

  it('a worker that does not come back: when its grace runs out its tasks move, each once, and only its tasks', async () => {
    const rec = await rollingRestart({
      endpoints: sharedEndpoints(),
      workers: 3,
      tasks: 90,
      graceMs: 3_000,
      noReturn: 0, // w1: stopped with restart intent first, and never started again
    });
    const gone = new Set(rec.before.get('w1'));
    assert.ok(gone.size > 0);
    const deleted = rec.events.filter((e) => e.type === 'delete');
    const put = rec.events.filter((e) => e.type === 'put');
    assert.deepEqual(
      deleted.map((e) => `${e.worker}/${e.task}`).sort(),
      [...gone].map((id) => `w1/${id}`).sort(),
      `exactly the tasks of w1 were taken off it, each once\n${rec.logs()}`,
    );
    assert.deepEqual(
      put.map((e) => e.task).sort(),
      [...gone].sort(),
      'exactly those were assigned again, each once',
    );
    assert.ok(put.every((e) => e.worker !== 'w1'));
    const check = checkInvariants({ runs: rec.runs, end: rec.to, fenceBound: 0 });
    assert.deepEqual(check.violations, [], formatReport(check, 'worker not returning'));
  });
});
