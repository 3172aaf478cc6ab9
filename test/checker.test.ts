/** The invariant checker itself: it must flag what it exists to flag (a checker that cannot fail proves nothing). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkInvariants } from './helpers/checker.js';

const kinds = (r: ReturnType<typeof checkInvariants>) => r.violations.map((v) => v.kind);

describe('invariant checker', () => {
  it('flags two workers running one task at once, and not a clean handoff', () => {
    const overlap = checkInvariants({
      runs: [
        { task: 't', worker: 'a', start: 0, stop: 100 },
        { task: 't', worker: 'b', start: 50, stop: 200 },
      ],
      end: 300,
      fenceBound: 10,
    });
    assert.deepEqual(kinds(overlap), ['two-owners']);
    const handoff = checkInvariants({
      runs: [
        { task: 't', worker: 'a', start: 0, stop: 100 },
        { task: 't', worker: 'b', start: 100, stop: 200 },
      ],
      end: 300,
      fenceBound: 10,
    });
    assert.deepEqual(kinds(handoff), []);
    assert.equal(handoff.handoffs, 1);
  });

  it('flags runs outside their assignment: never assigned, past the fencing bound, far before it began', () => {
    const base = { end: 1_000, fenceBound: 50, slack: 5, assignLag: 100 };
    const assignments = [{ worker: 'a', task: 't', from: 200, to: 400 }];
    const ok = checkInvariants({
      ...base,
      assignments,
      runs: [{ task: 't', worker: 'a', start: 150, stop: 440 }],
    });
    assert.deepEqual(
      kinds(ok),
      [],
      'an observer up to assignLag late and a stop within the fencing bound pass',
    );
    const stranger = checkInvariants({
      ...base,
      assignments,
      runs: [{ task: 't', worker: 'b', start: 250, stop: 300 }],
    });
    assert.deepEqual(kinds(stranger), ['unassigned-run']);
    const lingering = checkInvariants({
      ...base,
      assignments,
      runs: [{ task: 't', worker: 'a', start: 250, stop: 600 }],
    });
    assert.deepEqual(kinds(lingering), ['unassigned-run'], 'assignLag does not stretch the end');
    const early = checkInvariants({
      ...base,
      assignments,
      runs: [{ task: 't', worker: 'a', start: 50, stop: 300 }],
    });
    assert.deepEqual(kinds(early), ['unassigned-run']);
  });

  it('flags a desired task that does not run on exactly one worker in time', () => {
    const r = checkInvariants({
      runs: [{ task: 'x', worker: 'a', start: 0 }],
      end: 1_000,
      fenceBound: 10,
      liveness: { after: 100, within: 500, desired: ['x', 'y'] },
    });
    assert.deepEqual(kinds(r), ['liveness']);
    assert.equal(r.violations[0].task, 'y');
  });
});
