/**
 * Harness of the mixed-fleet suite: starts Go processes (the original, through the driver that
 * scripts/interop.ts built, path in INTEROP_DRIVER) and TypeScript `escheduler run --handoff none`
 * processes, each in its own process group, records what each one runs from its JSON event lines, and
 * checks a fleet against etcd:
 *
 * - every task on exactly one live worker, none on a dead or unknown one;
 * - each live worker process runs exactly what etcd assigns it, with the stored payload;
 * - every start-up barrier participant left (status left_barrier, no waiters/ or ready key behind);
 * - no process got an `add` for a task it already ran without a `del` in between (checked on every event).
 *
 * Every wait has a deadline; every process is killed by process group when the test process exits.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Etcd3 } from 'etcd3';
import { freePort, sharedEndpoints } from '../helpers/etcd.js';

/** The TypeScript CLI entry, run with `node --import tsx` (the one line to change when it moves). */
export const CLI_ENTRY = 'src/cli/main.ts';

export const REPO = fileURLToPath(new URL('../..', import.meta.url));
const HANDLER = fileURLToPath(new URL('./fixtures/record-handler.mjs', import.meta.url));

/**
 * The Go driver. Without it (the suite run by hand, not through `npm run test:interop`), INTEROP_GO_AS=ts
 * runs a TypeScript process in each Go role: a check of the harness itself, proving nothing about Go.
 */
export const DRIVER = process.env.INTEROP_DRIVER;
export const GO_AS_TS = !DRIVER && process.env.INTEROP_GO_AS === 'ts';
if (!DRIVER && !GO_AS_TS) {
  throw new Error('INTEROP_DRIVER is not set: run the mixed-fleet suite with `npm run test:interop`');
}

/** Timing shared by every process of a fleet: short, so churn and failover take seconds. */
export const TTL = 3;
export const INTERVAL = '2s';
export const REBALANCE_WAIT = '500ms';

export type Lang = 'go' | 'ts';
export type Role = 'master' | 'worker';

/** A task as a generator lists it (the JSON task list format both masters read): `raw` is UTF-8 text. */
export interface TaskSpec {
  id: string;
  priority?: number;
  group?: string;
  key?: string;
  raw?: string;
}

/** What a worker process runs: payload as base64 (`''` for none). */
interface Running {
  raw: string;
}

const all = new Set<FleetProc>();
process.on('exit', () => {
  for (const p of all) p.kill('SIGKILL');
});

/** One Go or TypeScript process of a fleet. */
export class FleetProc {
  readonly child: ChildProcess;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Tasks running now, by id. */
  readonly running = new Map<string, Running>();
  /** add events so far, and add events of a task already running (the duplicate-add violations). */
  adds = 0;
  readonly violations: string[] = [];
  readonly statuses: string[] = [];
  private out = '';
  private errLine = '';
  stderr = '';

  constructor(
    readonly fleet: Fleet,
    readonly lang: Lang,
    readonly role: Role,
    readonly name: string,
    args: string[],
    /** TypeScript: the port of its /healthz, which reports the worker's status. */
    readonly httpPort?: number,
  ) {
    const [cmd, argv] =
      lang === 'go' && DRIVER ? [DRIVER, args] : [process.execPath, ['--import', 'tsx', CLI_ENTRY, ...args]];
    this.child = spawn(cmd, argv, {
      cwd: REPO,
      env: { ...process.env, ESCHEDULER_ETCD: undefined },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true, // own process group: kill() reaches anything it started
    });
    all.add(this);
    this.child.stdout?.on('data', (d: Buffer) => this.onStdout(d.toString()));
    this.child.stderr?.on('data', (d: Buffer) => this.onStderr(d.toString()));
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        all.delete(this);
        resolve({ code, signal });
      });
    });
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  get status(): string | undefined {
    return this.statuses.at(-1);
  }

  /** The worker's status now: Go from its status events, TypeScript from /healthz (then its log lines). */
  async currentStatus(): Promise<string | undefined> {
    if (this.httpPort === undefined) return this.status;
    try {
      const res = await fetch(`http://127.0.0.1:${this.httpPort}/healthz`, {
        signal: AbortSignal.timeout(2_000),
      });
      const body = (await res.json()) as { status?: string; detail?: { status?: string } };
      return body.status ?? body.detail?.status ?? this.status;
    } catch {
      return this.status;
    }
  }

  /** Signals the whole process group. */
  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    if (!this.alive || !this.child.pid) return;
    try {
      process.kill(-this.child.pid, signal);
    } catch {
      // the group is already gone
    }
  }

  /** SIGKILL, and wait for the exit. */
  async crash(): Promise<void> {
    this.kill('SIGKILL');
    await withDeadline(this.exited, 10_000, `${this.name} did not exit after SIGKILL`);
  }

  /** Waits for the exit at most `ms`. */
  async waitExit(ms: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    return withDeadline(this.exited, ms, `${this.name} did not exit within ${ms} ms\n${this.dump()}`);
  }

  dump(): string {
    return `--- ${this.lang} ${this.role} ${this.name} (pid ${this.child.pid}, ${this.alive ? 'alive' : 'exited'}, status ${this.status}) stderr tail:\n${this.stderr.slice(-2500)}`;
  }

  private onStdout(text: string): void {
    this.out += text;
    let nl = this.out.indexOf('\n');
    while (nl >= 0) {
      const line = this.out.slice(0, nl);
      this.out = this.out.slice(nl + 1);
      if (line.startsWith('{')) this.onEvent(JSON.parse(line) as Record<string, unknown>);
      nl = this.out.indexOf('\n');
    }
  }

  private onStderr(text: string): void {
    this.stderr = (this.stderr + text).slice(-50_000);
    if (this.lang === 'go' && DRIVER) return;
    // TypeScript: worker status changes are pino lines on stderr.
    const lines = (this.errLine + text).split('\n');
    this.errLine = lines.pop() ?? '';
    for (const line of lines) {
      if (!line.startsWith('{') || !line.includes('"worker status"')) continue;
      const o = JSON.parse(line) as { msg?: string; status?: string };
      if (o.msg === 'worker status' && o.status) this.statuses.push(o.status);
    }
  }

  private onEvent(e: Record<string, unknown>): void {
    const id = String(e.id ?? '');
    if (e.ev === 'status') this.statuses.push(String(e.status));
    else if (e.ev === 'add') {
      this.adds++;
      if (this.running.has(id)) {
        this.violations.push(`${this.name}: second add of ${id} without a del in between`);
      }
      this.running.set(id, { raw: typeof e.raw === 'string' ? e.raw : '' });
    } else if (e.ev === 'del') {
      this.running.delete(id);
    }
  }
}

/** A fleet under one root: its processes, its task list file, and etcd. */
export class Fleet {
  readonly procs: FleetProc[] = [];
  readonly tasksFile: string;
  readonly endpoints = sharedEndpoints();
  readonly etcd = new Etcd3({ hosts: this.endpoints });
  private tasks: TaskSpec[] = [];

  constructor(
    readonly root: string,
    readonly maxNodes: number,
    tasks: TaskSpec[],
  ) {
    this.tasksFile = join(mkdtempSync(join(tmpdir(), 'escheduler-interop-')), 'tasks.json');
    this.setTasks(tasks);
  }

  /** Rewrites the task list both masters read on every schedule. */
  setTasks(tasks: TaskSpec[]): void {
    this.tasks = tasks;
    writeFileSync(this.tasksFile, JSON.stringify(tasks));
  }

  get taskList(): readonly TaskSpec[] {
    return this.tasks;
  }

  async start(lang: Lang, role: Role, name: string): Promise<FleetProc> {
    const go = lang === 'go' && DRIVER;
    const port = go ? undefined : await freePort();
    const args = go ? this.goArgs(role, name) : [...this.tsArgs(role, name), '--http', `127.0.0.1:${port}`];
    const p = new FleetProc(this, lang, role, name, args, port);
    this.procs.push(p);
    return p;
  }

  private goArgs(role: Role, name: string): string[] {
    const common = [
      '-mode',
      role,
      '-endpoints',
      this.endpoints.join(','),
      '-root',
      this.root,
      '-name',
      name,
      '-max-nodes',
      String(this.maxNodes),
      '-ttl',
      String(TTL),
    ];
    return role === 'master'
      ? [...common, '-tasks-file', this.tasksFile, '-interval', INTERVAL, '-rebalance-wait', REBALANCE_WAIT]
      : [...common, '-leave-settle', '1s'];
  }

  private tsArgs(role: Role, name: string): string[] {
    const common = [
      'run',
      '--etcd',
      this.endpoints.join(','),
      '--root',
      this.root,
      '--name',
      name,
      '--max-nodes',
      String(this.maxNodes),
      '--ttl',
      String(TTL),
      '--handoff',
      'none',
      '--barrier-timeout',
      '60s',
    ];
    return role === 'master'
      ? [
          ...common,
          '--no-worker',
          '--generator',
          this.tasksFile,
          '--interval',
          INTERVAL,
          '--rebalance-wait',
          REBALANCE_WAIT,
        ]
      : [...common, '--no-master', '--handler', HANDLER];
  }

  get liveWorkers(): FleetProc[] {
    return this.procs.filter((p) => p.role === 'worker' && p.alive);
  }

  proc(name: string): FleetProc {
    const p = this.procs.find((x) => x.name === name);
    if (!p) throw new Error(`no process ${name} in the fleet`);
    return p;
  }

  /** Every key under the root, as a map. */
  async keys(): Promise<Map<string, string>> {
    const all = await this.etcd.getAll().prefix(`/${this.root}/`).strings();
    return new Map(Object.entries(all));
  }

  /** Name of the master holding the election (lowest create revision), or undefined. */
  async leader(): Promise<string | undefined> {
    const r = await this.etcd.getAll().prefix(`/${this.root}/election/`).sort('Create', 'Ascend').strings();
    return Object.values(r)[0];
  }

  /** Duplicate adds seen so far by any process of this fleet, living or dead. */
  violations(): string[] {
    return this.procs.flatMap((p) => p.violations);
  }

  /**
   * What is wrong with the fleet now (empty when it is converged). `payload: 'generator'` also requires
   * the stored payloads to equal the task list's (a TS master rewrites a changed payload; the original
   * never does).
   */
  async problems(
    opts: { barrier?: Iterable<FleetProc>; payload?: 'generator' | 'stored' } = {},
  ): Promise<string[]> {
    const problems: string[] = [];
    const kv = await this.keys();
    const live = new Set(this.liveWorkers.map((p) => p.name));
    const registered = new Set<string>();
    const assigned = new Map<string, Map<string, string>>(); // worker -> id -> stored value
    const where = new Map<string, string[]>();
    for (const [key, value] of kv) {
      const rest = key.slice(this.root.length + 2);
      if (rest.startsWith('worker/')) registered.add(rest.slice('worker/'.length));
      if (!rest.startsWith('task/')) continue;
      const [worker, id] = rest.slice('task/'.length).split('/');
      if (!assigned.has(worker)) assigned.set(worker, new Map());
      assigned.get(worker)!.set(id, value);
      where.set(id, [...(where.get(id) ?? []), worker]);
    }
    for (const name of live)
      if (!registered.has(name)) problems.push(`live worker ${name} has no worker key`);
    for (const name of registered)
      if (!live.has(name)) problems.push(`worker key of ${name}, which is not running`);
    const wanted = new Map(this.tasks.map((t) => [t.id, t]));
    for (const t of this.tasks) {
      const ws = where.get(t.id) ?? [];
      if (ws.length !== 1) problems.push(`task ${t.id} is on ${ws.length} workers (${ws.join(', ')})`);
      else if (!live.has(ws[0])) problems.push(`task ${t.id} is on ${ws[0]}, which is not a live worker`);
    }
    for (const id of where.keys())
      if (!wanted.has(id)) problems.push(`task ${id} is assigned but not generated`);
    for (const [worker, tasks] of assigned) {
      for (const [id, value] of tasks) {
        let stored: string;
        try {
          const o = JSON.parse(value) as { ID?: string; Raw?: string | null };
          stored = o.Raw ?? '';
          if (o.ID !== id) problems.push(`${worker}/${id}: stored ID is ${o.ID}`);
        } catch {
          problems.push(`${worker}/${id}: stored value is not JSON: ${value}`);
          continue;
        }
        const spec = wanted.get(id);
        if (opts.payload === 'generator' && spec) {
          const want = Buffer.from(spec.raw ?? '', 'utf8').toString('base64');
          if (stored !== want)
            problems.push(`${worker}/${id}: stored payload ${stored}, generator says ${want}`);
        }
      }
    }
    for (const p of this.liveWorkers) {
      const mine = assigned.get(p.name) ?? new Map<string, string>();
      for (const [id, value] of mine) {
        const run = p.running.get(id);
        if (!run) {
          problems.push(`${p.name} does not run ${id}, which etcd assigns it`);
          continue;
        }
        const stored = (JSON.parse(value) as { Raw?: string | null }).Raw ?? '';
        if (run.raw !== stored)
          problems.push(`${p.name} runs ${id} with payload ${run.raw}, etcd has ${stored}`);
      }
      for (const id of p.running.keys()) {
        if (!mine.has(id)) problems.push(`${p.name} runs ${id}, which etcd does not assign it`);
      }
    }
    if (opts.barrier) {
      for (const p of opts.barrier) {
        const status = p.role === 'worker' && p.alive ? await p.currentStatus() : 'left_barrier';
        if (status !== 'left_barrier')
          problems.push(`barrier: ${p.name} is ${status ?? 'silent'}, not left_barrier`);
      }
      const left = [...kv.keys()].filter((k) => k.startsWith(`/${this.root}/worker-barrier/`));
      if (left.length > 0) problems.push(`barrier keys left behind: ${left.join(', ')}`);
    }
    return problems;
  }

  /**
   * Waits until `problems()` is empty (polling etcd and the processes), failing at once on a duplicate
   * add, and with everything known after `ms`.
   */
  async converged(
    label: string,
    opts: { barrier?: Iterable<FleetProc>; payload?: 'generator' | 'stored'; ms?: number } = {},
  ): Promise<void> {
    const deadline = Date.now() + (opts.ms ?? 45_000);
    let last: string[] = [];
    for (;;) {
      const v = this.violations();
      if (v.length > 0) throw new Error(`${label}: ${v.join('; ')}\n${await this.dump()}`);
      last = await this.problems(opts);
      if (last.length === 0) return;
      if (Date.now() > deadline) {
        throw new Error(
          `${label}: not converged after ${opts.ms ?? 45_000} ms:\n  ${last.join('\n  ')}\n${await this.dump()}`,
        );
      }
      await sleep(250);
    }
  }

  /** Waits until `check` returns true, at most `ms`. */
  async until(label: string, check: () => boolean | Promise<boolean>, ms = 30_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`${label}: not within ${ms} ms\n${await this.dump()}`);
      await sleep(100);
    }
  }

  async dump(): Promise<string> {
    const kv = await this.keys().catch((err: Error) => new Map([['(etcd)', err.message]]));
    const keys = [...kv].map(([k, v]) => `  ${k} = ${v.slice(0, 120)}`).join('\n');
    const procs = this.procs
      .map((p) => `${p.dump()}\n  runs: ${[...p.running.keys()].sort().join(' ')}`)
      .join('\n');
    return `=== etcd under /${this.root}:\n${keys}\n=== processes:\n${procs}`;
  }

  /** Kills every process (SIGKILL by group), waits for them, deletes the root and closes the client. */
  async destroy(): Promise<void> {
    for (const p of this.procs) p.kill('SIGKILL');
    await withDeadline(Promise.all(this.procs.map((p) => p.exited)), 10_000, 'fleet processes to exit');
    await this.etcd
      .delete()
      .prefix(`/${this.root}/`)
      .catch(() => undefined);
    this.etcd.close();
  }
}

/** Runs an `escheduler` command to its end (at most `ms`). */
export async function runTs(
  args: string[],
  ms = 20_000,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', CLI_ENTRY, ...args], {
    cwd: REPO,
    env: { ...process.env, ESCHEDULER_ETCD: undefined },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  try {
    const code = await withDeadline(exited, ms, `escheduler ${args.join(' ')} did not exit within ${ms} ms`);
    return { code, stdout, stderr };
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export async function withDeadline<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(message)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
