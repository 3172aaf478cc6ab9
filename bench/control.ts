/**
 * `npm run bench:control`: the cost of operators' control around the planner. For each size, plans the
 * same input with `rebalance()` alone and with `planWithControl()` (no control; a cordon; a drain; 20 pins;
 * a pause during a join; `maxMoves: 100` on a join), median of 5 runs each, one JSON line per case with
 * the ratio to `rebalance()` measured in the same run.
 *
 * Usage: npm run bench:control [-- --quick]
 */
import { performance } from 'node:perf_hooks';
import { rebalance } from '../src/planner/rebalance.js';
import { planWithControl } from '../src/scheduler/control/plan.js';
import { type ControlState, emptyControl } from '../src/scheduler/control/state.js';
import type { Task } from '../src/task.js';

const quick = process.argv.includes('--quick');
const sizes: [number, number][] = quick
  ? [[10_000, 100]]
  : [
      [10_000, 100],
      [100_000, 100],
      [100_000, 1_000],
    ];
const stamp = { by: 'bench', reason: '', at: '' };

function median(f: () => void, runs = 5): number {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    f();
    times.push(performance.now() - t0);
  }
  return times.sort((a, b) => a - b)[Math.floor(runs / 2)];
}

for (const [N, W] of sizes) {
  const tasks: Task[] = Array.from({ length: N }, (_, i) => ({ id: `task-${i}`, group: `g${i % 10}` }));
  const workers = Array.from({ length: W }, (_, i) => `w${i}`);
  const start = rebalance({ workers, tasks });
  const current = new Map([...start.target].map(([w, ts]) => [w, ts.map((t) => t.id)]));
  const joined = [...workers, 'joiner'];
  const control = (c: Partial<ControlState>): ControlState => ({ ...emptyControl(), ...c });
  const pins = Array.from({ length: 20 }, (_, i) => ({
    task: `task-${i * 7}`,
    worker: `w${(i * 3) % W}`,
    ...stamp,
  }));
  const base = median(() => rebalance({ workers: joined, tasks, current }));
  const cases: [string, () => { moves: number; deferred: number }][] = [
    ['no control (join)', () => planWithControl({ workers: joined, tasks, current })],
    [
      'cordon 1 (join)',
      () =>
        planWithControl({
          workers: joined,
          tasks,
          current,
          control: control({ workers: [{ worker: 'w0', state: 'cordoned', ...stamp }] }),
        }),
    ],
    [
      'drain 1',
      () =>
        planWithControl({
          workers,
          tasks,
          current,
          control: control({ workers: [{ worker: 'w0', state: 'draining', ...stamp }] }),
        }),
    ],
    [
      '20 pins (join)',
      () => planWithControl({ workers: joined, tasks, current, control: control({ pins }) }),
    ],
    [
      'pause (join)',
      () => planWithControl({ workers: joined, tasks, current, control: control({ pause: stamp }) }),
    ],
    ['maxMoves 100 (join)', () => planWithControl({ workers: joined, tasks, current, maxMoves: 100 })],
  ];
  console.log(JSON.stringify({ tasks: N, workers: W, case: 'rebalance alone (join)', ms: +base.toFixed(2) }));
  for (const [name, run] of cases) {
    const r = run();
    const ms = median(run);
    console.log(
      JSON.stringify({
        tasks: N,
        workers: W,
        case: name,
        ms: +ms.toFixed(2),
        ratio: +(ms / base).toFixed(2),
        moves: r.moves,
        deferred: r.deferred,
      }),
    );
  }
}
