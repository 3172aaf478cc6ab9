/**
 * The weighted rows of `npm run bench:planner` (issue 14), one JSON line each:
 *
 * - `weightedSpeed`: 100k tasks (10 groups) × 1k workers, capacities 1–8, 30% of the tasks weighted (Zipf
 *   1–1000), planned beside the same tasks and workers with every weight and capacity 1 (today's planner),
 *   alternating in one run (7 timed runs each after 5 untimed ones): initial, noop, join, leave; `ratio` =
 *   weighted median / unweighted median (target ≤ 2); per-group balance of the weighted plan: the largest
 *   |load_g − fair_g| over the group's heaviest task (`worstGroupDevOverHeaviest`) and the largest excess
 *   load_g − fair_g over the worker's own heaviest task of g (`worstGroupExcessOverOwnHeaviest`), both
 *   proven < 1.
 * - `weightedQuality`: 100k tasks with Zipf weights 1–1000 over 100 workers of capacities 1–8: the most
 *   loaded worker's load over its fair share (max over workers, `maxLoadOverFair`), for ours with weights,
 *   ours counting tasks only (weights dropped, capacities kept) and the model of the original (counts,
 *   no capacities; bench/original-policy.ts) — each from its own initial plan, with the tasks and the
 *   weight moved by a join, a leave and a rolling restart (each worker leaves and comes back, in turn),
 *   and for ours with weights the bound on the moved weight (`planner/weighted.ts`) summed over the steps.
 */
import { performance } from 'node:perf_hooks';
import { rebalance } from '../src/planner/rebalance.js';
import type { Task } from '../src/task.js';
import { mulberry32 } from '../src/util/random.js';
import { originalPlan } from './original-policy.js';

type State = Map<string, string[]>;

/** Zipf(s = 1) over 1..max by inverse transform on the harmonic CDF. */
function zipf(random: () => number, max: number): () => number {
  const cdf = new Float64Array(max);
  let sum = 0;
  for (let k = 1; k <= max; k++) {
    sum += 1 / k;
    cdf[k - 1] = sum;
  }
  return () => {
    const u = random() * sum;
    let lo = 0;
    let hi = max - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid] < u) lo = mid + 1;
      else hi = mid;
    }
    return lo + 1;
  };
}

function stateOf(target: Map<string, Task[]>): State {
  return new Map([...target].map(([w, ts]) => [w, ts.map((t) => t.id)]));
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return Math.round(s[Math.floor(s.length / 2)] * 100) / 100;
}

/** max over workers of load / (L · c_w / C), loads by the true weights. */
function maxOverFair(
  target: Map<string, Task[]>,
  weight: Map<string, number>,
  caps: Map<string, number>,
): number {
  let L = 0;
  let C = 0;
  for (const w of weight.values()) L += w;
  for (const w of target.keys()) C += caps.get(w) ?? 1;
  let worst = 0;
  for (const [w, ts] of target) {
    let load = 0;
    for (const t of ts) load += weight.get(t.id)!;
    worst = Math.max(worst, load / ((L * (caps.get(w) ?? 1)) / C));
  }
  return Math.round(worst * 1000) / 1000;
}

function moved(before: State, after: Map<string, Task[]>, weight: Map<string, number>, live: Set<string>) {
  const holder = new Map<string, string>();
  for (const [w, ids] of before) if (live.has(w)) for (const id of ids) holder.set(id, w);
  let tasks = 0;
  let w8 = 0;
  for (const [w, ts] of after) {
    for (const t of ts) {
      const h = holder.get(t.id);
      if (h !== undefined && h !== w) {
        tasks++;
        w8 += weight.get(t.id)!;
      }
    }
  }
  return { tasks, weight: w8 };
}

export function weightedRows(quick: boolean): void {
  speedRows(quick);
  qualityRows(quick);
}

function speedRows(quick: boolean): void {
  const T = quick ? 10_000 : 100_000;
  const W = quick ? 100 : 1_000;
  const random = mulberry32(14);
  const z = zipf(random, 1000);
  const workers = Array.from({ length: W }, (_, i) => `worker-${i}`);
  const caps = new Map(workers.map((w) => [w, 1 + Math.floor(random() * 8)]));
  caps.set('joiner', 4);
  const weighted: Task[] = Array.from({ length: T }, (_, i) => {
    const t: Task = { id: `task-${i}`, group: `g${i % 10}` };
    if (random() < 0.3) t.weight = z();
    return t;
  });
  const plain: Task[] = weighted.map(({ weight: _w, ...t }) => t);
  const wState = stateOf(rebalance({ workers, tasks: weighted, capacities: caps }).target);
  const pState = stateOf(rebalance({ workers, tasks: plain }).target);
  const inputs = {
    initial: (s: State) => ({ workers, current: new Map() as State, s }),
    noop: (s: State) => ({ workers, current: s, s }),
    join: (s: State) => ({ workers: [...workers, 'joiner'], current: s, s }),
    leave: (s: State) => ({ workers: workers.slice(1), current: s, s }),
  };
  const reps = 7;
  for (const [scenario, make] of Object.entries(inputs)) {
    const wIn = make(wState);
    const pIn = make(pState);
    // five untimed runs of each first, so neither median holds the compiler's warm-up (a join of the
    // weighted planner took 287, 155, 105, 111, 74, then 52-57 ms run after run)
    for (let r = 0; r < 5; r++) {
      rebalance({ workers: wIn.workers, tasks: weighted, current: wIn.current, capacities: caps });
      rebalance({ workers: pIn.workers, tasks: plain, current: pIn.current });
    }
    const wMs: number[] = [];
    const pMs: number[] = [];
    let mode = '';
    let groups: ReturnType<typeof groupBalance> | undefined;
    let moves = 0;
    let unweightedMoves = 0;
    for (let r = 0; r < reps; r++) {
      // alternate, so both see the same machine load
      let t0 = performance.now();
      const res = rebalance({
        workers: wIn.workers,
        tasks: weighted,
        current: wIn.current,
        capacities: caps,
      });
      wMs.push(performance.now() - t0);
      mode = res.stats.mode;
      moves = res.moves;
      groups ??= groupBalance(res.target, res.stats.groupsBalanced, caps);
      t0 = performance.now();
      unweightedMoves = rebalance({ workers: pIn.workers, tasks: plain, current: pIn.current }).moves;
      pMs.push(performance.now() - t0);
    }
    const weightedMs = median(wMs);
    const unweightedMs = median(pMs);
    console.log(
      JSON.stringify({
        weightedSpeed: scenario,
        tasks: T,
        workers: wIn.workers.length,
        weightedShare: 0.3,
        mode,
        weightedMsMedian: weightedMs,
        unweightedMsMedian: unweightedMs,
        ratio: Math.round((weightedMs / unweightedMs) * 100) / 100,
        moves,
        unweightedMoves,
        ...groups,
      }),
    );
  }
}

/**
 * Per-group balance of a weighted plan: the largest |load_g(w) − fair_g(w)| over groups and workers, as a
 * fraction of the group's heaviest task (the proven bound is < 1, `planner/grouped.ts`), and the largest
 * load_g(w) / fair_g(w).
 */
function groupBalance(
  target: Map<string, Task[]>,
  groupsBalanced: boolean | undefined,
  caps: Map<string, number>,
) {
  let C = 0;
  for (const w of target.keys()) C += caps.get(w) ?? 1;
  const L = new Map<string, number>();
  const H = new Map<string, number>();
  for (const ts of target.values()) {
    for (const t of ts) {
      const g = t.group ?? '';
      L.set(g, (L.get(g) ?? 0) + (t.weight ?? 1));
      H.set(g, Math.max(H.get(g) ?? 0, t.weight ?? 1));
    }
  }
  let worstDevOverHeaviest = 0;
  let worstOverOwnHeaviest = 0;
  let worstGroupLoadOverFair = 0;
  for (const [w, ts] of target) {
    const load = new Map<string, number>();
    const own = new Map<string, number>(); // the worker's heaviest task of the group
    for (const t of ts) {
      load.set(t.group ?? '', (load.get(t.group ?? '') ?? 0) + (t.weight ?? 1));
      own.set(t.group ?? '', Math.max(own.get(t.group ?? '') ?? 0, t.weight ?? 1));
    }
    for (const [g, Lg] of L) {
      const fair = (Lg * (caps.get(w) ?? 1)) / C;
      const l = load.get(g) ?? 0;
      worstDevOverHeaviest = Math.max(worstDevOverHeaviest, Math.abs(l - fair) / H.get(g)!);
      if (l > fair) worstOverOwnHeaviest = Math.max(worstOverOwnHeaviest, (l - fair) / own.get(g)!);
      worstGroupLoadOverFair = Math.max(worstGroupLoadOverFair, l / fair);
    }
  }
  return {
    groupsBalanced,
    // rounded down: both are proven < 1, and 0.9999 should not print as 1
    worstGroupDevOverHeaviest: Math.floor(worstDevOverHeaviest * 1000) / 1000,
    worstGroupExcessOverOwnHeaviest: Math.floor(worstOverOwnHeaviest * 1000) / 1000,
    worstGroupLoadOverFair: Math.round(worstGroupLoadOverFair * 1000) / 1000,
  };
}

type Impl = 'ours-weighted' | 'ours-count-only' | 'original-v0.1.59';

function qualityRows(quick: boolean): void {
  const T = quick ? 20_000 : 100_000;
  const W = 100;
  const random = mulberry32(1414);
  const z = zipf(random, 1000);
  const workers = Array.from({ length: W }, (_, i) => `worker-${i}`);
  const caps = new Map(workers.map((w) => [w, 1 + Math.floor(random() * 8)]));
  caps.set('joiner', 4);
  const weighted: Task[] = Array.from({ length: T }, (_, i) => ({ id: `task-${i}`, weight: z() }));
  const weight = new Map(weighted.map((t) => [t.id, t.weight ?? 1]));
  const plain: Task[] = weighted.map(({ weight: _w, ...t }) => t);
  const shuffle = mulberry32(7);
  const plan = (impl: Impl, ws: string[], current: State) => {
    if (impl === 'original-v0.1.59')
      return { target: originalPlan({ workers: ws, tasks: plain, current }, shuffle).target };
    const res = rebalance({
      workers: ws,
      tasks: impl === 'ours-weighted' ? weighted : plain,
      current,
      capacities: caps,
    });
    return { target: res.target, bound: res.stats.movedWeightBound };
  };
  for (const impl of ['ours-weighted', 'ours-count-only', 'original-v0.1.59'] as Impl[]) {
    const t0 = performance.now();
    const initial = plan(impl, workers, new Map());
    const state = stateOf(initial.target);
    const join = plan(impl, [...workers, 'joiner'], state);
    const joinMoved = moved(state, join.target, weight, new Set([...workers, 'joiner']));
    const leave = plan(impl, workers.slice(1), state);
    const leaveMoved = moved(state, leave.target, weight, new Set(workers.slice(1)));
    // rolling restart: each worker in turn leaves (its tasks orphaned, not moves) and comes back
    let cur = state;
    let rollTasks = 0;
    let rollWeight = 0;
    let rollBound = 0;
    const steps = quick ? 10 : W;
    let worstDuring = 0;
    for (let i = 0; i < steps; i++) {
      const gone = workers.filter((_, j) => j !== i);
      const a = plan(impl, gone, cur);
      const m1 = moved(cur, a.target, weight, new Set(gone));
      const aState = stateOf(a.target);
      const b = plan(impl, workers, aState);
      const m2 = moved(aState, b.target, weight, new Set(workers));
      rollTasks += m1.tasks + m2.tasks;
      rollWeight += m1.weight + m2.weight;
      rollBound += (a.bound ?? 0) + (b.bound ?? 0);
      worstDuring = Math.max(worstDuring, maxOverFair(b.target, weight, caps));
      cur = stateOf(b.target);
    }
    console.log(
      JSON.stringify({
        weightedQuality: impl,
        tasks: T,
        workers: W,
        capacities: '1-8',
        weights: 'Zipf 1-1000',
        maxLoadOverFair: maxOverFair(initial.target, weight, caps),
        join: {
          ...joinMoved,
          weightBound: join.bound ?? null,
          joinerFairShare: Math.round(fairOf('joiner', [...workers, 'joiner'])),
        },
        leave: { ...leaveMoved, weightBound: leave.bound ?? null },
        rollingRestart: {
          steps,
          tasks: rollTasks,
          weight: rollWeight,
          weightBound: impl === 'ours-weighted' ? rollBound : null,
          worstMaxLoadOverFair: worstDuring,
        },
        totalWeight: [...weight.values()].reduce((a, b) => a + b, 0),
        seconds: Math.round((performance.now() - t0) / 10) / 100,
      }),
    );
  }
  function fairOf(w: string, ws: string[]): number {
    let L = 0;
    for (const x of weight.values()) L += x;
    const C = ws.reduce((s, x) => s + (caps.get(x) ?? 1), 0);
    return (L * (caps.get(w) ?? 1)) / C;
  }
}
