/**
 * Step 2b of {@link solveExtras} (extras.ts, which states the problem, the flow model and the proof): when
 * no direct path is left, phases of successive shortest paths on the residual graph of the extras flow,
 * whose group → worker part is implicit (complete bipartite, W × G pairs never enumerated).
 */
import type { FlowState } from './flow.js';
import { PairSet } from './pairset.js';

const INF = Number.POSITIVE_INFINITY;

/** The part of the extras flow state that the shortest-path phases use. */
export interface PathFlow extends FlowState {
  /** Pairs carrying a unit; set by the good-only flow whenever it leaves units missing. */
  readonly taken: PairSet | undefined;
}

/** The shortest-path phases over a flow state `r`, which they augment in place. */
export class ShortestPaths {
  /** Good pairs as a set. */
  private readonly goodSet: PairSet;
  /** Per worker, the groups whose extra it holds (kept in step with `r.taken`). */
  private readonly byWorker: Set<number>[];

  constructor(private readonly r: PathFlow) {
    const set = new PairSet(r.goodW.length);
    for (let g = 0; g < r.need.length; g++) {
      for (let i = r.goodOff[g]; i < r.goodOff[g + 1]; i++) set.add(g, r.goodW[i]);
    }
    this.goodSet = set;
    const by = Array.from({ length: r.W }, () => new Set<number>());
    r.taken!.forEach((g, w) => {
      by[w].add(g);
    });
    this.byWorker = by;
  }

  /**
   * Step 2b, one phase: exact shortest distances from s by label correcting (Bellman–Ford with a FIFO
   * queue; costs −1, 0, 1 and no negative cycle), then as many augmentations as possible along paths made
   * only of tight edges (d(v) = d(u) + cost). With π = d as potentials every residual edge has reduced cost
   * ≥ 0 and a tight s–t path has reduced cost 0, so it is a shortest path; the reverse of a tight edge is
   * tight, so π stays feasible after each augmentation and the flow stays min-cost. Returns false when t is
   * unreachable.
   */
  phase(): boolean {
    const { W, regCap, hubCap, hubTotal, need, fill, goodOff, goodW, reg, hub } = this.r;
    const { goodSet, byWorker } = this;
    const taken = this.r.taken!;
    const G = need.length;
    const dg = new Float64Array(G).fill(INF);
    const dw = new Float64Array(W).fill(INF);
    let dh = INF;
    let dt = INF;
    // buckets of workers by current label, to relax the implicit edges without scanning all workers
    const buckets = new Map<number, Set<number>>();
    const all = new Set<number>();
    for (let w = 0; w < W; w++) all.add(w);
    buckets.set(INF, all);
    // queue of nodes: groups 0..G-1, workers G..G+W-1, hub G+W
    const queue: number[] = [];
    let qh = 0;
    const inQueue = new Uint8Array(G + W + 1);
    const push = (n: number) => {
      if (inQueue[n] === 0) {
        inQueue[n] = 1;
        queue.push(n);
      }
    };
    const relaxW = (w: number, d: number) => {
      if (d >= dw[w]) return;
      const old = buckets.get(dw[w])!;
      old.delete(w);
      if (old.size === 0) buckets.delete(dw[w]);
      dw[w] = d;
      let set = buckets.get(d);
      if (!set) {
        set = new Set();
        buckets.set(d, set);
      }
      set.add(w);
      push(G + w);
    };
    for (let g = 0; g < G; g++) {
      if (fill[g] < need[g]) {
        dg[g] = 0;
        push(g);
      }
    }
    let pops = 0;
    const limit = 64 * (G + W + 2) * (G + W + 2) + 1_000_000;
    while (qh < queue.length) {
      if (++pops > limit) throw new Error('planner: shortest-path search did not converge (internal error)');
      const n = queue[qh++];
      inQueue[n] = 0;
      if (qh > 4096 && qh * 2 > queue.length) {
        queue.splice(0, qh);
        qh = 0;
      }
      if (n < G) {
        const g = n;
        const d = dg[g];
        for (let i = goodOff[g]; i < goodOff[g + 1]; i++) if (!taken.has(g, goodW[i])) relaxW(goodW[i], d);
        for (const [label, set] of buckets) {
          if (!(label > d + 1)) continue;
          for (const w of set) {
            if (!taken.has(g, w) && !goodSet.has(g, w)) relaxW(w, d + 1);
          }
        }
      } else if (n < G + W) {
        const w = n - G;
        const d = dw[w];
        for (const g of byWorker[w]) {
          const nd = d + (goodSet.has(g, w) ? 0 : -1);
          if (nd < dg[g]) {
            dg[g] = nd;
            push(g);
          }
        }
        if (reg[w] < regCap[w] && d < dt) dt = d;
        if (hub[w] < hubCap[w] && d < dh) {
          dh = d;
          push(G + W);
        }
      } else {
        if (this.r.hubUsed < hubTotal && dh < dt) dt = dh;
        for (let w = 0; w < W; w++) if (hub[w] > 0) relaxW(w, dh);
      }
    }
    if (dt === INF) return false;
    let augmented = 0;
    while (this.r.missing > 0 && this.augmentTight(dg, dw, dh, dt)) augmented++;
    return augmented > 0;
  }

  /** Breadth-first search for one s–t path of tight edges (labels from {@link phase}); augments it. */
  private augmentTight(dg: Float64Array, dw: Float64Array, dh: number, dt: number): boolean {
    const { W, regCap, hubCap, hubTotal, need, fill, goodOff, goodW, reg, hub } = this.r;
    const { goodSet, byWorker } = this;
    const taken = this.r.taken!;
    const G = need.length;
    const HUB = -2;
    const ROOT = -1;
    const pg = new Int32Array(G).fill(-3); // parent of group: worker (backward edge) or ROOT; -3 unvisited
    const pw = new Int32Array(W).fill(-3); // parent of worker: group (forward edge) or HUB
    let ph = -3; // parent of hub: worker
    // unvisited workers by label, so the implicit group → worker edges cost O(1) per visit or skip
    const unvisited = new Map<number, Set<number>>();
    for (let w = 0; w < W; w++) {
      if (dw[w] === INF) continue;
      let set = unvisited.get(dw[w]);
      if (!set) {
        set = new Set();
        unvisited.set(dw[w], set);
      }
      set.add(w);
    }
    const queue: number[] = [];
    for (let g = 0; g < G; g++) {
      if (fill[g] < need[g] && dg[g] === 0) {
        pg[g] = ROOT;
        queue.push(g);
      }
    }
    let tailWorker = -1; // the worker (or HUB) whose edge into t closes the path
    const visitW = (w: number, parent: number): boolean => {
      pw[w] = parent;
      unvisited.get(dw[w])?.delete(w);
      if (reg[w] < regCap[w] && dw[w] === dt) {
        tailWorker = w;
        return true;
      }
      queue.push(G + w);
      return false;
    };
    search: for (let qh = 0; qh < queue.length; qh++) {
      const n = queue[qh];
      if (n < G) {
        const g = n;
        const d = dg[g];
        for (let i = goodOff[g]; i < goodOff[g + 1]; i++) {
          const w = goodW[i];
          if (pw[w] === -3 && dw[w] === d && !taken.has(g, w) && visitW(w, g)) break search;
        }
        const set = unvisited.get(d + 1);
        if (set) {
          for (const w of set) {
            if (taken.has(g, w) || goodSet.has(g, w)) continue;
            if (visitW(w, g)) break search;
          }
        }
      } else if (n < G + W) {
        const w = n - G;
        const d = dw[w];
        if (hub[w] < hubCap[w] && ph === -3 && dh === d) {
          ph = w;
          if (this.r.hubUsed < hubTotal && dh === dt) {
            tailWorker = HUB;
            break;
          }
          queue.push(G + W);
        }
        for (const g of byWorker[w]) {
          if (pg[g] !== -3) continue;
          if (dg[g] === d + (goodSet.has(g, w) ? 0 : -1)) {
            pg[g] = w;
            queue.push(g);
          }
        }
      } else {
        for (let w = 0; w < W; w++) {
          if (hub[w] > 0 && pw[w] === -3 && dw[w] === dh && visitW(w, HUB)) break search;
        }
      }
    }
    if (tailWorker === -1) return false;
    // augment along the parent chain, from t back to s
    let w: number;
    if (tailWorker === HUB) {
      this.r.hubUsed++;
      w = ph;
      hub[w]++;
    } else {
      w = tailWorker;
      reg[w]++;
    }
    for (;;) {
      const p = pw[w];
      if (p === HUB) {
        hub[w]--;
        w = ph;
        hub[w]++;
        continue;
      }
      const g = p;
      taken.add(g, w);
      byWorker[w].add(g);
      const back = pg[g];
      if (back === ROOT) {
        fill[g]++;
        this.r.missing--;
        return true;
      }
      taken.delete(g, back);
      byWorker[back].delete(g);
      w = back;
    }
  }
}
