/**
 * The probes of `escheduler run`, with Kubernetes' split: **liveness** (`/healthz`) says whether this
 * process works — its event loop answers, the worker's and the master's loops have not died, a drain is not
 * stuck — and nothing about etcd, so an etcd outage never restarts a healthy fleet; **readiness**
 * (`/readyz`) says whether this worker runs its share now, with the reason when it does not
 * (`etcd unreachable`, `fenced`, `standby`, `barrier`, `starting tasks`, `waiting for a schedule`...).
 */
import { performance } from 'node:perf_hooks';
import type { Keys } from '../scheduler/keys.js';
import type { Master } from '../scheduler/master.js';
import type { Worker } from '../scheduler/worker.js';
import type { Store } from '../store/port.js';
import { formatDuration } from './duration.js';
import type { ProbeResult } from './http.js';

/** `--liveness-budget`: the longest the event loop may be blocked before `/healthz` fails (ms). */
export const DEFAULT_LIVENESS_BUDGET = 10_000;
/** How often the event-loop heartbeat ticks (ms). */
const TICK = 100;
/** How long past `drainTimeout` a drain may take (the store calls after the runs settled) before it counts as wedged. */
export const DRAIN_SLACK = 15_000;
/** A readiness store call (the schedule check) gives up after this (ms): a probe answers promptly. */
const READY_CALL_TIMEOUT = 1_500;

/**
 * An event-loop heartbeat: a timer every 100 ms notes how late it fires. A gap longer than `budgetMs`
 * means the loop was blocked that long (a handler spinning, a sync call hanging): liveness fails while such
 * a block goes on, and for `budgetMs` after it ended, so one short blip does not restart the pod but a
 * process that keeps blocking does.
 */
export class LoopWatch {
  private last = performance.now();
  private stall?: { endedAt: number; ms: number };
  private readonly timer: NodeJS.Timeout;

  constructor(readonly budgetMs: number) {
    this.timer = setInterval(() => {
      const now = performance.now();
      const gap = now - this.last;
      if (gap > budgetMs) this.stall = { endedAt: now, ms: gap };
      this.last = now;
    }, TICK);
    this.timer.unref();
  }

  /** The loop's state now: `blockedMs` is the longest recent block over the budget, if any. */
  check(): { ok: boolean; blockedMs?: number } {
    const now = performance.now();
    const current = now - this.last;
    if (current > this.budgetMs) return { ok: false, blockedMs: current };
    if (this.stall && now - this.stall.endedAt < this.budgetMs)
      return { ok: false, blockedMs: this.stall.ms };
    return { ok: true };
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

export interface ProbeDeps {
  store: Store;
  k: Keys;
  worker?: Worker;
  master?: Master;
  loop: LoopWatch;
  drainTimeout: number;
  /** Monotonic ms. @default performance.now */
  now?: () => number;
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export class Probes {
  /** Lease whose registration a schedule has been seen after. */
  private scheduledFor?: string;
  /** `performance.now()` when the drain started. */
  private drainingSince?: number;

  private readonly now: () => number;

  constructor(private readonly d: ProbeDeps) {
    this.now = d.now ?? (() => performance.now());
  }

  /** The process began draining (SIGTERM): from now on a drain that does not end is a wedge. */
  draining(): void {
    this.drainingSince ??= this.now();
  }

  /** Liveness: the process itself. Never calls etcd. */
  healthz(): ProbeResult {
    const { worker, master, loop } = this.d;
    const detail: Record<string, unknown> = {};
    if (worker) Object.assign(detail, { worker: worker.name, state: worker.condition.state });
    if (master) detail.leader = master.isLeader;
    const fail = (reason: string): ProbeResult => ({ ok: false, detail: { ...detail, reason } });
    const l = loop.check();
    if (!l.ok) {
      return fail(
        `event loop blocked for ${formatDuration(Math.round(l.blockedMs ?? 0))} (budget ${formatDuration(loop.budgetMs)})`,
      );
    }
    const wf = worker?.condition.failure;
    if (wf !== undefined) return fail(`worker loop failed: ${message(wf)}`);
    if (master?.failure !== undefined) return fail(`master loop failed: ${message(master.failure)}`);
    if (this.drainingSince !== undefined) {
      const ms = this.now() - this.drainingSince;
      if (ms > this.d.drainTimeout + DRAIN_SLACK) {
        return fail(
          `drain wedged: ${formatDuration(Math.round(ms))} since the stop signal (drain timeout ${formatDuration(this.d.drainTimeout)})`,
        );
      }
    }
    return { ok: true, detail };
  }

  /** Readiness: the worker runs its share now (a master alone: it holds a live lease). */
  async readyz(): Promise<ProbeResult> {
    const { worker: w, master, store, k } = this.d;
    if (!w) {
      const lease = master?.leaseId;
      if (!lease) return { ok: false, detail: { leader: false, lease: null, reason: 'not campaigning' } };
      const detail = { leader: master?.isLeader ?? false, lease };
      try {
        const info = await withTimeout(store.leaseTimeToLive(lease));
        return info.ttl > 0
          ? { ok: true, detail: { ...detail, ttl: info.ttl } }
          : { ok: false, detail: { ...detail, reason: 'lease expired' } };
      } catch {
        return { ok: false, detail: { ...detail, reason: 'etcd unreachable' } };
      }
    }
    const c = w.condition;
    const assigned = [...w.assignedTasks.keys()];
    const running = new Set(w.runningTasks());
    const notRunning = assigned.filter((id) => !running.has(id));
    const detail: Record<string, unknown> = {
      worker: w.name,
      state: c.state,
      status: w.status,
      assigned: assigned.length,
      running: running.size,
      notRunning: notRunning.slice(0, 20),
    };
    if (c.standbySince !== undefined) detail.standbySince = new Date(c.standbySince).toISOString();
    if (!c.ready) return { ok: false, detail: { ...detail, reason: c.reason } };
    const lease = w.leaseId;
    if (lease !== undefined && this.scheduledFor !== lease) {
      // A schedule finished after this registration: the master has seen this worker.
      try {
        const [mine, status] = await withTimeout(
          Promise.all([store.get(k.worker(w.name)), store.get(k.masterStatus)]),
        );
        if (!mine || !status || status.modRevision < mine.createRevision) {
          return { ok: false, detail: { ...detail, reason: 'waiting for a schedule' } };
        }
      } catch {
        return { ok: false, detail: { ...detail, reason: 'etcd unreachable' } };
      }
      this.scheduledFor = lease;
    }
    return { ok: true, detail };
  }
}

function withTimeout<T>(p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('timed out')), READY_CALL_TIMEOUT);
  });
  return Promise.race([p, limit]).finally(() => clearTimeout(timer));
}
