/**
 * The planner alone at one point of the scale curve (run by bench/scale.ts in a process of its own, so
 * its heap and CPU are not shared with the fleet): `node --import tsx bench/scale-planner.ts <T> <W> <runs>`.
 * Prints one JSON line: the median time of a dealing pass (task i to worker i mod W, the least any plan
 * costs: one pass over the tasks building per-worker lists), of the first plan (empty current), of a
 * no-change re-plan of its own output, of a join (one worker more) and of a leave (one worker fewer), with
 * the moves of each, and the heap used with the inputs and one plan alive.
 */
import { rebalance } from '../src/planner/rebalance.js';
import type { Task } from '../src/task.js';
import { makeTasks, median, round } from './lib.js';

const [T, W, runs] = process.argv.slice(2).map(Number);
const tasks = makeTasks(T);
const workers = Array.from({ length: W }, (_, i) => `worker-${String(i).padStart(5, '0')}`);

function time<R>(fn: () => R): { ms: number; result: R } {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const t0 = performance.now();
  const result = fn();
  return { ms: performance.now() - t0, result };
}

function deal(): Map<string, Task[]> {
  const out = new Map<string, Task[]>();
  for (const w of workers) out.set(w, []);
  for (let i = 0; i < tasks.length; i++) out.get(workers[i % W])?.push(tasks[i]);
  return out;
}

const first = rebalance({ workers, tasks });
const current = new Map<string, string[]>();
for (const [w, list] of first.target)
  current.set(
    w,
    list.map((t) => t.id),
  );
const joined = [...workers, 'worker-joined'];
const left = workers.slice(1);

const cases: Record<string, () => { moves: number }> = {
  deal: () => ({ moves: 0, value: deal() }),
  first: () => rebalance({ workers, tasks }),
  noChange: () => rebalance({ workers, tasks, current }),
  join: () => rebalance({ workers: joined, tasks, current }),
  leave: () => rebalance({ workers: left, tasks, current }),
};
const out: Record<string, unknown> = { bench: 'scale.planner', tasks: T, workers: W, runs };
for (const [name, fn] of Object.entries(cases)) {
  const times: number[] = [];
  let moves = 0;
  for (let r = 0; r < runs; r++) {
    const { ms, result } = time(fn);
    times.push(ms);
    moves = result.moves;
  }
  out[`${name}Ms`] = round(median(times));
  if (name !== 'deal') out[`${name}Moves`] = moves;
}
const dealMs = out.dealMs as number;
for (const name of ['first', 'noChange', 'join', 'leave']) {
  out[`${name}VsDeal`] = round((out[`${name}Ms`] as number) / dealMs, 1);
}
out.heapUsedMB = round(process.memoryUsage().heapUsed / 1048576);
process.stdout.write(`${JSON.stringify(out)}\n`);
