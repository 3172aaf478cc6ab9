/**
 * The worker: registers `/<root>/worker/<name>` with its lease, watches `/<root>/task/<name>/` and runs
 * what it is given. This file wires the parts (src/scheduler/worker/) and owns the lifecycle state;
 * every transition goes through `worker/lifecycle.ts`.
 */
import { EschedulerError, WorkerNameTakenError, WorkerNumExceedMaximumError } from '../errors.js';
import type { Session } from '../recipes/session.js';
import type { Task } from '../task.js';
import { TypedEmitter } from '../util/emitter.js';
import { childLogger, type Logger } from '../util/logger.js';
import type { WorkerHealth } from './health.js';
import { type Keys, keys } from './keys.js';
import { AssignmentView } from './worker/assignments.js';
import { StartupBarrier } from './worker/barrier.js';
import { ConditionTracker, type WorkerCondition } from './worker/condition.js';
import { drain, settleFenced } from './worker/drain.js';
import type { Emit, TaskChange, WorkerEvents } from './worker/events.js';
import { emptyHealth } from './worker/health.js';
import {
  canTransition,
  sessionOf,
  statusOf,
  transition,
  type WorkerState,
  WorkerStatus,
} from './worker/lifecycle.js';
import { ManualApi } from './worker/manual.js';
import { parseWorkerOptions, type ResolvedWorkerOptions, type WorkerOptions } from './worker/options.js';
import { Pulse } from './worker/pulse.js';
import { type ConnectDeps, connect, type Registered, watchRegistration } from './worker/registration.js';
import { RunSet } from './worker/runs.js';

export type { NotReadyReason, WorkerCondition } from './worker/condition.js';
export type { TaskChange, WorkerEvents } from './worker/events.js';
export type { WorkerStateKind } from './worker/lifecycle.js';
export { WorkerStatus } from './worker/lifecycle.js';
export type { WorkerOptions } from './worker/options.js';
export type { RestartPolicy, RunContext, RunHandler } from './worker/runner.js';

/**
 * A worker: registers `/<root>/worker/<name>` with its lease, watches `/<root>/task/<name>/` and runs
 * what it is given. See {@link WorkerOptions} for the run handler and handoff.
 */
export class Worker extends TypedEmitter<WorkerEvents> {
  readonly name: string;
  readonly handoff: 'claim' | 'none';
  private readonly o: ResolvedWorkerOptions;
  private readonly k: Keys;
  private readonly log: Logger;
  private readonly emitter: Emit = (event, payload) => {
    this.emit(event, payload);
  };
  private readonly stopController = new AbortController();
  private readonly deps: ConnectDeps;

  private state: WorkerState = { kind: 'new' };
  private shownStatus?: WorkerStatus;
  /** Fires on every transition. */
  private readonly transitions = new Pulse();
  /** Fires when the assignment changed or a run started or settled. */
  private readonly progress = new Pulse();

  private readonly view: AssignmentView;
  private readonly runs?: RunSet;
  private readonly manual: ManualApi;
  private readonly barrier: StartupBarrier;
  private startPromise?: Promise<void>;
  private mainPromise?: Promise<void>;
  private readonly tracker = new ConditionTracker();
  private stopPromise?: Promise<void>;

  constructor(options: WorkerOptions) {
    const log = options?.logger;
    super((event, err) => log?.error({ err, event }, 'worker event listener threw'));
    const o = parseWorkerOptions(options);
    this.o = o;
    this.name = o.name;
    this.handoff = o.handoff;
    this.k = keys(o.rootName);
    this.log = childLogger(o.logger, { component: 'worker', name: this.name });
    this.deps = {
      o,
      k: this.k,
      log: this.log,
      emit: this.emitter,
      stop: this.stopController.signal,
      attempted: (error) => this.tracker.attempted(error),
      standby: (full, since) => {
        const s = this.state;
        if (s.kind === 'registering' || s.kind === 're-registering') {
          this.to({ kind: 'standby', since, rejoining: s.kind === 're-registering' });
        }
        this.emit('standby', { online: full.online, max: full.max, ahead: full.ahead });
      },
    };
    this.manual = new ManualApi(o);
    this.view = new AssignmentView(o, this.k, this.log, this.emitter, {
      assigned: (task) => {
        this.runs?.replace(task);
        this.emit('assigned', { task });
        this.manual.publish({ action: 'created', task });
      },
      revoked: (id) => {
        this.emit('revoked', { id });
        this.manual.publish({ action: 'deleted', id });
      },
      updated: () => {
        this.runs?.reconcile();
        this.progress.fire();
      },
      down: () => this.runs?.stopAll('assignment watch failed'),
    });
    if (o.run) {
      this.runs = new RunSet({
        o,
        run: o.run,
        k: this.k,
        log: this.log,
        emit: this.emitter,
        assigned: () => this.view.assigned,
        createRevision: (id) => this.view.createRevision(id),
        startable: () => (this.state.kind === 'serving' && this.view.live ? this.state.session : undefined),
        changed: () => this.progress.fire(),
      });
    }
    this.barrier = new StartupBarrier({
      o,
      k: this.k,
      log: this.log,
      emit: this.emitter,
      phaseChanged: () => this.showStatus(),
      assignedCount: () => this.view.assigned.size,
      isAllRunning: () => this.isAllRunning(),
      assignmentChanged: this.progress,
      runsChanged: this.progress,
    });
    this.showStatus();
  }

  /**
   * Clock time (ms) before which the server cannot have expired this worker's lease: the last successful
   * keep-alive's send time + ttl. Self-fencing stops every run before it.
   */
  get leaseSafeUntil(): number | undefined {
    const session = sessionOf(this.state);
    return session ? session.lastKeepAliveAt + session.ttl * 1000 : undefined;
  }

  /** The original's status: `new → registered → in_barrier → left_barrier → dead`. */
  get status(): WorkerStatus {
    return statusOf(this.state, this.barrier.phase);
  }

  /**
   * The lifecycle state, and whether this worker is ready (registered with a lease it renews, past the
   * barrier, every assigned task running) or why not. Read-only; no store call.
   */
  get condition(): WorkerCondition {
    const allRunning = this.state.kind === 'serving' && this.isAllRunning();
    return this.tracker.of(this.state, this.barrier.phase, this.o.clock.now(), allRunning);
  }

  /** The lease id of the current session, if registered. */
  get leaseId(): string | undefined {
    const session = sessionOf(this.state);
    return session && !session.isLost ? session.leaseId : undefined;
  }

  /**
   * Registers and starts serving. Resolves once registered; rejects with
   * `WorkerNumExceedMaximumError` (unless `onCapacityFull: 'wait'`: then it waits as a standby until a
   * slot frees) or `WorkerNameTakenError` without retrying (both need an operator), and retries store
   * outages (with backoff) until registered or stopped. After a lease loss it re-registers by itself.
   */
  start(): Promise<void> {
    this.startPromise ??= this.startOnce();
    return this.startPromise;
  }

  private async startOnce(): Promise<void> {
    if (!canTransition(this.state, 'registering')) {
      throw new EschedulerError(`worker ${this.name} stopped before it registered`);
    }
    this.to({ kind: 'registering' });
    let registered: Registered;
    try {
      registered = await connect(this.deps, true);
    } catch (err) {
      const refused = err instanceof WorkerNumExceedMaximumError || err instanceof WorkerNameTakenError;
      if (refused && this.state.kind === 'registering') this.to({ kind: 'refused', error: err });
      throw err;
    }
    this.serve(registered);
    this.mainPromise = this.main(registered.session, registered.returned).catch((err: unknown) => {
      if (this.stopController.signal.aborted) return;
      this.tracker.failure = err;
      this.log.error({ err }, 'worker loop failed: this worker does nothing more (restart the process)');
      this.emit('error', { error: err, context: 'worker' });
    });
  }

  /** Registered: serve with this session until it is lost (or its worker key deleted). */
  private serve(registered: Registered): void {
    const { session } = registered;
    this.to({ kind: 'serving', session });
    this.runs?.publishHealth(session);
    session.on('keepAliveFailed', ({ error }) => {
      this.o.metrics.keepAliveFailures.inc({ name: this.name });
      this.log.warn({ err: error }, 'keep-alive failed');
    });
    session.on('lost', ({ reason }) => this.fence(session, reason));
    watchRegistration(this.deps, registered, (reason) => this.fence(session, reason));
    if (session.isLost) this.fence(session, 'session lost while registering');
  }

  /** The lease is (or must be assumed) gone: stop every run before the server can expire it (self-fencing). */
  private fence(session: Session, reason: string): void {
    if (this.state.kind !== 'serving' || this.state.session !== session) return;
    this.to({ kind: 'fenced', session, reason });
    this.o.metrics.selfFences.inc({ name: this.name });
    this.log.error(
      { reason, running: this.runs?.size ?? 0 },
      'lease lost: stopping every task (self-fencing)',
    );
    this.emit('fenced', { reason });
    this.barrier.abandon();
    this.runs?.stopAll('self-fenced', { releaseClaim: false });
  }

  /**
   * The assignment watch, the start-up barrier (not for a worker back from a restart: it was past it), and
   * re-registration after each loss, until stopped.
   */
  private async main(session: Session, returned: boolean): Promise<void> {
    const stop = this.stopController.signal;
    const watching = this.view.run(stop);
    const barrier = returned
      ? Promise.resolve(this.barrier.pass())
      : this.barrier.participate(session, stop).catch((err: unknown) => {
          if (stop.aborted) return;
          this.log.warn({ err }, 'start-up barrier failed; serving anyway');
          this.emit('error', { error: err, context: 'barrier' });
        });
    for (;;) {
      while (this.state.kind === 'serving' && !stop.aborted) await this.transitions.wait(stop);
      const fenced = this.state;
      if (stop.aborted || fenced.kind !== 'fenced') break;
      await settleFenced(this.runs?.settled() ?? Promise.resolve(), fenced.session, stop, this.o.clock);
      if (stop.aborted) break;
      this.to({ kind: 're-registering', previous: fenced.session });
      try {
        const registered = await connect(this.deps, false, fenced.session);
        this.serve(registered);
        if (await this.view.dropRevokedWhileAway(registered.session, stop)) this.runs?.reconcile();
      } catch (err) {
        if (!stop.aborted) this.log.error({ err }, 're-registration failed');
        break;
      }
    }
    await Promise.all([watching, barrier]);
  }

  /**
   * Leaves the start-up barrier (all participants leave together), waiting at most `timeoutMs`. True when
   * this worker is past the barrier.
   */
  tryLeaveBarrier(timeoutMs: number): Promise<boolean> {
    const status = this.status;
    if (status !== WorkerStatus.InBarrier) return Promise.resolve(status === WorkerStatus.LeftBarrier);
    return this.barrier.tryLeave(timeoutMs, this.stopController.signal);
  }

  /**
   * The original's `WatchTask`: created/deleted events of this worker's assignments, starting with a
   * `created` for each task assigned now. Ends when the worker stops or the signal aborts.
   */
  watchTasks(options: { signal?: AbortSignal } = {}): AsyncIterable<TaskChange> {
    return this.manual.watch(this.view.assigned.values(), options.signal);
  }

  /** The task ids assigned to this worker in the store now (the original's `Tasks`). */
  tasks(): Promise<Set<string>> {
    return this.view.read();
  }

  /** Tasks assigned to this worker as last seen by its watch. */
  get assignedTasks(): ReadonlyMap<string, Task> {
    return this.view.assigned;
  }

  /** Without a run handler: the application reports that it runs `task` (the original's `Add`). */
  add(task: Task): void {
    this.manual.add(task);
  }

  /** Without a run handler: the application reports that it stopped task `id` (the original's `Del`). */
  del(id: string): void {
    this.manual.del(id);
  }

  /** True when every task assigned to this worker runs (its run started and has not settled). */
  isAllRunning(): boolean {
    const assigned = this.view.assigned;
    return this.runs ? this.runs.isAllRunning(assigned) : this.manual.isAllRunning(assigned);
  }

  /** Its runs' health (states, failing tasks, last errors), as published at `/<root>/health/<name>`. */
  health(): WorkerHealth {
    return this.runs?.health() ?? emptyHealth(this.name, this.o.clock);
  }

  /** Ids of tasks whose run is going on now. */
  runningTasks(): string[] {
    return this.runs ? this.runs.running() : this.manual.ids();
  }

  /**
   * Drains and stops: deletes the worker key (so the master rebalances at once), aborts every run and waits
   * for them (at most `drainTimeout`), releases claims, revokes the lease. Safe to call twice (the first
   * call's options hold).
   *
   * `restart: true` with `restartGrace` set: the same, but the worker key is swapped for a restart marker
   * (`/<root>/restarting/<name>`, on a lease of the grace) so the master holds this worker's assignment where
   * it is — not running — until a worker of this name registers again (it gets the same tasks, nothing
   * moves) or the grace runs out (they move as for a leave). Without `restartGrace` it is a plain drain.
   */
  stop(options: { restart?: boolean } = {}): Promise<void> {
    this.stopPromise ??= this.shutdown(options.restart === true);
    return this.stopPromise;
  }

  private async shutdown(restart: boolean): Promise<void> {
    const session = sessionOf(this.state);
    // Only a registered worker has an assignment to hold; a fenced one's key is gone already.
    const holding = restart && this.state.kind === 'serving' && this.o.restartGrace > 0;
    this.to({ kind: 'draining', session, status: this.status });
    this.runs?.stopPublishing();
    this.stopController.abort(new Error('worker stopped'));
    const { timedOut } = await drain({
      ...this.deps,
      session,
      runs: this.runs,
      running: () => this.runningTasks(),
      ...(holding ? { restartGraceMs: this.o.restartGrace } : {}),
    });
    await this.startPromise?.catch(() => undefined);
    await this.mainPromise?.catch(() => undefined);
    // Revoking the lease deletes the claims at once: only when every run settled, or a new owner could
    // start beside a run that ignores its signal.
    await session
      ?.close({ revoke: !timedOut })
      .catch((err: unknown) => this.log.warn({ err }, 'revoking the lease failed'));
    this.manual.close();
    this.to({ kind: 'stopped', session });
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  /** The one way the state changes: through the transition table. */
  private to(next: WorkerState): void {
    const was = this.state.kind;
    this.state = transition(this.state, next);
    if ((was === 'standby') !== (next.kind === 'standby')) {
      this.o.metrics.workerStandby.set({ name: this.name }, next.kind === 'standby' ? 1 : 0);
    }
    this.showStatus();
    this.transitions.fire();
  }

  private showStatus(): void {
    const status = this.status;
    if (status === this.shownStatus) return;
    this.shownStatus = status;
    for (const s of Object.values(WorkerStatus)) {
      this.o.metrics.workerStatus.set({ name: this.name, status: s }, s === status ? 1 : 0);
    }
    this.emit('status', { status });
  }
}
