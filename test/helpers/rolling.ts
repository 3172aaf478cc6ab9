/**
 * A rolling restart of real `escheduler run` processes (issue 15), shared by `test/restart.cli.test.ts`
 * and the bench's rolling-restart row: W processes (master candidate + worker each, names w1..wW) share T
 * tasks on an etcd; each in turn gets SIGTERM, and once it exited a process of the same name is started
 * `downtimeMs` later. With `graceMs` it runs with `--restart-grace`, without it SIGTERM drains.
 *
 * Recorded, never asserted here: every run (start/stop lines of test/fixtures/fault-handler.mjs), every put
 * and delete under `/<root>/task/` seen by an observer, and per worker the SIGTERM time and the time its
 * successor's worker key appeared (its downtime). The caller decides what to assert; the figures are wall
 * clock and only ever printed.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { keys } from '../../src/scheduler/keys.js';
import { EtcdStore } from '../../src/store/etcd.js';
import { CliProcess, FIXTURES } from '../fixtures/cli-process.js';
import type { RunInterval } from './checker.js';
import { uniqueRoot } from './etcd.js';

export interface RolloutOptions {
  endpoints: string[];
  workers: number;
  tasks: number;
  /** `--restart-grace` in ms; 0: SIGTERM drains. */
  graceMs: number;
  /** Time between a process's exit and the start of its successor. @default 2_000 */
  downtimeMs?: number;
  /**
   * `--ttl` in s. @default 15: long enough that a process starved of CPU on a shared machine does not lose
   * its lease (a crash, which moves tasks) in the middle of a rollout about restarts.
   */
  ttl?: number;
  /** `--rebalance-wait` in ms. @default 1_000 */
  rebalanceWait?: number;
  /** This worker (index) does not come back, and the rollout ends with it. */
  noReturn?: number;
  /** Progress lines. */
  note?: (msg: string) => void;
  /** Bound of every wait, ms. @default 120_000 */
  waitMs?: number;
}

/** A change of the assignment seen by the observer. */
export interface AssignEvent {
  at: number;
  type: 'put' | 'delete';
  worker: string;
  task: string;
}

export interface RolloutRecord {
  root: string;
  /** Worker → the ids it ran when the rollout began. */
  before: Map<string, string[]>;
  /** Assignment changes under `/<root>/task/` from the start of the rollout to its end. */
  events: AssignEvent[];
  runs: RunInterval[];
  /** Per worker: SIGTERM time, exit time, and the time its successor registered (undefined: not back). */
  restarts: { worker: string; term: number; exited: number; back?: number }[];
  /** Rollout window. */
  from: number;
  to: number;
  /** The processes' log lines (warnings and errors), for a failure message. */
  logs(): string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs the rollout; every process it started is killed by pid before it returns or throws. */
export async function rollingRestart(o: RolloutOptions): Promise<RolloutRecord> {
  const note = o.note ?? (() => {});
  const waitMs = o.waitMs ?? 120_000;
  const downtime = o.downtimeMs ?? 2_000;
  const root = uniqueRoot(o.graceMs > 0 ? 'rolling-grace' : 'rolling-drain');
  const k = keys(root);
  const dir = mkdtempSync(join(tmpdir(), 'escheduler-rolling-'));
  const log = join(dir, 'runs.log');
  const tasksFile = join(dir, 'tasks.json');
  writeFileSync(log, '');
  const ids = Array.from({ length: o.tasks }, (_, i) => `t${i}`);
  writeFileSync(tasksFile, JSON.stringify(ids.map((id) => ({ id }))));
  const store = new EtcdStore({ hosts: o.endpoints, callTimeout: 10_000 });
  const procs = new Map<string, CliProcess>();
  const all: CliProcess[] = [];
  const observing = new AbortController();
  const events: AssignEvent[] = [];
  const workerPuts = new Map<string, number[]>();
  const spawn = (name: string) => {
    const args = [
      'run',
      '--etcd',
      o.endpoints.join(','),
      '--root',
      root,
      '--name',
      name,
      '--max-nodes',
      String(o.workers + 1),
      '--ttl',
      String(o.ttl ?? 15),
      '--rebalance-wait',
      `${o.rebalanceWait ?? 1_000}ms`,
      '--interval',
      '1m',
      '--connect-timeout',
      '10s',
      '--generator',
      tasksFile,
      '--handler',
      join(FIXTURES, 'fault-handler.mjs'),
      '--log-level',
      'warn',
      ...(o.graceMs > 0 ? ['--restart-grace', `${o.graceMs}ms`] : []),
    ];
    const p = new CliProcess(args, { FAULT_LOG: log, FAULT_CLEANUP_MS: '20' });
    procs.set(name, p);
    all.push(p);
    return p;
  };
  const runs = () => parseRuns(readFileSync(log, 'utf8'));
  const runningOn = () => {
    const m = new Map<string, string[]>();
    for (const r of runs()) if (r.stop === undefined) m.set(r.task, [...(m.get(r.task) ?? []), r.worker]);
    return m;
  };
  const until = async (what: string, cond: () => boolean | Promise<boolean>) => {
    const deadline = Date.now() + waitMs;
    while (!(await cond())) {
      if (Date.now() > deadline) {
        const tails = [...procs].map(([n, p]) => `--- ${n}:\n${p.stderr.slice(-1_500)}`).join('\n');
        throw new Error(`rolling restart: timed out after ${waitMs} ms waiting for ${what}\n${tails}`);
      }
      await sleep(100);
    }
  };
  const names = Array.from({ length: o.workers }, (_, i) => `w${i + 1}`);
  try {
    await store.put(k.barrierLeft, new Date().toISOString()); // an established root: no start-up barrier
    for (const n of names) spawn(n);
    // Settled: every task runs exactly once, on the fleet's W workers, balanced, and no schedule pending.
    await until('every task running once on a balanced fleet', async () => {
      const now = runningOn();
      if (now.size !== o.tasks || [...now.values()].some((ws) => ws.length !== 1)) return false;
      const per = new Map<string, number>();
      for (const [w] of now.values()) per.set(w, (per.get(w) ?? 0) + 1);
      const sizes = names.map((n) => per.get(n) ?? 0);
      return Math.max(...sizes) - Math.min(...sizes) <= 1;
    });
    const before = new Map<string, string[]>();
    for (const [task, [w]] of runningOn()) before.set(w, [...(before.get(w) ?? []), task]);
    note(`fleet settled: ${names.map((n) => `${n}=${before.get(n)?.length ?? 0}`).join(' ')}`);

    const watchFrom = (await store.range(k.barrierLeft)).revision + 1;
    void observe(store, k.taskPrefix, watchFrom, observing.signal, (e) => events.push(e));
    void observe(store, k.workerPrefix, watchFrom, observing.signal, (e) => {
      if (e.type === 'put') workerPuts.set(e.worker, [...(workerPuts.get(e.worker) ?? []), e.at]);
    });
    const from = Date.now();
    const restarts: RolloutRecord['restarts'] = [];
    for (const [i, name] of names.entries()) {
      const old = procs.get(name)!;
      const term = Date.now();
      old.kill('SIGTERM');
      await old.wait(waitMs);
      const exited = Date.now();
      const rec: RolloutRecord['restarts'][number] = { worker: name, term, exited };
      restarts.push(rec);
      if (i === o.noReturn) {
        note(`${name}: stopped, not coming back`);
        break;
      }
      await sleep(downtime);
      const seen = workerPuts.get(name)?.length ?? 0;
      spawn(name);
      await until(`${name} registered again`, () => (workerPuts.get(name)?.length ?? 0) > seen);
      rec.back = workerPuts.get(name)!.at(-1);
      // Every task runs once again, and the master has scheduled after the join (so a move would show).
      await until(`every task running once after ${name} came back`, () => {
        const now = runningOn();
        return now.size === o.tasks && [...now.values()].every((ws) => ws.length === 1);
      });
      const joined = (await store.get(k.worker(name)))?.createRevision ?? 0;
      await until(`a schedule after ${name} joined`, async () => {
        const st = await store.get(k.masterStatus);
        return st !== undefined && st.modRevision > joined;
      });
      note(`${name}: back ${rec.back! - term} ms after SIGTERM`);
    }
    if (o.noReturn !== undefined) {
      await until('every task running once without the worker that did not return', () => {
        const now = runningOn();
        return now.size === o.tasks && [...now.values()].every((ws) => ws.length === 1);
      });
    }
    await sleep(500); // late events of the last schedule
    const to = Date.now();
    observing.abort();
    const logs = () => all.map((p, i) => `--- process ${i}:\n${p.stderr.slice(-3_000)}`).join('\n');
    return {
      root,
      before,
      events: events.filter((e) => e.at >= from),
      runs: runs(),
      restarts,
      from,
      to,
      logs,
    };
  } finally {
    observing.abort();
    for (const p of all) p.kill('SIGTERM');
    await Promise.all(all.map((p) => p.wait(20_000).catch(() => p.kill('SIGKILL'))));
    await store.delete(`${k.root}/`, { prefix: true }).catch(() => undefined);
    await store.close().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Watches a prefix from `revision` on, reporting each event as `<worker>[/<task>]` split. */
async function observe(
  store: EtcdStore,
  prefix: string,
  revision: number,
  signal: AbortSignal,
  on: (e: AssignEvent) => void,
): Promise<void> {
  try {
    for await (const u of store.watch(prefix, { prefix: true, startRevision: revision, signal })) {
      const at = Date.now();
      for (const e of u.events) {
        const [worker, task = ''] = e.kv.key.slice(prefix.length).split('/');
        on({ at, type: e.type, worker, task });
      }
    }
  } catch {
    // stopped
  }
}

/** Runs from the handler's log lines `<ms> start|stop <worker> <task>`. */
export function parseRuns(text: string): RunInterval[] {
  const open = new Map<string, RunInterval>();
  const out: RunInterval[] = [];
  for (const line of text.split('\n')) {
    const [t, what, worker, task] = line.split(' ');
    if (!task) continue;
    const key = `${worker}\0${task}`;
    if (what === 'start') {
      const r: RunInterval = { task, worker, start: Number(t) };
      open.set(key, r);
      out.push(r);
    } else if (what === 'stop') {
      const r = open.get(key);
      if (r) r.stop = Number(t);
      open.delete(key);
    }
  }
  return out;
}

/** What a rollout did: moves (a task put under another worker than its last), per-task gaps, downtimes. */
export interface RolloutFigures {
  /** Task keys deleted during the rollout. */
  deletes: number;
  /** Times a task was assigned to a worker other than the one it was on before. */
  moves: number;
  /** Per task restart: ms from the stop of a run to the next start of that task (anywhere). */
  gaps: number[];
  /** Per returning worker: ms from SIGTERM until its successor registered. */
  downtimes: number[];
  /** Per task of a returning worker: its gap minus its worker's downtime (≤ 1000 is the issue's bound). */
  overDowntime: number[];
}

export function rolloutFigures(r: RolloutRecord): RolloutFigures {
  const last = new Map<string, string>();
  for (const [w, ids] of r.before) for (const id of ids) last.set(id, w);
  let moves = 0;
  let deletes = 0;
  for (const e of r.events) {
    if (e.type === 'delete') deletes++;
    else {
      if (last.get(e.task) !== undefined && last.get(e.task) !== e.worker) moves++;
      last.set(e.task, e.worker);
    }
  }
  const byTask = new Map<string, RunInterval[]>();
  for (const run of r.runs) byTask.set(run.task, [...(byTask.get(run.task) ?? []), run]);
  const gaps: number[] = [];
  const gapAfter = new Map<string, number>(); // task → gap of its first restart in the rollout
  for (const [task, list] of byTask) {
    list.sort((a, b) => a.start - b.start);
    for (let i = 1; i < list.length; i++) {
      const prev = list[i - 1];
      if (prev.stop === undefined || prev.stop < r.from) continue;
      const gap = list[i].start - prev.stop;
      gaps.push(gap);
      if (!gapAfter.has(task)) gapAfter.set(task, list[i].start - prev.stop);
    }
  }
  const downtimes: number[] = [];
  const overDowntime: number[] = [];
  for (const x of r.restarts) {
    if (x.back === undefined) continue;
    const down = x.back - x.term;
    downtimes.push(down);
    for (const id of r.before.get(x.worker) ?? []) {
      const g = gapAfter.get(id);
      if (g !== undefined) overDowntime.push(g - down);
    }
  }
  return { deletes, moves, gaps, downtimes, overDowntime };
}
