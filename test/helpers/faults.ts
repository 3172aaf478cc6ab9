/**
 * The process fault suite's harness (issue 6): a 3-member etcd cluster on loopback, real `escheduler run`
 * processes running test/fixtures/fault-handler.mjs (start/stop lines with the run's fencing token in one
 * log), an observer recording the
 * assignment history from etcd, and the faults: SIGKILL / SIGSTOP+SIGCONT of a worker, SIGKILL of the
 * leading master while it applies a large plan, SIGKILL+restart of the etcd leader, every etcd member down
 * for longer than the TTL, a compaction past a paused watcher's revision, a burst of joins and leaves
 * within rebalanceWait. Every process is killed by pid in `destroy()`, even after a failure.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PrefixWatcher } from '../../src/recipes/watcher.js';
import { keys } from '../../src/scheduler/keys.js';
import { type RunHandler, Worker } from '../../src/scheduler/worker.js';
import { EtcdStore } from '../../src/store/etcd.js';
import type { Task } from '../../src/task.js';
import { CliProcess, FIXTURES } from '../fixtures/cli-process.js';
import { waitFor } from './async.js';
import {
  type AssignInterval,
  type CheckReport,
  checkInvariants,
  type FrozenWindow,
  type RunInterval,
} from './checker.js';
import { type EtcdCluster, freePort, type StartOptions, startEtcd, uniqueRoot } from './etcd.js';
import { TcpProxy } from './proxy.js';

export const TTL = 2;
export const REBALANCE_WAIT = 1_000;
/** The handler's clean-up after its signal aborted. */
export const CLEANUP = 200;
/** Self-fencing: ttl − margin (500 ms for ttl 2) after the last keep-alive, plus the clean-up, plus slack. */
export const FENCE_BOUND = TTL * 1000 + CLEANUP + 500;
/** A resumed (SIGCONT) process must have stopped its old runs within this. */
export const RESUME_BOUND = CLEANUP + 800;
/** "A small bound" of the liveness promise: registration/campaign backoff (≤ 5 s) and process start. */
export const LIVENESS_SLACK = 6_000;
export const LIVENESS_WITHIN = TTL * 1000 + REBALANCE_WAIT + LIVENESS_SLACK;

export interface Proc {
  name: string;
  cli: CliProcess;
  killedAt?: number;
  /** Its own proxies, one per etcd member (partition tests, the soak): cut them to cut it off. */
  proxies?: TcpProxy[];
  /** The `--http` port, when the fleet serves the probes (`http: true`). */
  port?: number;
}

export interface FaultFleetOptions {
  workers: number;
  tasks: number;
  handoff?: 'claim' | 'none';
  /** Each process reaches etcd through its own proxies ({@link FaultFleet.spawnProxied}). */
  proxied?: boolean;
  /** Extra node flags and environment of every process (the soak's sampler). */
  nodeArgs?: string[];
  env?: Record<string, string>;
  /** etcd members. @default 3 */
  etcdSize?: number;
  /** `--max-nodes`. @default 40 */
  maxNodes?: number;
  /**
   * `--max-txn-ops` of the masters. @default 3: a schedule of the suite's 6–12 tasks is several txns, so
   * the master's pipelined writes (up to 4 in flight, a txn with a delete alone) meet the faults.
   */
  maxTxnOps?: number;
  /** Every process serves `--http` on a free loopback port of its own (`Proc.port`). @default false */
  http?: boolean;
  /** `--log-level` of the processes. @default warn */
  logLevel?: string;
  /** The run handler module. @default test/fixtures/fault-handler.mjs */
  handler?: string;
}

export class FaultFleet {
  etcd!: EtcdCluster;
  observer!: EtcdStore;
  readonly root = uniqueRoot('faults');
  readonly k = keys(this.root);
  readonly dir = mkdtempSync(join(tmpdir(), 'escheduler-faults-'));
  readonly log = join(this.dir, 'runs.log');
  readonly tasksFile = join(this.dir, 'tasks.json');
  readonly procs: Proc[] = [];
  readonly frozen: FrozenWindow[] = [];
  readonly assignments: AssignInterval[] = [];
  readonly faults: Record<string, number> = {};
  readonly recoveries: { fault: string; ms: number }[] = [];
  readonly inProcess: Worker[] = [];
  /** Puts and deletes of worker keys (`worker/<name>`) as the observer saw them. */
  readonly workerEvents: { name: string; type: 'put' | 'delete'; at: number }[] = [];
  /** Master status writes as the observer saw them: who wrote, when. */
  readonly statusWrites: { leader: string; at: number }[] = [];
  /** Partitions made by {@link partition}. */
  readonly partitions: { worker: string; how: 'cut' | 'blackhole'; from: number; to: number }[] = [];
  private readonly assignedNow = new Map<string, AssignInterval>();
  private readonly observing = new AbortController();
  private observed?: Promise<void>;
  private seq = 0;
  tasks: Task[] = [];
  readonly handoff: 'claim' | 'none';

  constructor(private readonly options: FaultFleetOptions) {
    this.handoff = options.handoff ?? 'claim';
    writeFileSync(this.log, '');
  }

  async start(etcd: StartOptions = {}): Promise<void> {
    this.etcd = await startEtcd({ size: this.options.etcdSize ?? 3, ...etcd });
    this.observer = new EtcdStore({ hosts: this.etcd.endpoints, callTimeout: 2_000 });
    await this.observer.put(this.k.barrierLeft, new Date().toISOString()); // an established root
    this.setTasks(this.options.tasks);
    this.observed = Promise.all([this.observe(), this.observeWorkersAndStatus()]).then(() => undefined);
    for (let i = 0; i < this.options.workers; i++) {
      if (this.options.proxied) {
        if (this.options.http)
          await this.withHttpPort((port) => this.spawnProxied(['--http', `127.0.0.1:${port}`]));
        else await this.spawnProxied();
      } else if (this.options.http) await this.spawnHttp();
      else this.spawn();
    }
  }

  /** {@link spawn} with `--http` on a free loopback port (`Proc.port`). */
  async spawnHttp(): Promise<Proc> {
    return this.withHttpPort(async (port) => this.spawn(['--http', `127.0.0.1:${port}`]));
  }

  /**
   * Spawns a process with `--http` on a free port and waits until it answers there. freePort() releases
   * the port before the child binds it, so another process of the suite can take it meanwhile: the child
   * then exits at once with EADDRINUSE and is started again on another port (it never ran a task).
   */
  private async withHttpPort(spawn: (port: number) => Promise<Proc>): Promise<Proc> {
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      const p = await spawn(port);
      p.port = port;
      const up = await waitFor(
        `${p.name}'s --http server to answer`,
        async () => {
          if (p.cli.proc.exitCode !== null || p.cli.proc.signalCode !== null) return 'exited';
          await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(1_000) });
          return 'up';
        },
        60_000,
        100,
      );
      if (up === 'up') return p;
      if (attempt >= 3 || !p.cli.stderr.includes('EADDRINUSE')) {
        throw new Error(`${p.name} exited before its --http server answered:\n${p.cli.stderr.slice(-2000)}`);
      }
      this.procs.splice(this.procs.indexOf(p), 1);
      await Promise.allSettled((p.proxies ?? []).map((x) => x.close()));
    }
  }

  /** GETs `path` of a process's `--http` server: its status and JSON body, or the error (no answer in time). */
  async probe(
    p: Proc,
    path: string,
    timeoutMs = 5_000,
  ): Promise<{ status: number; body: Record<string, unknown> }> {
    const res = await fetch(`http://127.0.0.1:${p.port}${path}`, { signal: AbortSignal.timeout(timeoutMs) });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  /** Starts one `escheduler run` that reaches etcd through proxies of its own (one per member). */
  async spawnProxied(extra: string[] = []): Promise<Proc> {
    const proxies = this.etcd.members.map((m) => new TcpProxy('127.0.0.1', m.spec.clientPort));
    await Promise.all(proxies.map((p) => p.listen()));
    const p = this.spawn(
      extra,
      proxies.map((x) => x.endpoint),
    );
    p.proxies = proxies;
    return p;
  }

  setTasks(n: number, prefix = 't'): void {
    this.tasks = Array.from({ length: n }, (_, i) => ({ id: `${prefix}${i}` }));
    writeFileSync(this.tasksFile, JSON.stringify(this.tasks.map((t) => ({ id: t.id }))));
  }

  /** Starts one `escheduler run` (master candidate + worker, unless `extra` says otherwise) with a fresh name. */
  spawn(extra: string[] = [], endpoints: string[] = this.etcd.endpoints): Proc {
    const name = `p${this.seq++}`;
    const cli = new CliProcess(
      [
        'run',
        '--etcd',
        endpoints.join(','),
        '--root',
        this.root,
        '--name',
        name,
        '--max-nodes',
        String(this.options.maxNodes ?? 40),
        '--ttl',
        String(TTL),
        '--rebalance-wait',
        `${REBALANCE_WAIT}ms`,
        '--interval',
        '5s',
        '--timeout',
        '3s',
        '--connect-timeout',
        '2s',
        '--generator',
        this.tasksFile,
        '--handler',
        this.options.handler ?? join(FIXTURES, 'fault-handler.mjs'),
        '--handoff',
        this.handoff,
        '--max-txn-ops',
        String(this.options.maxTxnOps ?? 3),
        '--log-level',
        this.options.logLevel ?? 'warn',
        ...extra,
      ],
      {
        FAULT_LOG: this.log,
        FAULT_CLEANUP_MS: String(CLEANUP),
        ...this.options.env,
        SOAK_NAME: name,
      },
      this.options.nodeArgs,
    );
    const p: Proc = { name, cli };
    this.procs.push(p);
    return p;
  }

  live(): Proc[] {
    return this.procs.filter((p) => p.killedAt === undefined && p.cli.proc.exitCode === null);
  }

  count(fault: string): void {
    this.faults[fault] = (this.faults[fault] ?? 0) + 1;
  }

  private async observe(): Promise<void> {
    const w = new PrefixWatcher(this.observer, this.k.taskPrefix, {
      signal: this.observing.signal,
      retryDelay: 100,
    });
    try {
      for await (const u of w) {
        const now = Date.now();
        if (u.type !== 'events') {
          const seen = new Set<string>();
          for (const kv of u.kvs) seen.add(this.openAssignment(kv.key, now));
          for (const key of [...this.assignedNow.keys()]) if (!seen.has(key)) this.closeAssignment(key, now);
        } else {
          for (const e of u.events) {
            if (e.type === 'put') this.openAssignment(e.kv.key, now);
            else this.closeAssignment(e.kv.key.slice(this.k.taskPrefix.length), now);
          }
        }
      }
    } catch {
      // observer stopped
    }
  }

  private async observeWorkersAndStatus(): Promise<void> {
    const w = new PrefixWatcher(this.observer, `${this.k.root}/`, {
      signal: this.observing.signal,
      retryDelay: 100,
    });
    try {
      for await (const u of w) {
        if (u.type !== 'events') continue;
        const now = Date.now();
        for (const e of u.events) {
          if (e.kv.key.startsWith(this.k.workerPrefix)) {
            this.workerEvents.push({
              name: e.kv.key.slice(this.k.workerPrefix.length),
              type: e.type,
              at: now,
            });
          } else if (e.kv.key === this.k.masterStatus && e.type === 'put') {
            try {
              this.statusWrites.push({
                leader: (JSON.parse(e.kv.value) as { leader: string }).leader,
                at: now,
              });
            } catch {
              // not ours
            }
          }
        }
      }
    } catch {
      // observer stopped
    }
  }

  /**
   * Cuts `p` off from etcd for `ms` while it keeps running: `cut` resets its connections (and new ones),
   * `blackhole` keeps them open and lets nothing through; then heals (blackholed connections stay dead).
   */
  async partition(p: Proc, how: 'cut' | 'blackhole', ms: number): Promise<{ from: number; to: number }> {
    if (!p.proxies) throw new Error(`${p.name} does not reach etcd through proxies (spawnProxied)`);
    const from = Date.now();
    for (const x of p.proxies) {
      if (how === 'cut') x.isolate();
      else x.blackhole();
    }
    await sleep(ms);
    for (const x of p.proxies) x.heal();
    const to = Date.now();
    this.partitions.push({ worker: p.name, how, from, to });
    this.count(`partition-${how}`);
    return { from, to };
  }

  private openAssignment(key: string, now: number): string {
    const rest = key.slice(this.k.taskPrefix.length);
    if (!this.assignedNow.has(rest)) {
      const [worker, task] = rest.split('/');
      const a: AssignInterval = { worker, task, from: now };
      this.assignedNow.set(rest, a);
      this.assignments.push(a);
    }
    return rest;
  }

  private closeAssignment(rest: string, now: number): void {
    const a = this.assignedNow.get(rest);
    if (a) a.to = now;
    this.assignedNow.delete(rest);
  }

  /** Runs parsed from the log; runs of killed processes end when they were killed. */
  runs(): RunInterval[] {
    const open = new Map<string, RunInterval>();
    const out: RunInterval[] = [];
    for (const line of readFileSync(this.log, 'utf8').split('\n')) {
      const [t, what, worker, task, token] = line.split(' ');
      if (!task) continue;
      const key = `${worker}\0${task}`;
      if (what === 'start') {
        const r: RunInterval = { task, worker, start: Number(t), token: Number(token) };
        open.set(key, r);
        out.push(r);
      } else if (what === 'stop') {
        const r = open.get(key);
        if (r) r.stop = Number(t);
        open.delete(key);
      }
    }
    const killed = new Map<string, number>();
    for (const p of this.procs) if (p.killedAt !== undefined) killed.set(p.name, p.killedAt);
    for (const r of open.values()) {
      const k = killed.get(r.worker);
      if (k !== undefined) r.stop = Math.max(r.start, k);
    }
    return out;
  }

  /** Waits (bounded) until every task runs once and every live process runs at least `min` of them. */
  async waitBalanced(min: number, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const now = this.runningNow();
      const per = new Map<string, number>();
      for (const ws of now.values()) for (const w of ws) per.set(w, (per.get(w) ?? 0) + 1);
      const ok =
        this.tasks.every((t) => now.get(t.id)?.length === 1) &&
        this.live().every((p) => (per.get(p.name) ?? 0) >= min);
      if (ok) return;
      if (Date.now() > deadline)
        throw new Error(`fleet not balanced after ${timeoutMs} ms\n${this.stderrTail()}`);
      await sleep(100);
    }
  }

  /** Tasks running now per the log: task → workers. */
  runningNow(): Map<string, string[]> {
    const m = new Map<string, string[]>();
    for (const r of this.runs())
      if (r.stop === undefined) m.set(r.task, [...(m.get(r.task) ?? []), r.worker]);
    return m;
  }

  /** Waits (bounded) until every desired task runs on exactly one worker; returns ms since `since`. */
  async waitAllRunning(since: number, fault: string, timeoutMs = LIVENESS_WITHIN + 10_000): Promise<number> {
    const deadline = since + timeoutMs;
    for (;;) {
      const now = this.runningNow();
      const ok = this.tasks.every((t) => now.get(t.id)?.length === 1) && now.size === this.tasks.length;
      if (ok) {
        const ms = Date.now() - since;
        this.recoveries.push({ fault, ms });
        return ms;
      }
      if (Date.now() > deadline) {
        const missing = this.tasks.filter((t) => now.get(t.id)?.length !== 1).map((t) => t.id);
        throw new Error(
          `after ${fault}: tasks not running exactly once ${timeoutMs} ms after the fault was healed: ${missing.slice(0, 20).join(' ')}\n${this.stderrTail()}`,
        );
      }
      await sleep(100);
    }
  }

  stderrTail(): string {
    return this.procs
      .slice(-6)
      .map((p) => `--- ${p.name}:\n${p.cli.stderr.slice(-1500)}`)
      .join('\n');
  }

  async leaderName(): Promise<string | undefined> {
    const res = await this.observer.range(this.k.election, { prefix: true, sortBy: 'create', limit: 1 });
    return res.kvs[0]?.value;
  }

  // ---- the faults ----

  async killWorker(): Promise<string> {
    const leader = await this.leaderName().catch(() => undefined);
    const p = this.live().find((x) => x.name !== leader) ?? this.live()[0];
    p.killedAt = Date.now();
    p.cli.kill('SIGKILL');
    await p.cli.exited;
    this.count('sigkill-worker');
    this.spawn();
    return p.name;
  }

  /** SIGSTOP past the TTL (and rebalanceWait), then SIGCONT: a zombie that must not run beside its successor. */
  async pauseWorker(
    ms = TTL * 1000 + REBALANCE_WAIT + 1_500,
    during?: (worker: string, from: number) => Promise<void>,
  ): Promise<string> {
    const leader = await this.leaderName().catch(() => undefined);
    const p = this.live().find((x) => x.name !== leader) ?? this.live()[0];
    const from = Date.now();
    p.cli.kill('SIGSTOP');
    try {
      await during?.(p.name, from);
      await sleep(Math.max(0, from + ms - Date.now()));
    } finally {
      p.cli.kill('SIGCONT');
      this.frozen.push({ worker: p.name, from, to: Date.now() });
    }
    this.count('sigstop-worker');
    return p.name;
  }

  /** A large plan (many new tasks and a join), and SIGKILL of the leader while it writes it. */
  async killMasterMidPlan(bigTasks: number): Promise<string | undefined> {
    const leader = await this.leaderName();
    const p = this.live().find((x) => x.name === leader);
    if (!p) return undefined;
    const before = (await this.observer.get(this.k.masterStatus))?.modRevision ?? 0;
    this.setTasks(bigTasks, `big${this.seq}-`);
    this.spawn(); // a join: the leader schedules rebalanceWait after it registers
    // Kill as soon as the first txns of the plan land (the assignment under the task prefix changes).
    const rev0 = (await this.observer.range(this.k.taskPrefix, { prefix: true, countOnly: true })).revision;
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      const res = await this.observer.range(this.k.taskPrefix, { prefix: true, keysOnly: true });
      const fresh = res.kvs.some((kv) => kv.modRevision > rev0);
      if (fresh) break;
      await sleep(5);
    }
    p.killedAt = Date.now();
    p.cli.kill('SIGKILL');
    await p.cli.exited;
    const after = (await this.observer.get(this.k.masterStatus))?.modRevision ?? 0;
    this.count(after === before ? 'sigkill-master-mid-plan' : 'sigkill-master-after-plan');
    this.spawn();
    return p.name;
  }

  async restartEtcdLeader(): Promise<void> {
    const leader = (await this.etcd.leader()) ?? this.etcd.members[0];
    await leader.stop('SIGKILL');
    await sleep(1_500);
    leader.start('existing');
    await this.etcd.ready(30_000);
    this.count('etcd-leader-restart');
  }

  async allEtcdDown(ms = TTL * 1000 + 1_500): Promise<void> {
    await Promise.all(this.etcd.members.map((m) => m.stop('SIGKILL')));
    await sleep(ms);
    for (const m of this.etcd.members) m.start('existing');
    await this.etcd.ready(30_000);
    this.count('etcd-all-down');
  }

  /** Compaction past a paused worker's watch revision: it resumes into a compacted history. */
  async compactPastPausedWatcher(): Promise<void> {
    await this.pauseWorker(1_000, async () => {
      // Changes the paused worker's watches have not seen, then compact them away.
      const tasks = this.tasks.length;
      this.setTasks(tasks + 2, this.tasks[0]?.id.replace(/\d+$/, '') ?? 't');
      await sleep(REBALANCE_WAIT);
      const res = await this.observer.range(this.k.taskPrefix, { prefix: true, countOnly: true });
      await this.observer.put(`${this.k.root}/status/fault-marker`, String(Date.now()));
      await this.observer.compact(res.revision + 1);
    });
    this.count('compaction');
  }

  /** 10 joins and leaves within rebalanceWait (in-process workers on the same etcd, same handler). */
  async burst(): Promise<void> {
    process.env.FAULT_LOG = this.log; // read by the handler module when it loads
    process.env.FAULT_CLEANUP_MS = String(CLEANUP);
    const { default: handler } = (await import(join(FIXTURES, 'fault-handler.mjs'))) as {
      default: RunHandler;
    };
    const started = Date.now();
    const ws: Worker[] = [];
    const store = new EtcdStore({ hosts: this.etcd.endpoints, callTimeout: 2_000 });
    try {
      for (let i = 0; i < 5; i++) {
        const w = new Worker({
          store,
          rootName: this.root,
          maxNumNodes: 40,
          ttl: TTL,
          name: `b${this.seq++}`,
          run: handler,
        });
        ws.push(w);
        this.inProcess.push(w);
      }
      await Promise.all(ws.map((w) => w.start()));
      await Promise.all(ws.map((w) => w.stop()));
    } finally {
      await store.close();
    }
    this.faults.burstMs = Math.max(this.faults.burstMs ?? 0, Date.now() - started);
    this.count('burst-10-joins-leaves');
  }

  check(livenessAfter?: number): CheckReport {
    const end = Date.now();
    return checkInvariants({
      runs: this.runs(),
      end,
      fenceBound: FENCE_BOUND,
      resumeBound: RESUME_BOUND,
      slack: 20,
      // The observer is a separate process reading its own watch: on a loaded machine it sees a plan of
      // hundreds of puts well after the workers do (27 ms seen in CI). Revocations stay strict.
      assignLag: 1_000,
      assignments: this.assignments,
      frozen: this.frozen,
      ...(livenessAfter !== undefined
        ? {
            liveness: {
              after: livenessAfter,
              within: Math.min(LIVENESS_WITHIN, end - livenessAfter),
              desired: this.tasks.map((t) => t.id),
              at: end,
            },
          }
        : {}),
    });
  }

  /** Kills every process started here by pid (SIGCONT first), stops etcd, removes the temp dir. */
  async destroy(): Promise<void> {
    this.observing.abort();
    for (const p of this.procs) {
      p.cli.kill('SIGCONT');
      p.cli.kill('SIGKILL');
    }
    await Promise.allSettled(this.procs.map((p) => p.cli.exited));
    await Promise.allSettled(this.procs.flatMap((p) => (p.proxies ?? []).map((x) => x.close())));
    await Promise.allSettled(this.inProcess.map((w) => w.stop()));
    await this.observer?.close().catch(() => undefined);
    await this.observed?.catch(() => undefined);
    await this.etcd?.destroy();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
