import { fnv1a } from './hash.js';

/**
 * Task id → task index, built once per plan: open addressing over a typed array, keyed by the FNV-1a
 * hash of each id (hashed once here, and reused by the planner's hash tie-breaks). At 10^5 ids this is
 * several times faster to build than a `Map<string, number>` (which also has no way to presize) and
 * faster to query.
 */
export class IdIndex {
  /** The ids, by task index. */
  readonly ids: readonly string[];
  /** fnv1a(ids[t]) per task index. */
  readonly hash: Uint32Array;
  /** Ids met more than once, each once per repeat (in input order); undefined when all are unique. */
  readonly duplicates: string[] | undefined;
  private readonly slots: Int32Array; // task index + 1 per slot, 0 = empty
  private readonly mask: number;

  constructor(ids: readonly string[]) {
    const n = ids.length;
    let cap = 16;
    while (cap < n * 2) cap *= 2; // load ≤ 1/2: short probe runs
    const slots = new Int32Array(cap);
    const hash = new Uint32Array(n);
    const mask = cap - 1;
    let duplicates: string[] | undefined;
    for (let t = 0; t < n; t++) {
      const id = ids[t];
      const h = fnv1a(id);
      hash[t] = h;
      let i = h & mask;
      for (;;) {
        const s = slots[i];
        if (s === 0) {
          slots[i] = t + 1;
          break;
        }
        if (ids[s - 1] === id) {
          duplicates ??= [];
          duplicates.push(id);
          break;
        }
        i = (i + 1) & mask;
      }
    }
    this.ids = ids;
    this.hash = hash;
    this.duplicates = duplicates;
    this.slots = slots;
    this.mask = mask;
  }

  /** The index of the task with this id, or −1 (also for a non-string, as `current` is not validated). */
  get(id: unknown): number {
    if (typeof id !== 'string') return -1;
    const { ids, slots, mask } = this;
    let i = fnv1a(id) & mask;
    for (;;) {
      const s = slots[i];
      if (s === 0) return -1;
      if (ids[s - 1] === id) return s - 1;
      i = (i + 1) & mask;
    }
  }
}
