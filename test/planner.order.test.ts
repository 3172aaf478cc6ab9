import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mix } from '../src/planner/hash.js';
import { IdIndex } from '../src/planner/ids.js';
import { sortByHash, sortByMix, sortByPriorityThenId, sortSmallByIds } from '../src/planner/order.js';

/** A small deterministic generator (LCG), so failures reproduce. */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const byCodeUnits = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

describe('planner orders and id index', () => {
  const rnd = lcg(11);
  const ids = Array.from({ length: 40_000 }, (_, i) =>
    i % 2 ? `t-${Math.floor(rnd() * 1e9).toString(36)}-${i}` : `\u00e9${i}`,
  );
  const index = new IdIndex(ids);

  it('IdIndex finds every id, misses others and non-strings, reports repeats', () => {
    for (let t = 0; t < ids.length; t += 7) assert.equal(index.get(ids[t]), t);
    assert.equal(index.get('absent'), -1);
    assert.equal(index.get(42), -1);
    assert.equal(index.duplicates, undefined);
    assert.deepEqual(new IdIndex(['a', 'b', 'a', 'c', 'a']).duplicates, ['a', 'a']);
  });

  it('sortByHash orders by hash then id, on both the radix (large) and the key-sort (small) paths', () => {
    // few distinct hashes: long runs of equal hashes that only the id breaks
    const hash = new Uint32Array(ids.length);
    for (let t = 0; t < ids.length; t++)
      hash[t] = t % 3 === 0 ? (t * 2654435761) >>> 0 : (t % 50) * 0x01010101;
    for (const n of [ids.length, 20_000, 1000, 2]) {
      const xs = Array.from({ length: n }, (_, i) => (i * 7919) % ids.length);
      const expected = [...xs].sort((x, y) => hash[x] - hash[y] || byCodeUnits(ids[x], ids[y]));
      sortByHash(xs, hash, ids);
      assert.deepEqual(xs, expected, `n=${n}`);
    }
  });

  it('sortByPriorityThenId: highest priority first, then id; uniform and mixed priorities', () => {
    for (const mixed of [false, true]) {
      const prio = new Float64Array(ids.length);
      if (mixed) for (let t = 0; t < ids.length; t++) prio[t] = t % 4 === 0 ? -1.5 : t % 9;
      const xs = Array.from({ length: 30_000 }, (_, i) => (i * 104729) % ids.length);
      const expected = [...xs].sort((x, y) => prio[y] - prio[x] || byCodeUnits(ids[x], ids[y]));
      sortByPriorityThenId(xs, prio, index);
      assert.deepEqual(xs, expected, `mixed=${mixed}`);
    }
  });

  it('sortByMix and sortSmallByIds match their comparator definitions', () => {
    const workerHash = Uint32Array.from({ length: 500 }, () => Math.floor(rnd() * 2 ** 32));
    const ws = Array.from({ length: 300 }, (_, i) => (i * 37) % 500);
    const salt = 0xdeadbeef;
    const expected = [...ws].sort((x, y) => mix(workerHash[x], salt) - mix(workerHash[y], salt) || x - y);
    sortByMix(ws, workerHash, salt);
    assert.deepEqual(ws, expected);
    for (const n of [2, 5, 16, 40]) {
      const xs = Array.from({ length: n }, (_, i) => (i * 811) % ids.length);
      const want = [...xs].sort((x, y) => byCodeUnits(ids[x], ids[y]));
      sortSmallByIds(xs, ids);
      assert.deepEqual(xs, want, `n=${n}`);
    }
  });
});
