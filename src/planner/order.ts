/** Orders of task indices for the planner: deterministic, independent of the input order, and fast. */
import { mix } from './hash.js';
import type { IdIndex } from './ids.js';

/**
 * Moves the `k` last-ranked elements of `xs` (by `cmp`) to its end, in any order. A partial selection
 * when k is small (a worker a few tasks over its quota), a sort otherwise.
 */
export function moveWorstToEnd(xs: number[], k: number, cmp: (x: number, y: number) => number): void {
  if (k <= 0) return;
  if (k * 16 > xs.length) {
    xs.sort(cmp);
    return;
  }
  for (let end = xs.length - 1; end >= xs.length - k; end--) {
    let worst = 0;
    for (let i = 1; i <= end; i++) if (cmp(xs[i], xs[worst]) > 0) worst = i;
    [xs[worst], xs[end]] = [xs[end], xs[worst]];
  }
}

/**
 * Sorts task indices by the hash of their id (`hash[t]`), then id: an order that does not depend on the
 * input order. Large lists by a stable radix sort on the 32-bit hash (two 16-bit passes), smaller ones by
 * a native numeric sort of hash · 2^21 + position (exact in a double); then runs of equal hashes by id.
 */
export function sortByHash(xs: number[], hash: Uint32Array, ids: readonly string[]): void {
  const n = xs.length;
  if (n < 2) return;
  if (n >= RADIX_MIN) radixByHash(xs, hash);
  else {
    const keys = new Float64Array(n);
    for (let i = 0; i < n; i++) keys[i] = hash[xs[i]] * 2097152 + i;
    keys.sort();
    const copy = xs.slice();
    for (let i = 0; i < n; i++) xs[i] = copy[keys[i] % 2097152];
  }
  for (let i = 1; i < n; i++) {
    if (hash[xs[i - 1]] !== hash[xs[i]]) continue;
    let j = i;
    while (j < n && hash[xs[j]] === hash[xs[i - 1]]) j++;
    const run = xs.slice(i - 1, j).sort((x, y) => compareIds(ids, x, y));
    for (let r = 0; r < run.length; r++) xs[i - 1 + r] = run[r];
    i = j;
  }
}

/** From this length on, {@link sortByHash} radix-sorts (two passes over 2^16 counters pay off). */
const RADIX_MIN = 1 << 14;

/** Stable LSD radix sort of `xs` by `hash[x]`: low 16 bits, then high 16 bits. */
function radixByHash(xs: number[], hash: Uint32Array): void {
  const n = xs.length;
  const a = new Int32Array(n);
  const b = new Int32Array(n);
  const count = new Int32Array(65536);
  for (let i = 0; i < n; i++) count[hash[xs[i]] & 0xffff]++;
  for (let d = 0, sum = 0; d < 65536; d++) {
    const c = count[d];
    count[d] = sum;
    sum += c;
  }
  for (let i = 0; i < n; i++) a[count[hash[xs[i]] & 0xffff]++] = xs[i];
  count.fill(0);
  for (let i = 0; i < n; i++) count[hash[a[i]] >>> 16]++;
  for (let d = 0, sum = 0; d < 65536; d++) {
    const c = count[d];
    count[d] = sum;
    sum += c;
  }
  for (let i = 0; i < n; i++) b[count[hash[a[i]] >>> 16]++] = a[i];
  for (let i = 0; i < n; i++) xs[i] = b[i];
}

/**
 * Sorts task indices by priority (highest first), then id: native sorts of the id strings per priority
 * (code-unit order, as compareIds), mapped back to indices through `index` (ids are unique).
 */
export function sortByPriorityThenId(xs: number[], prio: Float64Array, index: IdIndex): void {
  const ids = index.ids;
  if (xs.length < 256) {
    xs.sort((x, y) => prio[y] - prio[x] || compareIds(ids, x, y));
    return;
  }
  let uniform = true;
  for (let i = 1; i < xs.length && uniform; i++) uniform = prio[xs[i]] === prio[xs[0]];
  if (uniform) {
    const sorted = xs.map((t) => ids[t]).sort();
    for (let i = 0; i < sorted.length; i++) xs[i] = index.get(sorted[i]);
    return;
  }
  const buckets = new Map<number, string[]>();
  for (const t of xs) {
    let bucket = buckets.get(prio[t]);
    if (!bucket) {
      bucket = [];
      buckets.set(prio[t], bucket);
    }
    bucket.push(ids[t]);
  }
  let n = 0;
  for (const p of [...buckets.keys()].sort((a, b) => b - a)) {
    const bucket = buckets.get(p)!;
    bucket.sort();
    for (const id of bucket) xs[n++] = index.get(id);
  }
}

/** Code-unit order of the ids of tasks x and y. */
export function compareIds(ids: readonly string[], x: number, y: number): number {
  const a = ids[x];
  const b = ids[y];
  return a < b ? -1 : a > b ? 1 : 0;
}

/** max − min of the values (0 when empty). */
export function spread(values: ArrayLike<number>): number {
  if (values.length === 0) return 0;
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < values.length; i++) {
    if (values[i] < min) min = values[i];
    if (values[i] > max) max = values[i];
  }
  return max - min;
}

/**
 * Sorts worker indices by mix(workerHash[w], salt), then index — a per-group preference order in which no
 * worker is always first. Keys are computed once (mix · 2^21 + w is exact in a double while W ≤ 2^21).
 */
export function sortByMix(ws: number[], workerHash: Uint32Array, salt: number): void {
  const n = ws.length;
  if (n < 2) return;
  if (workerHash.length > 2097152) {
    ws.sort((x, y) => mix(workerHash[x], salt) - mix(workerHash[y], salt) || x - y);
    return;
  }
  const keys = new Float64Array(n);
  for (let i = 0; i < n; i++) keys[i] = mix(workerHash[ws[i]], salt) * 2097152 + ws[i];
  keys.sort();
  for (let i = 0; i < n; i++) ws[i] = keys[i] % 2097152;
}

/** Sorts a short list of task indices (a bundle: a few tasks) by id, by insertion. */
export function sortSmallByIds(xs: number[], ids: readonly string[]): void {
  if (xs.length > 16) {
    xs.sort((x, y) => compareIds(ids, x, y));
    return;
  }
  for (let i = 1; i < xs.length; i++) {
    const x = xs[i];
    const id = ids[x];
    let j = i - 1;
    while (j >= 0 && ids[xs[j]] > id) {
      xs[j + 1] = xs[j];
      j--;
    }
    xs[j + 1] = x;
  }
}
