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

  describe('what it forgives, exactly', () => {
    // A paused worker ('a', frozen [100, 300]) kept its run of t while the task moved to 'b' at 150.
    const resumeBound = 50;
    const zombie = (stopA: number) =>
      checkInvariants({
        runs: [
          { task: 't', worker: 'a', start: 0, stop: stopA },
          { task: 't', worker: 'b', start: 150, stop: 900 },
        ],
        end: 1_000,
        fenceBound: 500,
        resumeBound,
        frozen: [{ worker: 'a', from: 100, to: 300 }],
      });

    it('a frozen worker: its old run is forgiven while frozen and for resumeBound after, not 1 ms more', () => {
      assert.deepEqual(kinds(zombie(300)), [], 'stopped as it resumed');
      assert.deepEqual(kinds(zombie(300 + resumeBound)), [], 'stopped at the resume bound');
      const late = zombie(300 + resumeBound + 1);
      assert.deepEqual(kinds(late), ['two-owners'], 'stopped 1 ms past the resume bound');
      assert.match(late.violations[0].message, /at once for 1 ms/);
    });

    it('resumeBound defaults to fenceBound', () => {
      const at = (stopA: number) =>
        kinds(
          checkInvariants({
            runs: [
              { task: 't', worker: 'a', start: 0, stop: stopA },
              { task: 't', worker: 'b', start: 150, stop: 900 },
            ],
            end: 1_000,
            fenceBound: 80,
            frozen: [{ worker: 'a', from: 100, to: 300 }],
          }),
        );
      assert.deepEqual(at(380), []);
      assert.deepEqual(at(381), ['two-owners']);
    });

    it('a frozen worker: a run it starts after it resumed is not forgiven', () => {
      const r = checkInvariants({
        runs: [
          { task: 't', worker: 'b', start: 150, stop: 900 },
          { task: 't', worker: 'a', start: 301, stop: 320 },
        ],
        end: 1_000,
        fenceBound: 500,
        resumeBound: 50,
        frozen: [{ worker: 'a', from: 100, to: 300 }],
      });
      assert.deepEqual(kinds(r), ['two-owners'], 'inside the resume bound, but started after the pause');
    });

    it('a frozen window forgives only its own worker, and only overlap with it', () => {
      const other = checkInvariants({
        runs: [
          { task: 't', worker: 'a', start: 0, stop: 300 },
          { task: 't', worker: 'b', start: 150, stop: 900 },
        ],
        end: 1_000,
        fenceBound: 500,
        resumeBound: 50,
        frozen: [{ worker: 'c', from: 100, to: 300 }],
      });
      assert.deepEqual(kinds(other), ['two-owners'], 'a pause of c forgives nothing of a');
      const before = checkInvariants({
        runs: [
          { task: 't', worker: 'a', start: 0, stop: 300 },
          { task: 't', worker: 'b', start: 99, stop: 900 },
        ],
        end: 1_000,
        fenceBound: 500,
        resumeBound: 50,
        frozen: [{ worker: 'a', from: 100, to: 300 }],
      });
      assert.deepEqual(kinds(before), ['two-owners'], 'the 1 ms of overlap before the pause began');
      assert.match(before.violations[0].message, /at once for 1 ms/);
    });

    it('a frozen worker: its run outside the assignment is forgiven within the resume bound only', () => {
      const unassigned = (stop: number) =>
        kinds(
          checkInvariants({
            runs: [{ task: 't', worker: 'a', start: 0, stop }],
            assignments: [{ worker: 'a', task: 't', from: 0, to: 50 }],
            end: 1_000,
            fenceBound: 10,
            resumeBound: 40,
            frozen: [{ worker: 'a', from: 55, to: 300 }],
          }),
        );
      // Assigned until 50 (+ fenceBound 10 = 60), frozen from 55 to 300 (+ resumeBound 40 = 340).
      assert.deepEqual(unassigned(340), []);
      assert.deepEqual(unassigned(341), ['unassigned-run']);
    });

    const exempt = (stopA: number, window = { worker: 'a', from: 100, to: 300 }) =>
      checkInvariants({
        runs: [
          { task: 't', worker: 'a', start: 0, stop: stopA },
          { task: 't', worker: 'b', start: 100, stop: 900 },
        ],
        end: 1_000,
        fenceBound: 500,
        resumeBound: 500,
        exempt: [window],
      });

    it('an exempt window forgives the overlap inside it as is: no resume bound added', () => {
      assert.deepEqual(kinds(exempt(300)), []);
      const late = exempt(301);
      assert.deepEqual(kinds(late), ['two-owners'], '1 ms past the window, though resumeBound is 500');
      assert.match(late.violations[0].message, /at once for 1 ms/);
      assert.deepEqual(
        kinds(exempt(300, { worker: 'c', from: 100, to: 300 })),
        ['two-owners'],
        'other worker',
      );
    });

    it('an exempt window covers runs started in it too (unlike a frozen one)', () => {
      const r = checkInvariants({
        runs: [
          { task: 't', worker: 'b', start: 100, stop: 900 },
          { task: 't', worker: 'a', start: 200, stop: 300 },
        ],
        end: 1_000,
        fenceBound: 500,
        exempt: [{ worker: 'a', from: 100, to: 300 }],
      });
      assert.deepEqual(kinds(r), []);
    });

    it('slack forgives that much overlap between observers and not 1 ms more', () => {
      const at = (startB: number) =>
        kinds(
          checkInvariants({
            runs: [
              { task: 't', worker: 'a', start: 0, stop: 100 },
              { task: 't', worker: 'b', start: startB, stop: 200 },
            ],
            end: 300,
            fenceBound: 10,
            slack: 5,
          }),
        );
      assert.deepEqual(at(95), []);
      assert.deepEqual(at(94), ['two-owners']);
    });

    it('assignLag forgives a start that early and not 1 ms earlier; fenceBound a stop that late, not 1 ms more', () => {
      const at = (start: number, stop: number) =>
        kinds(
          checkInvariants({
            runs: [{ task: 't', worker: 'a', start, stop }],
            assignments: [{ worker: 'a', task: 't', from: 200, to: 400 }],
            end: 1_000,
            fenceBound: 50,
            assignLag: 100,
          }),
        );
      assert.deepEqual(at(100, 450), []);
      assert.deepEqual(at(99, 450), ['unassigned-run']);
      assert.deepEqual(at(100, 451), ['unassigned-run']);
    });
  });

  it('fencing tokens: flags a later owner with a token not above an earlier one, and a shared token; restarts keep theirs', () => {
    const base = { end: 1_000, fenceBound: 10 };
    const ok = checkInvariants({
      ...base,
      runs: [
        { task: 't', worker: 'a', start: 0, stop: 50, token: 5 },
        { task: 't', worker: 'a', start: 60, stop: 100, token: 5 }, // a restart keeps its token
        { task: 't', worker: 'b', start: 100, stop: 200, token: 9 },
        { task: 't', worker: 'a', start: 200, stop: 300, token: 12 }, // back on a, a new claim
      ],
    });
    assert.deepEqual(kinds(ok), []);
    assert.equal(ok.tokenSteps, 2);
    const lower = checkInvariants({
      ...base,
      runs: [
        { task: 't', worker: 'a', start: 0, stop: 100, token: 9 },
        { task: 't', worker: 'b', start: 100, stop: 200, token: 5 },
      ],
    });
    assert.deepEqual(kinds(lower), ['token-order']);
    const equal = checkInvariants({
      ...base,
      runs: [
        { task: 't', worker: 'a', start: 0, stop: 100, token: 7 },
        { task: 't', worker: 'b', start: 100, stop: 200, token: 7 },
      ],
    });
    assert.deepEqual(kinds(equal).sort(), ['shared-token', 'token-order']);
    const sameWorkerNotAbove = checkInvariants({
      ...base,
      runs: [
        { task: 't', worker: 'a', start: 0, stop: 100, token: 7 },
        { task: 't', worker: 'a', start: 100, stop: 200, token: 6 },
      ],
    });
    assert.deepEqual(kinds(sameWorkerNotAbove), ['token-order']);
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
