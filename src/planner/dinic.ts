import type { FlowState } from './flow.js';

const INF = Number.POSITIVE_INFINITY;

/** The part of the extras flow state that Dinic reads and writes. */
export interface GoodPairFlow extends FlowState {
  /** 1 when good pair i carries a unit. */
  readonly goodUsed: Uint8Array;
}

/**
 * Step 1 of {@link solveExtras}, second half: Dinic's maximum flow over the good pairs only, started from
 * the flow already in `r` (the greedy pass), written back into `r`. Nodes: s, groups, workers, the hub h
 * (the optional slots), t; edges s → g (r_g), g → w for good pairs (1), w → t (lo_w), w → h (hi_w − lo_w),
 * h → t (R − Σ lo).
 */
export function dinic(r: GoodPairFlow): void {
  const { W, regCap, hubCap, hubTotal, need, fill, reg, hub, goodOff, goodW, goodUsed } = r;
  const G = need.length;
  const S = 0;
  const H = G + W + 1;
  const T = G + W + 2;
  const N = G + W + 3;
  const pairs = goodW.length;
  const M = 2 * (G + pairs + 2 * W + 1);
  const to = new Int32Array(M);
  const cap = new Int32Array(M);
  const nxt = new Int32Array(M);
  const head = new Int32Array(N).fill(-1);
  let m = 0;
  // an edge u → v with capacity c of which `flow` is used; returns its index
  const add = (u: number, v: number, c: number, flow: number): number => {
    to[m] = v;
    cap[m] = c - flow;
    nxt[m] = head[u];
    head[u] = m++;
    to[m] = u;
    cap[m] = flow;
    nxt[m] = head[v];
    head[v] = m++;
    return m - 2;
  };
  const wt = new Int32Array(W).fill(-1);
  const wh = new Int32Array(W).fill(-1);
  let ht = -1;
  if (hubTotal > 0) ht = add(H, T, hubTotal, r.hubUsed);
  for (let w = W - 1; w >= 0; w--) {
    if (hubTotal > 0 && hubCap[w] > 0) wh[w] = add(1 + G + w, H, hubCap[w], hub[w]);
    if (regCap[w] > 0) wt[w] = add(1 + G + w, T, regCap[w], reg[w]);
  }
  const edgeOf = new Int32Array(pairs).fill(-1);
  for (let g = G - 1; g >= 0; g--) {
    if (goodOff[g] === goodOff[g + 1]) continue;
    add(S, 1 + g, need[g], fill[g]);
    // head insertion reverses: add in reverse so the preferred worker is tried first
    for (let i = goodOff[g + 1] - 1; i >= goodOff[g]; i--)
      edgeOf[i] = add(1 + g, 1 + G + goodW[i], 1, goodUsed[i]);
  }
  const level = new Int32Array(N);
  const it = new Int32Array(N);
  const queue = new Int32Array(N);
  const path: number[] = [];
  for (;;) {
    level.fill(-1);
    level[S] = 0;
    let qh = 0;
    let qt = 0;
    queue[qt++] = S;
    while (qh < qt) {
      const u = queue[qh++];
      for (let e = head[u]; e !== -1; e = nxt[e]) {
        if (cap[e] > 0 && level[to[e]] < 0) {
          level[to[e]] = level[u] + 1;
          queue[qt++] = to[e];
        }
      }
    }
    if (level[T] < 0) break;
    it.set(head);
    // iterative blocking-flow search
    path.length = 0;
    let u = S;
    for (;;) {
      if (u === T) {
        let f = INF;
        for (const e of path) if (cap[e] < f) f = cap[e];
        for (const e of path) {
          cap[e] -= f;
          cap[e ^ 1] += f;
        }
        path.length = 0;
        u = S;
        continue;
      }
      let e = it[u];
      while (e !== -1 && !(cap[e] > 0 && level[to[e]] === level[u] + 1)) e = nxt[e];
      it[u] = e;
      if (e !== -1) {
        path.push(e);
        u = to[e];
        continue;
      }
      if (u === S) break;
      level[u] = -1;
      const back = path.pop()!;
      u = to[back ^ 1];
      it[u] = nxt[it[u]];
    }
  }
  // read the flow back
  let missing = 0;
  for (let g = 0; g < G; g++) {
    fill[g] = 0;
    for (let i = goodOff[g]; i < goodOff[g + 1]; i++) {
      goodUsed[i] = cap[edgeOf[i]] === 0 ? 1 : 0;
      fill[g] += goodUsed[i];
    }
    missing += need[g] - fill[g];
  }
  r.missing = missing;
  for (let w = 0; w < W; w++) {
    if (wt[w] >= 0) reg[w] = regCap[w] - cap[wt[w]];
    if (wh[w] >= 0) hub[w] = hubCap[w] - cap[wh[w]];
  }
  if (ht >= 0) r.hubUsed = hubTotal - cap[ht];
}
