/**
 * A model of the original Go escheduler v0.1.59 planning policy, re-implemented from its description in
 * DESIGN §5 (facts, not its code) so the benchmark can show it beside ours. Bench only: never imported by
 * src/.
 *
 * - per group g, avg_g = (unkeyed tasks of g) / W, a fraction;
 * - walk the current assignments in key order (`/task/<worker>/<id>`: by worker name, then id); a task on a
 *   dead worker or no longer desired is revoked; otherwise, if the worker's count of kept tasks of that
 *   group so far exceeds avg_g, the task is revoked, else kept (count incremented after the check, so a
 *   worker keeps up to ⌊avg_g⌋ + 1);
 * - every task not kept goes, highest priority first: if unkeyed, to the least-loaded worker of its group
 *   (ties broken by a freshly shuffled worker list); if keyed, to a hash balancer over a freshly shuffled
 *   worker list. The balancer is modelled as consistent hashing with bounded loads (start at
 *   hash(key) mod W in the shuffled list, walk on while the worker holds ⌈1.25 · keyed/W⌉ keyed tasks) —
 *   an assumption: DESIGN only says "hash balancer".
 *
 * The shuffles draw from the `random` function passed in, so the bench is reproducible.
 */
import { fnv1a } from '../src/planner/hash.js';
import type { Task } from '../src/task.js';

export interface OriginalInput {
  workers: readonly string[];
  tasks: readonly Task[];
  current: ReadonlyMap<string, readonly string[]>;
}

export interface OriginalPlan {
  target: Map<string, Task[]>;
  /** Desired tasks held by a live worker that end on another one. */
  moves: number;
}

/** The seeded PRNG of the shuffles: the project's one (src/util/random.ts). */
export { mulberry32 as seededRandom } from '../src/util/random.js';

function shuffle<T>(xs: readonly T[], random: () => number): T[] {
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

export function originalPlan(input: OriginalInput, random: () => number): OriginalPlan {
  const { workers, tasks, current } = input;
  const W = workers.length;
  const target = new Map<string, Task[]>(workers.map((w) => [w, []]));
  if (W === 0) return { target, moves: 0 };
  const widx = new Map(workers.map((w, i) => [w, i]));
  const desired = new Map(tasks.map((t) => [t.id, t]));
  const groupIdx = new Map<string, number>();
  const unkeyedPerGroup: number[] = [];
  for (const t of tasks) {
    const g = t.group ?? '';
    if (!groupIdx.has(g)) {
      groupIdx.set(g, groupIdx.size);
      unkeyedPerGroup.push(0);
    }
    if (!t.key) unkeyedPerGroup[groupIdx.get(g)!]++;
  }
  const G = groupIdx.size;
  const avg = unkeyedPerGroup.map((n) => n / W);
  // count[g][w]: tasks of group g on worker w (kept so far, then placed)
  const count = Array.from({ length: G }, () => new Int32Array(W));
  const holder = new Map<string, number>();
  const final = new Map<string, number>();

  // walk current in key order
  for (const worker of [...current.keys()].sort()) {
    const w = widx.get(worker);
    for (const id of [...current.get(worker)!].sort()) {
      const t = desired.get(id);
      if (w === undefined || !t) continue; // revoked
      if (!holder.has(id)) holder.set(id, w);
      if (final.has(id)) continue; // a second copy: revoked
      const g = groupIdx.get(t.group ?? '')!;
      if (count[g][w] > avg[g]) continue; // revoked
      count[g][w]++;
      final.set(id, w);
    }
  }

  // place the rest, highest priority first
  const rest = tasks.filter((t) => !final.has(t.id));
  rest.sort((x, y) => (y.priority ?? 0) - (x.priority ?? 0) || (x.id < y.id ? -1 : x.id > y.id ? 1 : 0));
  const order = shuffle(
    workers.map((_, i) => i),
    random,
  );
  const pos = new Int32Array(W);
  order.forEach((w, i) => {
    pos[w] = i;
  });
  // least-loaded per group: a binary heap per group on (count, shuffled position)
  const heaps = new Map<number, number[]>();
  const heapOf = (g: number): number[] => {
    let h = heaps.get(g);
    if (!h) {
      h = [...order];
      for (let i = (W >> 1) - 1; i >= 0; i--) down(h, i, g);
      heaps.set(g, h);
    }
    return h;
  };
  const less = (x: number, y: number, g: number) =>
    count[g][x] !== count[g][y] ? count[g][x] < count[g][y] : pos[x] < pos[y];
  function down(h: number[], i: number, g: number): void {
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && less(h[l], h[m], g)) m = l;
      if (r < h.length && less(h[r], h[m], g)) m = r;
      if (m === i) return;
      [h[i], h[m]] = [h[m], h[i]];
      i = m;
    }
  }
  // keyed tasks first (their balancer ignores group counts), then the unkeyed ones on up-to-date counts
  const keyedOrder = shuffle(
    workers.map((_, i) => i),
    random,
  );
  const keyedLoad = new Int32Array(W);
  let keyedTotal = 0;
  for (const t of tasks) if (t.key) keyedTotal++;
  for (const [id, w] of final) if (desired.get(id)!.key) keyedLoad[w]++;
  const cap = Math.max(1, Math.ceil((1.25 * keyedTotal) / W));
  for (const t of rest) {
    if (!t.key) continue;
    let i = fnv1a(t.key) % W;
    for (let n = 0; n < W && keyedLoad[keyedOrder[i]] >= cap; n++) i = (i + 1) % W;
    const w = keyedOrder[i];
    keyedLoad[w]++;
    count[groupIdx.get(t.group ?? '')!][w]++;
    final.set(t.id, w);
  }
  for (const t of rest) {
    if (t.key) continue;
    const g = groupIdx.get(t.group ?? '')!;
    const h = heapOf(g);
    const w = h[0];
    count[g][w]++;
    down(h, 0, g);
    final.set(t.id, w);
  }
  for (const [id, w] of final) target.get(workers[w])!.push(desired.get(id)!);
  let moves = 0;
  for (const [id, w] of final) {
    const h = holder.get(id);
    if (h !== undefined && h !== w) moves++;
  }
  return { target, moves };
}
