/**
 * Weights and capacities all 1 give exactly the plans of the planner as it was before they existed:
 * `test/fixtures/planner-golden.json` holds the digests of those plans on the seeded corpus of
 * `test/planner.corpus.ts` (generated with the old code), and each input is planned here again three
 * ways — as it is, with `weight: 1` on every task, with capacity 1 named for every worker.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { type RebalanceInput, rebalance } from '../src/planner/rebalance.js';
import { CORPUS_SIZE, corpusInput, heldOf, planDigest } from './planner.corpus.js';

const golden = JSON.parse(
  readFileSync(new URL('./fixtures/planner-golden.json', import.meta.url), 'utf8'),
) as string[][];

function variants(input: RebalanceInput): [string, RebalanceInput][] {
  return [
    ['as is', input],
    ['weight 1 everywhere', { ...input, tasks: input.tasks.map((t) => ({ ...t, weight: 1 })) }],
    [
      'capacity 1 named for every worker',
      { ...input, capacities: new Map(input.workers.map((w) => [w, 1])) },
    ],
  ];
}

describe('planner: weights and capacities all 1 plan exactly as before', () => {
  it('has the golden digests of the whole corpus', () => {
    assert.equal(golden.length, CORPUS_SIZE);
  });

  it('makes the same plans on the corpus (first plan, then a join/leave/churn with a messy current)', () => {
    let compared = 0;
    for (let seed = 0; seed < CORPUS_SIZE; seed++) {
      const { first, second } = corpusInput(seed);
      let held: Map<string, string[]> | undefined;
      for (const [name, input] of variants(first)) {
        const a = rebalance(input);
        assert.equal(a.stats.mode, 'count', `seed ${seed} ${name}`);
        assert.equal(planDigest(a), golden[seed][0], `seed ${seed}, first plan, ${name}`);
        held ??= heldOf(a);
        compared++;
      }
      // `second` draws from the corpus' seeded PRNG: built once, after the first plan, as when generated
      for (const [name, input] of variants(second(held!))) {
        const b = rebalance(input);
        assert.equal(planDigest(b), golden[seed][1], `seed ${seed}, second plan, ${name}`);
        compared++;
      }
    }
    assert.equal(compared, CORPUS_SIZE * 6);
  });

  it('would notice a different plan (a capacity of 2 changes the digests)', () => {
    let differ = 0;
    for (let seed = 0; seed < 40; seed++) {
      const { first } = corpusInput(seed);
      if (first.workers.length < 2 || first.tasks.length < 10) continue;
      const plan = rebalance({ ...first, capacities: { [first.workers[0]]: 2 } });
      if (planDigest(plan) !== golden[seed][0]) differ++;
    }
    assert.ok(differ > 0, 'a changed planner must change some digest');
  });
});
