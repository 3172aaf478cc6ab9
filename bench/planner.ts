/**
 * `npm run bench:planner`: plans the same scenarios with escheduler's planner and with a model of the
 * original v0.1.59 policy (bench/original-policy.ts), one JSON line per (impl, size, groups, keyed share,
 * scenario), then summary lines of ratios. Scenarios start from the state each implementation produced
 * itself for the initial assignment:
 *   initial — nothing held; noop — re-plan with no change; join — one worker more; leave — one worker less.
 * `lowerBound` is the least number of moves of any balanced plan (from our planner, which computes it
 * exactly for unkeyed tasks; for keyed tasks it counts only the moves forced by split keys).
 * Timings of the original are of this JavaScript model, not of the Go code.
 *
 * Then the weighted rows of bench/planner-weights.ts (issue 14): weighted vs unweighted plan time at 100k
 * tasks × 1k workers, and max load / fair share with moves for Zipf-weighted tasks on mixed capacities.
 *
 * Usage: npm run bench:planner [-- --quick] [-- --weighted-only]
 */
import { performance } from 'node:perf_hooks';
import { rebalance } from '../src/planner/rebalance.js';
import type { Task } from '../src/task.js';
import { originalPlan, seededRandom } from './original-policy.js';
import { weightedRows } from './planner-weights.js';

type Impl = 'escheduler' | 'original-v0.1.59';
type Scenario = 'initial' | 'noop' | 'join' | 'leave';
interface Input {
  workers: string[];
  tasks: Task[];
  current: Map<string, string[]>;
}

const quick = process.argv.includes('--quick');
const sizes: [number, number][] = quick
  ? [[10_000, 100]]
  : [
      [10_000, 100],
      [100_000, 100],
      [100_000, 1_000],
    ];
const groupCounts = [1, 10, 100, 1_000];
const keyedShares = [0, 0.3];
const scenarios: Scenario[] = ['initial', 'noop', 'join', 'leave'];

function makeTasks(n: number, groups: number, keyedShare: number): Task[] {
  const keyed = Math.round(n * keyedShare);
  const keys = Math.max(1, Math.round(keyed / 3)); // about 3 tasks per key
  return Array.from({ length: n }, (_, i) => ({
    id: `task-${i}`,
    group: `g${i % groups}`,
    key: i < keyed ? `key-${i % keys}` : undefined,
  }));
}

function stateOf(target: Map<string, Task[]>): Map<string, string[]> {
  return new Map([...target].map(([w, ts]) => [w, ts.map((t) => t.id)]));
}

function quality(input: Input, target: Map<string, Task[]>) {
  const W = input.workers.length;
  const loads = [...target.values()].map((ts) => ts.length);
  const perGroup = new Map<string, Map<string, number>>();
  const keyWorkers = new Map<string, Set<string>>();
  for (const [w, ts] of target) {
    for (const t of ts) {
      if (t.key) {
        let s = keyWorkers.get(t.key);
        if (!s) {
          s = new Set();
          keyWorkers.set(t.key, s);
        }
        s.add(w);
        continue;
      }
      const g = t.group ?? '';
      let m = perGroup.get(g);
      if (!m) {
        m = new Map();
        perGroup.set(g, m);
      }
      m.set(w, (m.get(w) ?? 0) + 1);
    }
  }
  let worst = 0;
  for (const m of perGroup.values()) {
    const vals = [...m.values()];
    const min = m.size < W ? 0 : Math.min(...vals);
    worst = Math.max(worst, Math.max(...vals) - min);
  }
  let splitKeys = 0;
  for (const s of keyWorkers.values()) if (s.size > 1) splitKeys++;
  const max = Math.max(...loads);
  return {
    maxMinTotal: max - Math.min(...loads),
    worstMaxMinPerGroup: worst,
    maxOverAvg: Math.round((max / (input.tasks.length / W)) * 1000) / 1000,
    splitKeys,
  };
}

function stats(ms: number[]) {
  const s = [...ms].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)];
  return { planMsMedian: round(at(0.5)), planMsP99: round(at(0.99)) };
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}

function inputFor(scenario: Scenario, workers: string[], tasks: Task[], state: Map<string, string[]>): Input {
  switch (scenario) {
    case 'initial':
      return { workers, tasks, current: new Map() };
    case 'noop':
      return { workers, tasks, current: state };
    case 'join':
      return { workers: [...workers, 'joiner'], tasks, current: state };
    case 'leave':
      return { workers: workers.slice(1), tasks, current: state };
  }
}

interface Line {
  impl: Impl;
  scenario: Scenario;
  tasks: number;
  workers: number;
  groups: number;
  keyedShare: number;
  moves: number;
  lowerBound: number;
  planMsMedian: number;
  [k: string]: unknown;
}

const lines: Line[] = [];
const random = seededRandom(20240601);

// a yardstick for reading the timings on this machine: building a 100k-entry string Map
{
  const ids = Array.from({ length: 100_000 }, (_, i) => `task-${i}`);
  const ms: number[] = [];
  for (let r = 0; r < 7; r++) {
    const t0 = performance.now();
    const m = new Map<string, number>();
    for (let i = 0; i < ids.length; i++) m.set(ids[i], i);
    ms.push(performance.now() - t0);
  }
  console.log(
    JSON.stringify({ machine: true, node: process.version, map100kSetMsMedian: stats(ms).planMsMedian }),
  );
}

const weightedOnly = process.argv.includes('--weighted-only');
for (const [T, W] of weightedOnly ? [] : sizes) {
  const reps = T >= 100_000 ? 3 : 9;
  for (const groups of groupCounts) {
    for (const keyedShare of keyedShares) {
      const tasks = makeTasks(T, groups, keyedShare);
      const workers = Array.from({ length: W }, (_, i) => `worker-${i}`);
      const ourState = stateOf(rebalance({ workers, tasks }).target);
      const theirState = stateOf(originalPlan({ workers, tasks, current: new Map() }, random).target);
      for (const scenario of scenarios) {
        for (const impl of ['escheduler', 'original-v0.1.59'] as Impl[]) {
          const input = inputFor(scenario, workers, tasks, impl === 'escheduler' ? ourState : theirState);
          const lowerBound = rebalance(input).lowerBound;
          const times: number[] = [];
          let target = new Map<string, Task[]>();
          let moves = 0;
          for (let r = 0; r < reps; r++) {
            const t0 = performance.now();
            if (impl === 'escheduler') {
              const res = rebalance(input);
              times.push(performance.now() - t0);
              target = res.target;
              moves = res.moves;
            } else {
              const res = originalPlan(input, random);
              times.push(performance.now() - t0);
              target = res.target;
              moves = res.moves;
            }
          }
          const line: Line = {
            impl,
            scenario,
            tasks: T,
            workers: input.workers.length,
            groups,
            keyedShare,
            ...stats(times),
            moves,
            lowerBound,
            movesOverLowerBound: lowerBound > 0 ? round(moves / lowerBound) : moves === 0 ? 1 : null,
            ...quality(input, target),
            heapMB: round(process.memoryUsage().heapUsed / 1e6),
          };
          lines.push(line);
          console.log(JSON.stringify(line));
        }
      }
    }
  }
}

// summary: ratios original / ours, per size and overall
function summarize(filter: (l: Line) => boolean, label: string): void {
  const ours = lines.filter((l) => l.impl === 'escheduler' && filter(l));
  const theirs = lines.filter((l) => l.impl === 'original-v0.1.59' && filter(l));
  const sum = (ls: Line[], k: string) => ls.reduce((s, l) => s + Number(l[k] ?? 0), 0);
  const max = (ls: Line[], k: string) => ls.reduce((s, l) => Math.max(s, Number(l[k] ?? 0)), 0);
  console.log(
    JSON.stringify({
      summary: label,
      cases: ours.length,
      movesEscheduler: sum(ours, 'moves'),
      movesOriginal: sum(theirs, 'moves'),
      lowerBound: sum(ours, 'lowerBound'),
      movesRatioOriginalOverOurs: round(sum(theirs, 'moves') / Math.max(1, sum(ours, 'moves'))),
      worstMaxMinTotalEscheduler: max(ours, 'maxMinTotal'),
      worstMaxMinTotalOriginal: max(theirs, 'maxMinTotal'),
      worstMaxMinPerGroupEscheduler: max(ours, 'worstMaxMinPerGroup'),
      worstMaxMinPerGroupOriginal: max(theirs, 'worstMaxMinPerGroup'),
      splitKeysEscheduler: sum(ours, 'splitKeys'),
      splitKeysOriginal: sum(theirs, 'splitKeys'),
      worstPlanMsMedianEscheduler: max(ours, 'planMsMedian'),
      worstPlanMsMedianOriginalModel: max(theirs, 'planMsMedian'),
    }),
  );
}
for (const [T, W] of weightedOnly ? [] : sizes)
  summarize((l) => l.tasks === T && (l.workers === W || Math.abs(l.workers - W) === 1), `${T}x${W}`);
if (!weightedOnly) summarize(() => true, 'all');
weightedRows(quick);
