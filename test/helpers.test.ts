/** The test helpers themselves: a helper that accepts a wrong state makes every test using it unable to fail. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mulberry32, seeded, track, waitFor, within } from './helpers/async.js';
import { exactlyOnce } from './helpers/fleet.js';

describe('test helpers', () => {
  it('exactlyOnce: each task on exactly one worker, no task missing, none extra', () => {
    const tasks = [{ id: 'a' }, { id: 'b' }];
    assert.equal(exactlyOnce(new Map([['w1', ['a', 'b']]]), tasks), true);
    assert.equal(
      exactlyOnce(
        new Map([
          ['w1', ['a']],
          ['w2', ['b']],
        ]),
        tasks,
      ),
      true,
    );
    // [a, a] for {a, b}: a on two workers and b missing (the old check counted ids, not the multiset).
    const twice = new Map([
      ['w1', ['a']],
      ['w2', ['a']],
    ]);
    assert.equal(exactlyOnce(twice, tasks), false);
    assert.equal(exactlyOnce(new Map([['w1', ['a']]]), tasks), false, 'b missing');
    assert.equal(exactlyOnce(new Map([['w1', ['a', 'b', 'c']]]), tasks), false, 'c extra');
    assert.equal(exactlyOnce(new Map([['w1', ['a', 'c']]]), tasks), false, 'c for b');
  });

  it('within rejects a promise still pending at its deadline and passes one that settles', async () => {
    await assert.rejects(within(new Promise(() => {}), 20, 'never'), /never: still pending after 20 ms/);
    assert.equal(await within(Promise.resolve(3), 1_000, 'at once'), 3);
  });

  it('waitFor returns the first truthy value and names the condition and last error on timeout', async () => {
    let n = 0;
    assert.equal(await waitFor('n to reach 3', () => (++n >= 3 ? n : undefined), 1_000, 1), 3);
    await assert.rejects(
      waitFor(
        'the impossible',
        () => {
          throw new Error('boom');
        },
        30,
        5,
      ),
      /waiting for the impossible: Error: boom/,
    );
  });

  it('track reports a promise’s state without awaiting it', async () => {
    let resolve: () => void = () => {};
    const t = track(new Promise<void>((r) => (resolve = r)));
    assert.equal(t.state(), 'pending');
    resolve();
    await t.p;
    assert.equal(t.state(), 'resolved');
    const r = track(Promise.reject(new Error('x')));
    await assert.rejects(r.p);
    assert.equal(r.done(), true);
  });

  it('seeded: the same seed gives the same draws; a failure names the seed to replay', async () => {
    const a = await seeded(async (random) => [random(), random()], 99);
    assert.deepEqual(a, [
      mulberry32(99)(),
      (() => {
        const g = mulberry32(99);
        g();
        return g();
      })(),
    ]);
    await assert.rejects(
      seeded(async () => assert.fail('inner'), 1234),
      /with seed 1234 \(replay: ESCHEDULER_TEST_SEED=1234\): inner/,
    );
  });
});
