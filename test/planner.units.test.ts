/**
 * The two ways `planner/grouped-units.ts` places weight-1 bundles — one at a time through a heap, and by
 * levels (thresholds over every worker's falling keys) — give the same loads on any placement state,
 * with needy workers (rule (b)), ties in room and hash, and workers already over their share.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { PlaceState } from '../src/planner/grouped-place.js';
import { placeUnits, type UnitsMethod } from '../src/planner/grouped-units.js';

const stateArb = fc
  .record({
    caps: fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 1, maxLength: 12 }),
    heaviest: fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 1, maxLength: 3 }),
    units: fc.array(fc.nat(2), { maxLength: 70 }),
    taken: fc.array(fc.integer({ min: 0, max: 9 }), { minLength: 36, maxLength: 36 }),
    off: fc.array(fc.integer({ min: -6, max: 6 }), { minLength: 12, maxLength: 12 }),
    held: fc.array(fc.integer({ min: 0, max: 9 }), { minLength: 12, maxLength: 12 }),
    heldIn: fc.array(fc.integer({ min: 0, max: 9 }), { minLength: 36, maxLength: 36 }),
    hashes: fc.array(fc.nat(3), { minLength: 12, maxLength: 12 }),
  })
  .map((s) => {
    const W = s.caps.length;
    const G = s.heaviest.length;
    const C = s.caps.reduce((a, b) => a + b, 0);
    const cls = Int32Array.from(s.units, (u) => u % G);
    // class weights: the units still to place plus what the workers already took, so that (as in the
    // planner) Σ_w r_g(w) = C·(units of g left) — some worker is always allowed, every unit placed
    const taken = (g: number, w: number) => s.taken[(g * 12 + w) % 36];
    const Lg = Array.from({ length: G }, (_, g) => {
      let sum = cls.filter((c) => c === g).length;
      for (let w = 0; w < W; w++) sum += taken(g, w);
      return sum;
    });
    const r = new Float64Array(G * W);
    const R = new Float64Array(W);
    for (let w = 0; w < W; w++) {
      for (let g = 0; g < G; g++) {
        r[g * W + w] = Lg[g] * s.caps[w] - C * taken(g, w);
        R[w] += r[g * W + w];
      }
      R[w] += C * s.off[w]; // other classes' part of the total, either way
    }
    const units: number[] = [];
    for (let g = 0; g < G; g++) for (let u = 0; u < cls.length; u++) if (cls[u] === g) units.push(u);
    return {
      W,
      G,
      C,
      cls,
      units,
      r,
      R,
      Hg: Float64Array.from(s.heaviest),
      heaviestOn: Float64Array.from({ length: W }, (_, w) => s.held[w]),
      heaviestIn: Float64Array.from({ length: G * W }, (_, c) => Math.min(s.heldIn[c % 36], s.held[c % W])),
      workerHash: Uint32Array.from({ length: W }, (_, w) => s.hashes[w]),
    };
  });

type Spec = typeof stateArb extends fc.Arbitrary<infer T> ? T : never;

function run(spec: Spec, method: UnitsMethod) {
  const r = spec.r.slice();
  const R = spec.R.slice();
  const heaviestOn = spec.heaviestOn.slice();
  const heaviestIn = spec.heaviestIn.slice();
  const owner = new Int32Array(spec.cls.length).fill(-1);
  const st: PlaceState = {
    W: spec.W,
    C: spec.C,
    S: Math.max(...spec.Hg),
    Hg: spec.Hg,
    r,
    R,
    heaviestOn,
    heaviestIn,
    weight: new Float64Array(spec.cls.length).fill(1),
    cls: spec.cls,
    workerHash: spec.workerHash,
    put: (b, w) => {
      assert.equal(owner[b], -1, `unit ${b} placed twice`);
      owner[b] = w;
      r[spec.cls[b] * spec.W + w] -= spec.C;
      R[w] -= spec.C;
      if (heaviestOn[w] < 1) heaviestOn[w] = 1;
      if (heaviestIn[spec.cls[b] * spec.W + w] < 1) heaviestIn[spec.cls[b] * spec.W + w] = 1;
    },
  };
  placeUnits(st, spec.units, method);
  const perCell = Array.from(r);
  return { perCell, placed: owner.filter((w) => w >= 0).length };
}

describe('placing weight-1 bundles: by heap and by levels', () => {
  it('give every worker the same units of every class, and place them all', () => {
    let needyStates = 0;
    fc.assert(
      fc.property(stateArb, (spec) => {
        for (let g = 0; g < spec.G; g++)
          for (let w = 0; w < spec.W; w++) if (spec.r[g * spec.W + w] >= spec.C * spec.Hg[g]) needyStates++;
        const heap = run(spec, 'heap');
        const levels = run(spec, 'levels');
        assert.deepEqual(levels.perCell, heap.perCell);
        assert.equal(heap.placed, spec.units.length, 'the heap places every unit');
        assert.equal(levels.placed, spec.units.length, 'the levels place every unit');
      }),
      { numRuns: 2000 },
    );
    assert.ok(needyStates > 0, 'some states had needy workers (rule (b))');
  });
});
