/**
 * The set of runs: one {@link TaskRunner} per assigned task, started highest priority first while the
 * worker may start runs, stopped when the task is revoked, the worker fences itself or drains.
 */
import type { Session } from '../../recipes/session.js';
import { encodeTask, type Task } from '../../task.js';
import type { Logger } from '../../util/logger.js';
import type { WorkerHealth } from '../health.js';
import type { Keys } from '../keys.js';
import { retryBackoff } from '../options.js';
import { ClaimBatcher } from './claims.js';
import type { Emit } from './events.js';
import { HealthPublisher, HealthTracker } from './health.js';
import type { ResolvedWorkerOptions } from './options.js';
import { type RunHandler, TaskRunner } from './runner.js';

export interface RunSetDeps {
  o: ResolvedWorkerOptions;
  run: RunHandler;
  k: Keys;
  log: Logger;
  emit: Emit;
  /** The tasks to run now. */
  assigned(): ReadonlyMap<string, Task>;
  /** Create revision of a task's assignment key (the token with handoff 'none'). */
  createRevision(id: string): number;
  /** The session to claim and run under, or undefined while no run may start (fenced, watch down, draining). */
  startable(): Session | undefined;
  /** A run started or settled. */
  changed(): void;
}

export class RunSet {
  private readonly runners = new Map<string, TaskRunner>();
  private readonly claims: ClaimBatcher;
  /** Per-task health of the runs, published at `/<root>/health/<name>` (issue 12). */
  private readonly tracker: HealthTracker;
  private readonly publisher: HealthPublisher;

  constructor(private readonly d: RunSetDeps) {
    this.claims = new ClaimBatcher(d.o.store, d.o.name, d.log);
    const { o } = d;
    this.tracker = new HealthTracker({
      worker: o.name,
      clock: o.clock,
      steadyAfter: o.steadyAfter,
      metrics: o.metrics,
      changed: () => this.publisher.changed(),
    });
    this.publisher = new HealthPublisher({
      store: o.store,
      clock: o.clock,
      key: d.k.health(o.name),
      tracker: this.tracker,
      log: d.log,
    });
  }

  /** The health of the runs now (every failing task listed). */
  health(): WorkerHealth {
    return this.tracker.snapshot();
  }

  /** Publishes the health document with this session's lease (until the session ends). */
  publishHealth(session: Session): void {
    this.publisher.bind(session);
  }

  /** Stops publishing (draining): the document goes with the lease. */
  stopPublishing(): void {
    this.publisher.unbind();
  }

  get size(): number {
    return this.runners.size;
  }

  /** Starts runs for assigned tasks (highest priority first) and stops runs of revoked ones. */
  reconcile(): void {
    const { d } = this;
    const assigned = d.assigned();
    for (const [id, runner] of this.runners) {
      if (!assigned.has(id)) runner.stop('revoked');
    }
    const session = d.startable();
    if (!session || session.isLost) return;
    const todo = [...assigned.values()]
      .filter((t) => !this.runners.has(t.id))
      .sort((a, b) => (b.priority ?? 0) - (a.priority ?? 0) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    for (const task of todo) this.start(task, session);
    this.updateRunning();
  }

  /**
   * The task's value changed (or its assignment key was re-created): a runner of the previous value runs
   * the new one (keeping its claim).
   */
  replace(task: Task): void {
    // Compare with what the runner runs: a delete and a put of the same key in one batch leave the view
    // without the old value while the runner still runs it.
    const runner = this.runners.get(task.id);
    if (!runner) return;
    const assignment = this.assignment(task.id);
    const newToken = this.d.o.handoff === 'none' && runner.assignmentRevision !== assignment.createRevision;
    if (newToken || encodeTask(runner.task) !== encodeTask(task)) {
      runner.replace(task, assignment);
    }
  }

  private assignment(id: string): { key: string; createRevision: number } {
    return { key: this.d.k.task(this.d.o.name, id), createRevision: this.d.createRevision(id) };
  }

  /** Stops every run (`releaseClaim: false` when the lease is gone: the claims go with it). */
  stopAll(reason: string, options: { releaseClaim?: boolean } = {}): void {
    for (const r of this.runners.values()) r.stop(reason, options);
  }

  /** Resolves when every run there is now has settled. */
  settled(): Promise<void> {
    return Promise.allSettled([...this.runners.values()].map((r) => r.done)).then(() => undefined);
  }

  /** Ids of tasks whose run is going on now. */
  running(): string[] {
    return [...this.runners.values()].filter((r) => r.running).map((r) => r.task.id);
  }

  /** True when every task of `assigned` runs (its run started and has not settled). */
  isAllRunning(assigned: ReadonlyMap<string, Task>): boolean {
    for (const id of assigned.keys()) if (!this.runners.get(id)?.running) return false;
    return true;
  }

  private start(task: Task, session: Session): void {
    const { d } = this;
    const runner = new TaskRunner({
      task,
      worker: d.o.name,
      store: d.o.store,
      clock: d.o.clock,
      session,
      claimKey: d.o.handoff === 'claim' ? d.k.claim(task.id) : undefined,
      claims: this.claims,
      assignment: this.assignment(task.id),
      run: d.run,
      restart: d.o.restart,
      retry: (initialDelay) => retryBackoff(d.o, initialDelay),
      log: d.log,
      metrics: d.o.metrics,
      health: this.tracker,
      emit: (event, payload) => {
        this.updateRunning();
        if (event === 'started') d.emit('started', { id: payload.id, attempt: payload.attempt ?? 1 });
        else d.emit('stopped', { id: payload.id, error: payload.error });
        d.changed();
      },
    });
    this.runners.set(task.id, runner);
    void runner.done.then(() => {
      if (this.runners.get(task.id) === runner) this.runners.delete(task.id);
      this.updateRunning();
      d.changed();
      // Assigned again meanwhile (or still assigned after a self-fence): start anew.
      if (d.assigned().has(task.id)) this.reconcile();
    });
  }

  private updateRunning(): void {
    let n = 0;
    for (const r of this.runners.values()) if (r.running) n++;
    this.d.o.metrics.workerTasksRunning.set({ name: this.d.o.name }, n);
  }
}
