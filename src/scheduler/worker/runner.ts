import { LeaseNotFoundError } from '../../errors.js';
import type { Session } from '../../recipes/session.js';
import { waitForDelete } from '../../recipes/watcher.js';
import type { Compare, Store } from '../../store/port.js';
import type { Task } from '../../task.js';
import { Backoff } from '../../util/backoff.js';
import type { Clock } from '../../util/clock.js';
import type { Logger } from '../../util/logger.js';
import type { Metrics } from '../metrics.js';
import type { ClaimBatcher } from './claims.js';
import type { RunHealth } from './health.js';

export interface RunContext {
  /** Aborted when the task is revoked, changes, or the worker stops or loses its lease. */
  signal: AbortSignal;
  /** This worker's name. */
  worker: string;
  /** 1 for the first run, then 2, 3... for restarts. */
  attempt: number;
  /**
   * The fencing token of this run: the create revision of the task's claim `/<root>/claim/<id>` (with
   * `handoff: 'none'`, of its assignment key `/<root>/task/<worker>/<id>`). Every later owner of the task
   * gets a strictly greater token (etcd revisions are global and only grow; a new owner's claim is a new
   * create); restarts of this run keep it. Pass it with every write to a system that can check it, and
   * stop when a write is refused for a higher token.
   */
  token: number;
  /**
   * A compare that holds only while this run's claim (or assignment) is the live one: add it to the
   * compares of your own txns on the same etcd so they fail once another owner may run the task.
   */
  fence: Compare;
}

/** Runs one task until `signal` aborts. Throwing or returning while still assigned restarts it (with backoff). */
export type RunHandler = (task: Task, ctx: RunContext) => Promise<void> | void;

/** Restarts of a run: the n-th waits `initialDelay × factor^(n−1)`, at most `maxDelay` (no jitter). */
export interface RestartPolicy {
  /** First restart delay. @default 1_000 (ms) */
  initialDelay?: number;
  /** Longest restart delay. @default 30_000 (ms) */
  maxDelay?: number;
  /** Delay multiplier per attempt. @default 2 */
  factor?: number;
}

export interface RunnerDeps {
  task: Task;
  worker: string;
  store: Store;
  clock: Clock;
  session: Session;
  /** `/<root>/claim/<id>` with handoff 'claim'; undefined with handoff 'none'. */
  claimKey?: string;
  /** The assignment key and its create revision: the token with handoff 'none'. */
  assignment: { key: string; createRevision: number };
  /** Tries the first claim together with the other runners started in the same tick (one txn). */
  claims?: ClaimBatcher;
  run: RunHandler;
  restart: Required<RestartPolicy>;
  /** A new backoff for one loop retrying a failed store call (claim, release), capped by `maxRetryDelay`. */
  retry(initialDelay: number): Backoff;
  log: Logger;
  metrics: Metrics;
  health: RunHealth;
  emit(event: 'started' | 'stopped', payload: { id: string; attempt?: number; error?: unknown }): void;
}

/**
 * One assigned task on one worker: claim it (waiting while another worker holds the claim), run it,
 * restart it with backoff while it stays assigned, and release the claim only after the run settled.
 */
export class TaskRunner {
  task: Task;
  /** The run handler has been called and has not settled. */
  running = false;
  readonly done: Promise<void>;
  /** Why the runner stops, once `stop()` was called. */
  private stopped?: Error;
  /**
   * The one controller alive at a time: of the claim phase, then of each run attempt or backoff. `stop()`
   * aborts it; `replace()` aborts it only during a run. One per runner keeps 10k runs cheap.
   */
  private phase = new AbortController();
  private phaseIsRun = false;
  private release = true;
  /** The user-facing restart policy: documented delays, no jitter. */
  private readonly restarts: Backoff;

  constructor(private readonly d: RunnerDeps) {
    this.task = d.task;
    this.restarts = new Backoff({ ...d.restart, jitter: 'none' });
    this.done = this.main().catch((err: unknown) => {
      d.log.error({ err, task: d.task.id }, 'task runner failed');
    });
  }

  /** Aborts the run; the claim is released after it settled unless `releaseClaim` is false (lease lost). */
  stop(reason: string, options: { releaseClaim?: boolean } = {}): void {
    if (options.releaseClaim === false) this.release = false;
    if (this.stopped) return;
    this.stopped = new Error(`task ${this.task.id}: ${reason}`);
    this.phase.abort(this.stopped);
  }

  /**
   * The task's value changed: stop the current attempt and run the new value at once, keeping the claim.
   * With handoff 'none' the token follows the assignment key (re-created: a new token).
   */
  replace(task: Task, assignment: { key: string; createRevision: number }): void {
    this.task = task;
    this.d.assignment = assignment;
    if (this.phaseIsRun) this.phase.abort(new Error(`task ${task.id}: value changed`));
  }

  /** Create revision of the assignment key this runner runs under. */
  get assignmentRevision(): number {
    return this.d.assignment.createRevision;
  }

  /** The signal of the next phase: the current controller while unused and unaborted, else a new one. */
  private nextPhase(run: boolean): AbortSignal {
    if (this.phase.signal.aborted || this.phaseIsRun) {
      this.phase = new AbortController();
      if (this.stopped) this.phase.abort(this.stopped);
    }
    this.phaseIsRun = run;
    return this.phase.signal;
  }

  private async main(): Promise<void> {
    const { d } = this;
    let claimed = false;
    let claimRevision = 0;
    d.health.starting(d.task.id);
    try {
      if (d.claimKey) {
        const t0 = d.clock.now();
        const revision = await this.claim(d.claimKey, this.nextPhase(false));
        if (revision === undefined) return;
        claimed = true;
        claimRevision = revision;
        d.metrics.claimWait.observe({ name: d.worker }, (d.clock.now() - t0) / 1000);
      }
      let attempt = 0;
      while (!this.stopped) {
        attempt++;
        const signal = this.nextPhase(true);
        const task = this.task;
        this.running = true;
        d.health.running(task.id);
        d.emit('started', { id: task.id, attempt });
        let error: unknown;
        try {
          const key = d.claimKey ?? d.assignment.key;
          const token = d.claimKey ? claimRevision : d.assignment.createRevision;
          const fence: Compare = { key, target: 'create', op: '=', value: token };
          await d.run(task, { signal, worker: d.worker, attempt, token, fence });
        } catch (err) {
          error = err;
        }
        this.running = false;
        d.emit('stopped', { id: task.id, error });
        if (this.stopped) break;
        if (signal.aborted) {
          attempt = 0; // replaced by a new value: start it at once
          this.restarts.reset();
          continue;
        }
        d.metrics.taskRestarts.inc({ name: d.worker });
        d.health.failed(task.id, error);
        const delay = this.restarts.ceiling; // the delay of this restart: initialDelay × factor^(attempt−1)
        d.log.warn(
          { task: task.id, attempt, err: error, delay },
          'run ended while still assigned; restarting',
        );
        await this.restarts.wait(d.clock, this.nextPhase(false));
      }
    } finally {
      d.health.removed(d.task.id);
      if (claimed && this.release && !d.session.isLost) await this.unclaim(d.claimKey!);
    }
  }

  /**
   * Creates the claim with our lease, waiting (by watch) while another holder has it. Returns the claim's
   * create revision (the token), undefined when aborted.
   */
  private async claim(key: string, signal: AbortSignal): Promise<number | undefined> {
    const { d } = this;
    const batched = d.claims ? await d.claims.claim(key, d.session.leaseId) : undefined;
    if (batched !== undefined) {
      if (!signal.aborted) return batched;
      if (!d.session.isLost) await this.unclaim(key); // stopped meanwhile: give it back
      return undefined;
    }
    const backoff = d.retry(100);
    while (!signal.aborted && !d.session.isLost) {
      try {
        const res = await d.store.txn({
          compare: [{ key, target: 'create', op: '=', value: 0 }],
          success: [{ type: 'put', key, value: d.worker, lease: d.session.leaseId }],
          failure: [{ type: 'range', key }],
        });
        if (res.succeeded) return res.revision; // the txn's revision is the claim's create revision
        const r = res.responses[0];
        const holder = r?.type === 'range' ? r.kvs[0] : undefined;
        if (!holder) continue; // released between compare and read: try again
        if (holder.value === d.worker && holder.lease === d.session.leaseId) return holder.createRevision;
        d.log.debug(
          { task: d.task.id, holder: holder.value },
          'waiting for the previous owner to release the claim',
        );
        await waitForDelete(d.store, key, holder.modRevision, signal, { clock: d.clock });
        backoff.reset();
      } catch (err) {
        if (signal.aborted) return undefined;
        if (err instanceof LeaseNotFoundError) return undefined; // our lease is gone: the worker re-registers
        d.log.warn({ err, task: d.task.id }, 'claiming failed; retrying');
        await backoff.wait(d.clock, signal);
      }
    }
    return undefined;
  }

  private async unclaim(key: string): Promise<void> {
    const { d } = this;
    if (d.claims && (await d.claims.release(key, d.session.leaseId))) return;
    // While our lease lives, so does the claim: giving up would hold the new owner off until this worker
    // dies. Retry until released, or until the session ends (the claim then goes with the lease).
    const backoff = d.retry(200);
    for (let i = 0; !d.session.signal.aborted; i++) {
      try {
        await d.store.txn({
          compare: [
            { key, target: 'value', op: '=', value: d.worker },
            { key, target: 'lease', op: '=', value: d.session.leaseId },
          ],
          success: [{ type: 'delete', key }],
        });
        return;
      } catch (err) {
        d.log.warn({ err, task: d.task.id, try: i + 1 }, 'releasing the claim failed; retrying');
        // No signal: one listener per runner on the session's signal would grow with the task count.
        await backoff.wait(d.clock);
      }
    }
    d.log.warn({ task: d.task.id }, 'claim not released before the session ended; it goes with the lease');
  }
}
