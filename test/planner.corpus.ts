/**
 * A seeded corpus of planner inputs (groups, keys, priorities, joins, leaves, dead workers, stale and
 * duplicated holdings) and a digest of a plan, for the all-ones regression: `test/fixtures/planner-golden.json`
 * holds the digests of the plans made by the planner as it was before weights and capacities existed
 * (generated with `node --import tsx test/planner.corpus.ts --write`), and `test/planner.allones.test.ts`
 * checks that today's planner, given weight 1 and capacity 1 everywhere, makes exactly those plans.
 */
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import type { RebalanceInput, RebalanceResult } from '../src/planner/rebalance.js';
import type { Task } from '../src/task.js';
import { mulberry32 } from '../src/util/random.js';

export const CORPUS_SIZE = 400;

/** Input number `seed` of the corpus: a first plan's state, then a change (join, leave, churn) and a mess. */
export function corpusInput(seed: number): {
  first: RebalanceInput;
  second: (held: Map<string, string[]>) => RebalanceInput;
} {
  const rnd = mulberry32(seed * 7919 + 17);
  const int = (n: number) => Math.floor(rnd() * n);
  const W = 1 + int(seed % 4 === 0 ? 40 : 9);
  const N = int(seed % 5 === 0 ? 600 : 60);
  const groups = 1 + int(6);
  const keyedShare = [0, 0, 0.3, 0.8][int(4)];
  const keys = 1 + int(8);
  const tasks: Task[] = [];
  for (let i = 0; i < N; i++) {
    const t: Task = { id: `t${i}-${int(1000)}` };
    if (groups > 1) t.group = `g${int(groups)}`;
    if (rnd() < keyedShare) t.key = `k${int(keys)}`;
    if (rnd() < 0.3) t.priority = int(4);
    tasks.push(t);
  }
  const workers = Array.from({ length: W }, (_, i) => `w${i}-${int(100)}`);
  const first: RebalanceInput = { workers, tasks };
  const second = (held: Map<string, string[]>): RebalanceInput => {
    const current = new Map(held);
    let ws = [...workers];
    const change = int(5);
    if (change === 0) ws.push(`joiner-${int(100)}`);
    else if (change === 1 && ws.length > 1) ws.splice(int(ws.length), 1);
    else if (change === 2) ws = ws.filter(() => rnd() < 0.7);
    // churn: some tasks gone, some new
    let ts = tasks.filter(() => rnd() < 0.9);
    for (let i = 0; i < int(20); i++)
      ts.push({ id: `n${i}`, group: groups > 1 ? `g${int(groups)}` : undefined });
    // mess: a dead worker's holdings, a duplicate copy, a stale id
    if (rnd() < 0.5)
      current.set(
        'dead',
        tasks.slice(0, 5).map((t) => t.id),
      );
    if (rnd() < 0.5 && workers.length > 1 && tasks.length > 0) {
      const dup = current.get(workers[1]) ?? [];
      current.set(workers[1], [...dup, tasks[0].id, 'stale-id']);
    }
    if (rnd() < 0.3) ts = ts.reverse();
    return { workers: ws, tasks: ts, current };
  };
  return { first, second };
}

/** A digest of everything a plan says: target per worker in order, revocations, assignments, figures. */
export function planDigest(result: RebalanceResult): string {
  const h = createHash('sha256');
  for (const [w, ts] of result.target) h.update(`${w}:${ts.map((t) => t.id).join(',')};`);
  h.update(`|r:${result.revoke.map((r) => `${r.worker}/${r.id}`).join(',')}`);
  h.update(`|a:${result.assign.map((a) => `${a.worker}/${a.task.id}`).join(',')}`);
  h.update(`|m:${result.moves}|lb:${result.lowerBound}`);
  return h.digest('hex').slice(0, 24);
}

export function heldOf(result: RebalanceResult): Map<string, string[]> {
  return new Map([...result.target].map(([w, ts]) => [w, ts.map((t) => t.id)]));
}

if (process.argv.includes('--write')) {
  const { rebalance } = await import('../src/planner/rebalance.js');
  const out: string[][] = [];
  for (let seed = 0; seed < CORPUS_SIZE; seed++) {
    const { first, second } = corpusInput(seed);
    const a = rebalance(first);
    const b = rebalance(second(heldOf(a)));
    out.push([planDigest(a), planDigest(b)]);
  }
  writeFileSync(new URL('./fixtures/planner-golden.json', import.meta.url), `${JSON.stringify(out)}\n`);
  console.log(`wrote ${out.length} digests`);
}
