/**
 * The demo's fleet and the story it plays: two master candidates and `options.workers` workers on one
 * store — start-up barrier, first schedule, a worker joins, a worker crashes (its lease revoked, no drain),
 * the task set changes — each rebalance reported as it happens (see `demo-screen.ts` for the output).
 */
import { keys, rootPath } from '../scheduler/keys.js';
import { Master, type ScheduleReport } from '../scheduler/master.js';
import { PrometheusMetrics } from '../scheduler/prometheus.js';
import { Worker, WorkerStatus } from '../scheduler/worker.js';
import type { Store } from '../store/port.js';
import type { Task } from '../task.js';
import { assignmentTable, Screen } from './demo-screen.js';
import {
  type Assignment,
  balanceLine,
  GROUPS,
  marketTasks,
  readAssignment,
  simulatedWork,
  split,
} from './demo-story.js';
import { formatDuration } from './duration.js';

/** What the story is played with. */
export interface DemoOptions {
  /** Workers at the start (one more joins). */
  workers: number;
  /** Tasks at the start. */
  tasks: number;
  /** Length of the story (ms). */
  duration: number;
  /** Plain lines even on a terminal. */
  plain?: boolean;
}

interface Rebalance {
  n: number;
  at: number;
  report: ScheduleReport;
  balance: string;
}

/** The fleet playing the story: {@link Demo.play} until the end or an abort, then {@link Demo.finish}. */
export class Demo {
  private readonly screen: Screen;
  private readonly rebalances: Rebalance[] = [];
  private readonly ticks = new Map<string, number>();
  private readonly metrics = new PrometheusMetrics();
  private readonly masters: Master[] = [];
  private readonly workers: Worker[] = [];
  private readonly crashed = new Set<string>();
  private readonly k: ReturnType<typeof keys>;
  private tasks: Task[];
  private step = 'start-up barrier';
  private redrawTimer?: ReturnType<typeof setInterval>;
  private barrierFull = false;
  private barrierLeft = false;

  constructor(
    private readonly store: Store,
    private readonly storeName: string,
    private readonly root: string,
    private readonly f: DemoOptions,
  ) {
    this.k = keys(root);
    this.screen = new Screen(!f.plain && process.stdout.isTTY === true);
    this.tasks = marketTasks(split(f.tasks));
  }

  private say(line: string): void {
    this.screen.say(line);
  }

  private timings() {
    const d = this.f.duration;
    return {
      ttl: 2,
      rebalanceWait: Math.min(500, Math.round(d / 20)),
      barrierTimeout: Math.max(1_000, Math.round(d / 4)),
      interval: Math.max(10_000, d),
    };
  }

  private node(name: string, maxNumNodes: number) {
    const t = this.timings();
    return {
      store: this.store,
      rootName: this.root,
      name,
      ttl: t.ttl,
      maxNumNodes,
      barrierTimeout: t.barrierTimeout,
      metrics: this.metrics,
    };
  }

  private addWorker(name: string, maxNumNodes: number): Worker {
    const w = new Worker({
      ...this.node(name, maxNumNodes),
      run: simulatedWork(this.ticks),
      drainTimeout: 1_000,
      restart: { initialDelay: 100, maxDelay: 1_000 },
    });
    w.on('status', ({ status }) => {
      if (status === WorkerStatus.InBarrier)
        this.say(`barrier: ${name} entered the start-up barrier and waits`);
      if (status === WorkerStatus.LeftBarrier && !this.barrierLeft && this.barrierFull)
        this.checkBarrierLeft();
    });
    w.on('error', ({ error, context }) => {
      if (!this.crashed.has(name)) this.say(`${name}: ${context}: ${(error as Error)?.message ?? error}`);
    });
    this.workers.push(w);
    return w;
  }

  private checkBarrierLeft(): void {
    const initial = this.workers.slice(0, this.f.workers);
    if (initial.every((w) => w.status === WorkerStatus.LeftBarrier)) {
      this.barrierLeft = true;
      this.say(
        'barrier: every worker runs its tasks — they left the barrier together (the rolling-update signal)',
      );
    }
  }

  private addMaster(name: string, maxNumNodes: number): Master {
    const t = this.timings();
    const m = new Master({
      ...this.node(name, maxNumNodes),
      generator: () => this.tasks,
      interval: t.interval,
      rebalanceWait: t.rebalanceWait,
      timeout: 5_000,
    });
    m.on('elected', () => this.say(`${name} is elected master (leader)`));
    m.on('schedule', (report) => void this.onSchedule(report));
    this.masters.push(m);
    return m;
  }

  private assignment(): Promise<Assignment> {
    return readAssignment(this.store, this.k.taskPrefix);
  }

  private async onSchedule(r: ScheduleReport): Promise<void> {
    if (r.reason.startsWith('first schedule')) {
      this.barrierFull = !r.reason.includes('timeout');
      this.say(
        this.barrierFull
          ? `barrier: full (${this.f.workers} workers + the master) — the first schedule sees the whole fleet`
          : 'barrier: timed out — scheduling with the workers present',
      );
    }
    const a = await this.assignment().catch(() => new Map() as Assignment);
    const names = [...a.keys()].sort();
    const balance = balanceLine(a, names);
    this.rebalances.push({
      n: this.rebalances.length + 1,
      at: Date.now() - this.screen.t0,
      report: r,
      balance,
    });
    this.say(
      `rebalance #${this.rebalances.length} by ${r.leader} (${r.reason}): ${r.result}, ${r.workers} workers, ${r.tasks} tasks, ` +
        `+${r.assigned} assigned, -${r.revoked} revoked, moves ${r.moves} (live worker to live worker), ${formatDuration(r.durationMs)}`,
    );
    this.say(`  balance: ${balance}`);
    if (!this.screen.live) for (const line of this.table(a, names, false)) this.say(`  ${line}`);
    void this.reportRunning(r.tasks);
  }

  /** After a rebalance: how long until every task runs again (claims handed over). */
  private async reportRunning(expected: number): Promise<void> {
    const started = Date.now();
    const n = this.rebalances.length;
    while (Date.now() - started < 5_000) {
      const running = this.workers
        .filter((w) => !this.crashed.has(w.name))
        .reduce((s, w) => s + w.runningTasks().length, 0);
      const settled = this.workers.every((w) => this.crashed.has(w.name) || w.isAllRunning());
      if (running === expected && settled) {
        this.say(
          `  all ${expected} tasks running ${formatDuration(Date.now() - started)} after rebalance #${n}`,
        );
        if (!this.barrierLeft && this.barrierFull) this.checkBarrierLeft();
        return;
      }
      if (this.rebalances.length !== n) return;
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  private table(a: Assignment, names: string[], withStatus: boolean): string[] {
    return assignmentTable(
      a,
      names,
      this.tasks.length > 48,
      withStatus ? (name) => this.cells(name) : undefined,
    );
  }

  /** A worker's status and running-task count for the live table. */
  private cells(name: string): [string, string] {
    const w = this.workers.find((x) => x.name === name);
    const status = w ? (this.crashed.has(name) ? 'crashed' : w.status) : '?';
    const running = w && !this.crashed.has(name) ? String(w.runningTasks().length) : '0';
    return [status, running];
  }

  private async redraw(final = false): Promise<void> {
    const a = await this.assignment().catch(() => new Map() as Assignment);
    const names = [...new Set([...this.workers.map((w) => w.name), ...a.keys()])].sort(
      (x, y) => x.length - y.length || (x < y ? -1 : 1),
    );
    const leader = this.masters.find((m) => m.isLeader)?.name ?? 'none (election)';
    const out: string[] = [];
    out.push(
      `escheduler demo — ${this.storeName} — root /${this.root.replace(/^\//, '')} — ${this.screen.elapsed.trim()} of ${formatDuration(this.f.duration)}`,
    );
    out.push(
      `leader: ${leader}   standby: ${this.masters
        .filter((m) => !m.isLeader)
        .map((m) => m.name)
        .join(', ')}   now: ${this.step}`,
    );
    out.push('');
    out.push(...this.table(a, names, true));
    out.push('');
    out.push('rebalances:');
    for (const r of this.rebalances.slice(-6)) {
      out.push(
        `  #${r.n} at ${formatDuration(r.at)}  ${r.report.reason}  moves ${r.report.moves}  ${formatDuration(r.report.durationMs)}  ${r.balance}`,
      );
    }
    this.screen.draw(out, final);
  }

  async play(abort: AbortSignal): Promise<void> {
    const d = this.f.duration;
    const n = this.f.workers;
    const maxNumNodes = n + 1;
    const t = this.timings();
    if (this.screen.live) {
      process.stdout.write('\x1b[?25l');
      this.redrawTimer = setInterval(() => void this.redraw(), 200);
    }
    this.say(
      `${n} workers and 2 master candidates start on the ${this.storeName}, root ${rootPath(this.root)}: ` +
        `${this.tasks.length} tasks in groups ${GROUPS.join(', ')} (options keyed by coin; priorities 10/5/1)`,
    );
    this.say(
      `timings: ttl ${t.ttl}s, rebalanceWait ${formatDuration(t.rebalanceWait)}, barrierTimeout ${formatDuration(t.barrierTimeout)}; ` +
        `barrier size maxNumNodes ${maxNumNodes} (${n} workers + the master)`,
    );
    for (let i = 1; i <= n; i++) this.addWorker(`w${i}`, maxNumNodes);
    this.addMaster('m1', maxNumNodes);
    this.addMaster('m2', maxNumNodes);
    const starting = this.workers.map((w) => w.start());
    for (const m of this.masters) m.start();
    await Promise.all(starting);

    const at = (fraction: number) => sleepUntil(this.screen.t0 + d * fraction, abort);
    if (await at(0.25)) {
      this.step = 'a worker joins';
      const name = `w${n + 1}`;
      this.say(
        `story: ${name} joins (scale-up: its cap is maxNumNodes ${maxNumNodes + 1}) — expect ~1/${n + 1} of the tasks to move to it, nothing else`,
      );
      await this.addWorker(name, maxNumNodes + 1).start();
    }
    if (await at(0.5)) {
      this.step = 'a worker crashes';
      const victim = this.workers[Math.min(1, this.workers.length - 1)];
      const lease = victim.leaseId;
      this.crashed.add(victim.name);
      this.say(
        `story: ${victim.name} crashes — its lease is revoked, no drain — expect exactly its tasks to move`,
      );
      if (lease) await this.store.revokeLease(lease).catch(() => undefined);
      await victim.stop().catch(() => undefined);
    }
    if (await at(0.75)) {
      this.step = 'the task set changes';
      const base = split(this.f.tasks);
      const k = Math.max(1, Math.round(this.f.tasks / 8));
      const next = { ...base, spot: Math.max(1, base.spot - k), futures: base.futures + k + 1 };
      this.tasks = marketTasks(next);
      this.say(
        `story: the task set changes — ${base.spot - next.spot} spot tasks delisted, ${k + 1} futures listed (${this.tasks.length} tasks)`,
      );
      this.masters.find((m) => m.isLeader)?.notifySchedule('task set changed');
    }
    await at(1);
    this.step = abort.aborted ? 'interrupted: draining' : 'the end: draining';
    this.say(abort.aborted ? 'interrupted: draining every worker' : 'the end: draining every worker');
  }

  async finish(): Promise<void> {
    await Promise.all(
      this.workers.filter((w) => !this.crashed.has(w.name)).map((w) => w.stop().catch(() => undefined)),
    );
    await Promise.all(this.masters.map((m) => m.stop().catch(() => undefined)));
    if (this.redrawTimer) {
      clearInterval(this.redrawTimer);
      await this.redraw(true);
      process.stdout.write('\x1b[?25h');
    }
    const moves = this.rebalances.reduce((s, r) => s + r.report.moves, 0);
    const work = [...this.ticks.values()].reduce((s, x) => s + x, 0);
    const summary = `summary: ${this.rebalances.length} rebalances, ${moves} moves in all, ${work} units of simulated work done`;
    if (this.screen.live) process.stdout.write(`${summary}\n`);
    else this.say(summary);
  }
}

/** Sleeps until `when` (epoch ms); false when aborted. */
function sleepUntil(when: number, signal: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve(false);
    const t = setTimeout(
      () => {
        signal.removeEventListener('abort', onAbort);
        resolve(true);
      },
      Math.max(0, when - Date.now()),
    );
    const onAbort = () => {
      clearTimeout(t);
      resolve(false);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
