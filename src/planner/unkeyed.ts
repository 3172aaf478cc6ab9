/** The unkeyed tasks' placement: per-group quotas from {@link solveExtras}, then each group's tasks on them. */
import { solveExtras } from './extras.js';
import { fnv1a } from './hash.js';
import type { IdIndex } from './ids.js';
import { extraBounds } from './levels.js';
import { compareIds, moveWorstToEnd, sortByHash, sortByMix } from './order.js';

/**
 * Plans the unkeyed tasks group by group on the quotas of {@link solveExtras}; fills `final`. Each worker
 * keeps its highest-priority held tasks up to its quota; the rest and the orphans fill the free quotas in
 * hash order. `keyedLoad` (the keyed tasks already placed) sets the bounds that level the totals.
 */
export function planUnkeyed(
  W: number,
  groupOf: Map<string, number[]>,
  index: IdIndex,
  prio: Float64Array,
  holder: Int32Array,
  final: Int32Array,
  workerHash: Uint32Array,
  keyedLoad: Int32Array,
): { lowerBound: number; worstMaxMin: number } {
  const groups = [...groupOf.keys()].map((name) => ({ name, hash: fnv1a(name) }));
  groups.sort((x, y) => x.hash - y.hash || (x.name < y.name ? -1 : x.name > y.name ? 1 : 0));
  const G = groups.length;
  const count = new Int32Array(W);
  const need = new Int32Array(G);
  const good: number[][] = [];
  for (let g = 0; g < G; g++) {
    const list = groupOf.get(groups[g].name)!;
    const f = Math.floor(list.length / W);
    need[g] = list.length % W;
    const touched: number[] = [];
    for (const t of list) {
      const w = holder[t];
      if (w >= 0 && count[w]++ === 0) touched.push(w);
    }
    const cells: number[] = [];
    for (const w of touched) {
      if (count[w] > f) cells.push(w);
      count[w] = 0;
    }
    // preference among good cells: a hash of worker × group, so no worker is always first
    if (need[g] > 0) sortByMix(cells, workerHash, groups[g].hash);
    good.push(need[g] > 0 ? cells : []);
  }
  // per-worker bounds on the extras that level keyed + unkeyed totals (lo = a, hi = a or a + 1 when every
  // keyed load is the same, in particular without keys)
  let F = 0;
  for (let g = 0; g < G; g++) F += Math.floor(groupOf.get(groups[g].name)!.length / W);
  const base = new Float64Array(W);
  for (let w = 0; w < W; w++) base[w] = keyedLoad[w] + F;
  const extras = solveExtras({ workers: W, need, good, bounds: extraBounds(base, need) });

  // place the tasks of each group on its quotas
  let lowerBound = 0;
  let worstMaxMin = 0;
  const kept = new Int32Array(W);
  const isExtra = new Uint8Array(W);
  // an order of tasks that does not depend on the input order: priority, then a hash of the id, then id
  const { ids, hash } = index;
  const byRank = (x: number, y: number) => prio[y] - prio[x] || hash[x] - hash[y] || compareIds(ids, x, y);
  for (let g = 0; g < G; g++) {
    const list = groupOf.get(groups[g].name)!;
    const f = Math.floor(list.length / W);
    for (const w of extras[g]) isExtra[w] = 1;
    const touched: number[] = [];
    for (const t of list) {
      const w = holder[t];
      if (w >= 0 && count[w]++ === 0) touched.push(w);
    }
    const pending: number[] = [];
    let over: Map<number, number[]> | undefined;
    for (const t of list) {
      const w = holder[t];
      if (w < 0) pending.push(t);
      else if (count[w] <= f + isExtra[w]) {
        final[t] = w;
        kept[w]++;
      } else {
        over ??= new Map();
        let cell = over.get(w);
        if (!cell) {
          cell = [];
          over.set(w, cell);
        }
        cell.push(t);
      }
    }
    if (over) {
      // a worker above its quota keeps its highest-priority tasks
      for (const [w, cell] of over) {
        const q = f + isExtra[w];
        lowerBound += cell.length - q;
        if (cell.every((t) => prio[t] === prio[cell[0]])) sortByHash(cell, hash, ids);
        else moveWorstToEnd(cell, cell.length - q, byRank);
        for (let i = 0; i < cell.length; i++) {
          if (i < q) {
            final[cell[i]] = w;
            kept[w]++;
          } else pending.push(cell[i]);
        }
      }
    }
    if (pending.length > 0) {
      sortByHash(pending, hash, ids);
      let p = 0;
      const fillWorker = (w: number) => {
        const q = f + isExtra[w];
        while (kept[w] < q && p < pending.length) {
          final[pending[p++]] = w;
          kept[w]++;
        }
      };
      if (f > 0) for (let w = 0; w < W; w++) fillWorker(w);
      else for (const w of extras[g]) fillWorker(w);
    }
    // record the group's spread (from the placement itself), reset scratch
    let min = f > 0 ? Number.POSITIVE_INFINITY : 0;
    let max = 0;
    for (const w of f > 0 ? kept : extras[g].map((x) => kept[x])) {
      if (w < min) min = w;
      if (w > max) max = w;
    }
    worstMaxMin = Math.max(worstMaxMin, max - min);
    for (const w of touched) count[w] = 0;
    if (f > 0) kept.fill(0);
    else {
      for (const w of touched) kept[w] = 0;
      for (const w of extras[g]) kept[w] = 0;
    }
    for (const w of extras[g]) isExtra[w] = 0;
  }
  return { lowerBound, worstMaxMin };
}
