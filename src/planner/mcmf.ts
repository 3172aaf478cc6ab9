/**
 * A small exact min-cost flow on an explicit graph, for the capacity planner (`proportional.ts`), whose
 * group → worker pairs are few enough to list (only pairs with a fractional share).
 *
 * Primal–dual: exact distances from s by label correcting (Bellman–Ford with a FIFO queue; residual costs
 * are integers and no negative cycle exists, as the flow stays min-cost for its value), then a blocking
 * flow (Dinic) on the admissible graph — edges with d(v) = d(u) + cost, leveled by hop count so that
 * cost-0 cycles cannot trap it — until t is out of reach; then the next phase. Every augmenting path is a
 * shortest one, so the flow stays min-cost for its value (successive shortest paths).
 */
const INF = Number.POSITIVE_INFINITY;

export class FlowGraph {
  private readonly head: Int32Array;
  private to: number[] = [];
  private cap: number[] = [];
  private cost: number[] = [];
  private next: number[] = [];

  constructor(readonly n: number) {
    this.head = new Int32Array(n).fill(-1);
  }

  /** Adds u → v (capacity, cost) and its reverse; returns the forward edge's id. */
  addEdge(u: number, v: number, cap: number, cost: number): number {
    const e = this.to.length;
    this.push(u, v, cap, cost);
    this.push(v, u, 0, -cost);
    return e;
  }

  private push(u: number, v: number, cap: number, cost: number): void {
    this.to.push(v);
    this.cap.push(cap);
    this.cost.push(cost);
    this.next.push(this.head[u]);
    this.head[u] = this.to.length - 1;
  }

  /** Flow on forward edge e (the residual capacity of its reverse). */
  flowOn(e: number): number {
    return this.cap[e ^ 1];
  }

  /** Sends as much flow as possible from s to t at least cost; returns the flow's value. */
  minCostMaxFlow(s: number, t: number): number {
    const { n, head, to, cap, cost, next } = this;
    const dist = new Float64Array(n);
    const level = new Int32Array(n);
    const inQueue = new Uint8Array(n);
    const iter = new Int32Array(n);
    let total = 0;
    for (;;) {
      // exact distances (label correcting)
      dist.fill(INF);
      dist[s] = 0;
      const queue: number[] = [s];
      inQueue[s] = 1;
      for (let qi = 0; qi < queue.length; qi++) {
        const u = queue[qi];
        inQueue[u] = 0;
        for (let e = head[u]; e >= 0; e = next[e]) {
          if (cap[e] <= 0) continue;
          const d = dist[u] + cost[e];
          if (d < dist[to[e]]) {
            dist[to[e]] = d;
            if (!inQueue[to[e]]) {
              inQueue[to[e]] = 1;
              queue.push(to[e]);
            }
          }
        }
        if (qi > 4096 && qi * 2 > queue.length) {
          queue.splice(0, qi + 1);
          qi = -1;
        }
      }
      if (dist[t] === INF) return total;
      // blocking flows on the admissible graph, leveled by hops
      for (;;) {
        level.fill(-1);
        level[s] = 0;
        const bfs: number[] = [s];
        for (let qi = 0; qi < bfs.length; qi++) {
          const u = bfs[qi];
          for (let e = head[u]; e >= 0; e = next[e]) {
            const v = to[e];
            if (cap[e] > 0 && level[v] < 0 && dist[v] === dist[u] + cost[e]) {
              level[v] = level[u] + 1;
              bfs.push(v);
            }
          }
        }
        if (level[t] < 0) break;
        for (let u = 0; u < n; u++) iter[u] = head[u];
        for (;;) {
          const pushed = this.augment(s, t, dist, level, iter);
          if (pushed === 0) break;
          total += pushed;
        }
      }
    }
  }

  /** One augmenting path along admissible, leveled edges (iterative DFS with current-arc pointers). */
  private augment(s: number, t: number, dist: Float64Array, level: Int32Array, iter: Int32Array): number {
    const { to, cap, cost, next } = this;
    const path: number[] = [];
    let u = s;
    for (;;) {
      if (u === t) {
        let f = INF;
        for (const e of path) if (cap[e] < f) f = cap[e];
        for (const e of path) {
          cap[e] -= f;
          cap[e ^ 1] += f;
        }
        return f;
      }
      let e = iter[u];
      while (e >= 0) {
        const v = to[e];
        if (cap[e] > 0 && level[v] === level[u] + 1 && dist[v] === dist[u] + cost[e]) break;
        e = next[e];
      }
      iter[u] = e;
      if (e >= 0) {
        path.push(e);
        u = to[e];
        continue;
      }
      // dead end: retreat
      if (path.length === 0) return 0;
      level[u] = -1;
      const back = path.pop()!;
      u = to[back ^ 1];
      iter[u] = next[iter[u]];
    }
  }
}
