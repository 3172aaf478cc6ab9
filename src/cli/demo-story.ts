/**
 * The demo's data: the simulated market (tasks in three groups, some keyed, some with priorities), the
 * simulated work, and the assignment as read from the store, with its balance summary.
 */

import type { RunHandler } from '../scheduler/worker.js';
import type { Store } from '../store/port.js';
import { decodeTask, type Task } from '../task.js';

const COINS = [
  'btc',
  'eth',
  'sol',
  'xrp',
  'ada',
  'doge',
  'dot',
  'avax',
  'link',
  'ltc',
  'bnb',
  'trx',
  'atom',
  'near',
  'apt',
  'arb',
  'op',
  'sui',
  'ton',
  'uni',
  'fil',
  'icp',
  'etc',
  'xlm',
  'hbar',
  'inj',
  'sei',
  'tia',
];

function coin(i: number): string {
  return COINS[i] ?? `c${i}`;
}

export const GROUPS = ['spot', 'futures', 'options'] as const;

/** How many tasks of each group for `n` tasks in all. */
export function split(n: number): { spot: number; futures: number; options: number } {
  const spot = Math.max(1, Math.round(n * 0.375));
  const options = Math.max(1, Math.round(n / 3));
  return { spot, futures: Math.max(1, n - spot - options), options };
}

/**
 * The desired tasks: `spot-<coin>` (the first three with priority 10), `futures-<coin>` (priority 5) and
 * `options-<coin>-call|put` (keyed by coin: a coin's two option feeds stay on one worker).
 */
export function marketTasks(counts: { spot: number; futures: number; options: number }): Task[] {
  const tasks: Task[] = [];
  for (let i = 0; i < counts.spot; i++) {
    tasks.push({ id: `spot-${coin(i)}`, group: 'spot', priority: i < 3 ? 10 : 0 });
  }
  for (let i = 0; i < counts.futures; i++)
    tasks.push({ id: `futures-${coin(i)}`, group: 'futures', priority: 5 });
  for (let i = 0; i < counts.options; i++) {
    const c = coin(Math.floor(i / 2));
    tasks.push({
      id: `options-${c}-${i % 2 ? 'put' : 'call'}`,
      group: 'options',
      key: `options-${c}`,
      priority: 1,
    });
  }
  return tasks;
}

/** Simulated work: a tick every 100–300 ms until the signal aborts; counts ticks per task. */
export function simulatedWork(ticks: Map<string, number>): RunHandler {
  return (task, { signal }) =>
    new Promise<void>((resolve) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const tick = () => {
        ticks.set(task.id, (ticks.get(task.id) ?? 0) + 1);
        timer = setTimeout(tick, 100 + Math.random() * 200);
      };
      timer = setTimeout(tick, 100 + Math.random() * 200);
      signal.addEventListener(
        'abort',
        () => {
          clearTimeout(timer);
          resolve();
        },
        { once: true },
      );
    });
}

/** Per worker, task ids by group. */
export type Assignment = Map<string, Map<string, string[]>>;

/** The assignment written under `taskPrefix` (`<taskPrefix><worker>/<id>`), per worker by group. */
export async function readAssignment(store: Store, taskPrefix: string): Promise<Assignment> {
  const res = await store.range(taskPrefix, { prefix: true });
  const a: Assignment = new Map();
  for (const kv of res.kvs) {
    const rest = kv.key.slice(taskPrefix.length);
    const slash = rest.indexOf('/');
    const worker = rest.slice(0, slash);
    const id = rest.slice(slash + 1);
    const group = decodeTask(kv.value, id).group ?? '';
    const byGroup = a.get(worker) ?? new Map<string, string[]>();
    const list = byGroup.get(group) ?? [];
    list.push(id);
    byGroup.set(group, list);
    a.set(worker, byGroup);
  }
  return a;
}

/** `total 6/6/6/6 (max−min 0) · spot 2/2/3/2 · ...` for the given workers. */
export function balanceLine(assignment: Assignment, workers: string[]): string {
  const parts: string[] = [];
  const spread = (counts: number[]) => (counts.length ? Math.max(...counts) - Math.min(...counts) : 0);
  const totals = workers.map((w) =>
    [...(assignment.get(w)?.values() ?? [])].reduce((n, l) => n + l.length, 0),
  );
  parts.push(`total ${totals.join('/')} (max−min ${spread(totals)})`);
  const groups = new Set<string>();
  for (const g of assignment.values()) for (const k of g.keys()) groups.add(k);
  for (const g of [...groups].sort()) {
    const counts = workers.map((w) => assignment.get(w)?.get(g)?.length ?? 0);
    parts.push(`${g} ${counts.join('/')}`);
  }
  return parts.join(' · ');
}
