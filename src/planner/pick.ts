/**
 * How the planner picks a worker for a bundle, shared by the keyed and the weighted placement: a binary
 * heap of workers with the one furthest below its quota on top, and the hash tie order of a key.
 */

/**
 * Workers 0..W−1 in a binary heap with positions: on top the one furthest below its quota, then the
 * lighter, then the lower hash. `load` is read live: after adding to worker w, `sink(w)` restores the
 * order (load only grows, so w only moves down).
 */
export class QuotaHeap {
  private readonly heap: Int32Array;
  private readonly pos: Int32Array;

  constructor(
    W: number,
    private readonly quota: ArrayLike<number>,
    private readonly load: ArrayLike<number>,
    private readonly workerHash: Uint32Array,
  ) {
    this.heap = new Int32Array(W);
    this.pos = new Int32Array(W);
    for (let w = 0; w < W; w++) this.heap[w] = this.pos[w] = w;
    for (let i = (W >> 1) - 1; i >= 0; i--) this.down(i);
  }

  /** The worker furthest below its quota. */
  get top(): number {
    return this.heap[0];
  }

  /** Restores the order after worker `w`'s load grew. */
  sink(w: number): void {
    this.down(this.pos[w]);
  }

  private less(x: number, y: number): boolean {
    const { quota, load, workerHash } = this;
    const dx = load[x] - quota[x];
    const dy = load[y] - quota[y];
    return dx !== dy ? dx < dy : load[x] !== load[y] ? load[x] < load[y] : workerHash[x] < workerHash[y];
  }

  private down(i: number): void {
    const { heap, pos } = this;
    const W = heap.length;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < W && this.less(heap[l], heap[m])) m = l;
      if (r < W && this.less(heap[r], heap[m])) m = r;
      if (m === i) return;
      const t = heap[i];
      heap[i] = heap[m];
      heap[m] = t;
      pos[heap[i]] = i;
      pos[heap[m]] = m;
      i = m;
    }
  }
}

/** Whether worker `w` comes before `best` (−1: none yet) in the tie order of the key hashed `keyHash`. */
export function tieBefore(w: number, best: number, keyHash: number, workerHash: Uint32Array): boolean {
  if (best < 0) return true;
  const hw = (workerHash[w] ^ keyHash) >>> 0;
  const hb = (workerHash[best] ^ keyHash) >>> 0;
  return hw !== hb ? hw < hb : w < best;
}
