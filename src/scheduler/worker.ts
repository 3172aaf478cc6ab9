import {
  BarrierTimeoutError,
  EschedulerError,
  OptionError,
  WorkerNameTakenError,
  WorkerNumExceedMaximumError,
} from '../errors.js';
import { DoubleBarrier } from '../recipes/barrier.js';
import { Session } from '../recipes/session.js';
import { PrefixWatcher, waitForDelete } from '../recipes/watcher.js';
import type { KeyValue, Store } from '../store/port.js';
import { decodeTask, encodeTask, type Task } from '../task.js';
import { type Clock, sleep } from '../util/clock.js';
import { TypedEmitter } from '../util/emitter.js';
import { childLogger, type Logger } from '../util/logger.js';
import { AsyncQueue } from '../util/queue.js';
import { type Keys, keys } from './keys.js';
import {
  DEFAULT_DRAIN_TIMEOUT,
  msOption,
  type NodeOptions,
  numberOption,
  parseNodeOptions,
  type ResolvedNodeOptions,
} from './options.js';
import { registerWorker } from './registration.js';
import { ClaimBatcher, type RestartPolicy, type RunHandler, TaskRunner } from './runner.js';

export type { RestartPolicy, RunContext, RunHandler } from './runner.js';

/** The original's worker status values. */
export const WorkerStatus = {
  New: 'new',
  Registered: 'registered',
  InBarrier: 'in_barrier',
  LeftBarrier: 'left_barrier',
  Dead: 'dead',
} as const;
export type WorkerStatus = (typeof WorkerStatus)[keyof typeof WorkerStatus];

export interface WorkerOptions extends NodeOptions {
  /** Started for each assigned task, highest priority first. Without it, use `watchTasks()` and `add()`/`del()`. */
  run?: RunHandler;
  /**
   * `'claim'`: a task's run starts only after this worker created `/<root>/claim/<id>`, and the claim is
   * released only after the run settled: a task never runs on two workers. `'none'`: the original's
   * behaviour exactly (for fleets mixed with the Go original). @default 'claim'
   */
  handoff?: 'claim' | 'none';
  /** Restart backoff of runs that throw or return while still assigned. */
  restart?: RestartPolicy;
  /** On `stop()`, wait at most this long for runs to settle. @default 10_000 (ms) */
  drainTimeout?: number;
  /**
   * Self-fencing margin: runs stop when no keep-alive succeeded for `ttl*1000 - selfFenceMargin` ms,
   * before the server can expire the lease. @default min(1_000, ttl*1000/4) (ms)
   */
  selfFenceMargin?: number;
}

/** The original's task change event. */
export type TaskChange = { action: 'created'; task: Task } | { action: 'deleted'; id: string };

export interface WorkerEvents {
  status: { status: WorkerStatus };
  assigned: { task: Task };
  revoked: { id: string };
  started: { id: string; attempt: number };
  stopped: { id: string; error?: unknown };
  fenced: { reason: string };
  error: { error: unknown; context: string };
}

/**
 * A worker: registers `/<root>/worker/<name>` with its lease, watches `/<root>/task/<name>/` and runs
 * what it is given. See {@link WorkerOptions} for the run handler and handoff.
 */
export class Worker extends TypedEmitter<WorkerEvents> {
  readonly name: string;
  private readonly o: ResolvedNodeOptions;
  private readonly k: Keys;
  private readonly store: Store;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly runHandler?: RunHandler;
  readonly handoff: 'claim' | 'none';
  private readonly restart: Required<RestartPolicy>;
  private readonly drainTimeout: number;
  private readonly margin?: number;

  private state: WorkerStatus = WorkerStatus.New;
  private session?: Session;
  private readonly stopController = new AbortController();
  private stopping = false;
  private mainPromise?: Promise<void>;
  private startPromise?: Promise<void>;
  private readonly assigned = new Map<string, Task>();
  private readonly runners = new Map<string, TaskRunner>();
  private readonly manualRunning = new Set<string>();
  private readonly subscribers = new Set<AsyncQueue<TaskChange>>();
  private readonly claims: ClaimBatcher;
  private barrier?: DoubleBarrier;
  private fenced = true;
  /** The assignment watch failed and is being restarted: start no run meanwhile. */
  private watchDown = false;
  private leaving?: Promise<boolean>;
  private stopPromise?: Promise<void>;
  private pastBarrier = false;

  constructor(options: WorkerOptions) {
    const log = options?.logger;
    super((event, err) => log?.error({ err, event }, 'worker event listener threw'));
    this.o = parseNodeOptions(options);
    if (options.run !== undefined && typeof options.run !== 'function') {
      throw new OptionError('Expected `run` to be a function `async (task, { signal }) => void`');
    }
    const handoff = options.handoff ?? 'claim';
    if (handoff !== 'claim' && handoff !== 'none') {
      throw new OptionError(`Expected \`handoff\` to be 'claim' or 'none', got \`${String(handoff)}\``);
    }
    this.handoff = handoff;
    this.runHandler = options.run;
    const r = options.restart ?? {};
    this.restart = {
      initialDelay: msOption('restart.initialDelay', r.initialDelay ?? 1_000, 0),
      maxDelay: msOption('restart.maxDelay', r.maxDelay ?? 30_000, 0),
      factor: numberOption('restart.factor', r.factor ?? 2, 1),
    };
    this.drainTimeout = msOption('drainTimeout', options.drainTimeout ?? DEFAULT_DRAIN_TIMEOUT, 0);
    if (options.selfFenceMargin !== undefined) {
      this.margin = msOption('selfFenceMargin', options.selfFenceMargin, 0);
      if (this.margin >= this.o.ttl * 1000) {
        throw new OptionError(
          `Expected \`selfFenceMargin\` below ttl (${this.o.ttl * 1000} ms), got ${this.margin}`,
        );
      }
    }
    this.name = this.o.name;
    this.k = keys(this.o.rootName);
    this.store = this.o.store;
    this.clock = this.o.clock;
    this.log = childLogger(this.o.logger, { component: 'worker', name: this.name });
    this.claims = new ClaimBatcher(this.store, this.name, this.log);
    this.setStatus(WorkerStatus.New);
  }

  /**
   * Clock time (ms) before which the server cannot have expired this worker's lease: the last successful
   * keep-alive's send time + ttl. Self-fencing stops every run before it.
   */
  get leaseSafeUntil(): number | undefined {
    return this.session ? this.session.lastKeepAliveAt + this.session.ttl * 1000 : undefined;
  }

  /** The original's status: `new → registered → in_barrier → left_barrier → dead`. */
  get status(): WorkerStatus {
    return this.state;
  }

  /** Sets the status (the original exposes it to the application). */
  setStatus(status: WorkerStatus): void {
    this.state = status;
    if (status === WorkerStatus.LeftBarrier) this.pastBarrier = true;
    for (const s of Object.values(WorkerStatus)) {
      this.o.metrics.workerStatus.set({ name: this.name, status: s }, s === status ? 1 : 0);
    }
    this.emit('status', { status });
  }

  /** The lease id of the current session, if registered. */
  get leaseId(): string | undefined {
    return this.session && !this.session.isLost ? this.session.leaseId : undefined;
  }

  /**
   * Registers and starts serving. Resolves once registered; rejects with
   * `WorkerNumExceedMaximumError` or `WorkerNameTakenError` without retrying (both need an operator),
   * and retries store outages (with backoff) until registered or stopped. After a lease loss it
   * re-registers by itself.
   */
  start(): Promise<void> {
    this.startPromise ??= this.startOnce();
    return this.startPromise;
  }

  private async startOnce(): Promise<void> {
    await this.connect(true);
    this.mainPromise = this.main();
  }

  /** Creates a session and registers, retrying transient failures; fatal registration errors are thrown. */
  private async connect(first: boolean): Promise<void> {
    let backoff = 200;
    const previous = this.session;
    for (;;) {
      if (this.stopping) throw new EschedulerError(`worker ${this.name} stopped before it registered`);
      let session: Session | undefined;
      try {
        if (previous) {
          await this.store
            .revokeLease(previous.leaseId)
            .catch((err: unknown) =>
              this.log.warn(
                { err, lease: previous.leaseId },
                'revoking the lost lease failed; it expires by itself',
              ),
            );
        }
        session = await Session.create({
          store: this.store,
          ttl: this.o.ttl,
          clock: this.clock,
          ...(this.margin !== undefined ? { margin: this.margin } : {}),
        });
        const registered = await registerWorker({
          session,
          keys: this.k,
          name: this.name,
          maxNumNodes: this.o.maxNumNodes,
          signal: this.stopController.signal,
          log: this.log,
        });
        if (this.stopping) {
          // stop() ran while we registered: it cannot see this session, so undo the registration here.
          await session.close();
          throw new EschedulerError(`worker ${this.name} stopped while it registered`);
        }
        this.session = session;
        session.on('keepAliveFailed', ({ error }) => {
          this.o.metrics.keepAliveFailures.inc({ name: this.name });
          this.log.warn({ err: error }, 'keep-alive failed');
        });
        session.on('lost', ({ reason }) => this.selfFence(reason));
        this.watchRegistration(session, registered);
        this.fenced = false;
        if (first) this.setStatus(WorkerStatus.Registered);
        else if (this.state === WorkerStatus.Dead) {
          // Back after a loss: the start-up barrier, if it was passed, stays passed.
          this.setStatus(this.pastBarrier ? WorkerStatus.LeftBarrier : WorkerStatus.Registered);
        }
        this.log.info({ lease: session.leaseId }, 'worker registered');
        return;
      } catch (err) {
        await session
          ?.close()
          .catch((e: unknown) =>
            this.log.warn({ err: e }, 'closing the session of a failed registration failed'),
          );
        if (this.stopping)
          throw new EschedulerError(`worker ${this.name} stopped before it registered`, { cause: err });
        if (err instanceof WorkerNumExceedMaximumError || err instanceof WorkerNameTakenError) {
          if (first) throw err;
          this.log.error({ err }, 're-registration refused; retrying');
        } else {
          this.log.warn({ err }, 'registration failed; retrying');
        }
        this.emit('error', { error: err, context: 'register' });
        await sleep(this.clock, backoff, this.stopController.signal).catch(() => undefined);
        backoff = Math.min(backoff * 2, 5_000);
      }
    }
  }

  private async main(): Promise<void> {
    const signal = this.stopController.signal;
    const watching = this.watchAssignments(signal);
    try {
      await this.startupBarrier(signal);
    } catch (err) {
      if (!signal.aborted) {
        this.log.warn({ err }, 'start-up barrier failed; serving anyway');
        this.emit('error', { error: err, context: 'barrier' });
      }
    }
    // Re-register after each loss until stopped.
    while (!signal.aborted) {
      const session = this.session;
      if (!session) break;
      await new Promise<void>((resolve) => {
        if (session.signal.aborted || signal.aborted) return resolve();
        // Both listeners go when either fires: the stop signal lives as long as the worker.
        const done = () => {
          session.signal.removeEventListener('abort', done);
          signal.removeEventListener('abort', done);
          resolve();
        };
        session.signal.addEventListener('abort', done, { once: true });
        signal.addEventListener('abort', done, { once: true });
      });
      if (signal.aborted) break;
      this.setStatus(WorkerStatus.Dead);
      // connect() revokes the old lease, which deletes the claims of runs the self-fence stopped: let them
      // settle first (at most until the old lease may expire anyway), or a new owner starts beside them.
      const expiry = session.lastKeepAliveAt + session.ttl * 1000 - this.clock.now();
      await Promise.race([
        Promise.allSettled([...this.runners.values()].map((r) => r.done)),
        sleep(this.clock, Math.max(0, expiry), signal).catch(() => undefined),
      ]);
      if (signal.aborted) break;
      try {
        await this.connect(false);
        if (this.session && (await this.dropRevokedWhileAway(this.session))) this.reconcile();
      } catch (err) {
        if (!signal.aborted) this.log.error({ err }, 're-registration failed');
      }
    }
    await watching;
  }

  /**
   * After a loss, this worker's view of its assignments is as old as its broken watch: tasks revoked
   * meanwhile are still in it until the watch catches up. Drops them (true), so that re-registering does not
   * start a task that is no longer this worker's.
   */
  private async dropRevokedWhileAway(session: Session): Promise<boolean> {
    let backoff = 200;
    while (!session.signal.aborted && !this.stopping) {
      try {
        const now = await this.tasks();
        for (const id of [...this.assigned.keys()]) if (!now.has(id)) this.onDelete(id);
        return true;
      } catch (err) {
        // Nothing may come through the watch to reconcile later: keep trying while this session lives.
        this.log.warn({ err }, 'reading the assignment after re-registration failed; retrying');
        await sleep(this.clock, backoff, session.signal).catch(() => undefined);
        backoff = Math.min(backoff * 2, 2_000);
      }
    }
    return false;
  }

  private async startupBarrier(signal: AbortSignal): Promise<void> {
    if (await this.store.get(this.k.barrierLeft)) {
      this.setStatus(WorkerStatus.LeftBarrier);
      return;
    }
    const session = this.session!;
    this.setStatus(WorkerStatus.InBarrier);
    const barrier = new DoubleBarrier(session, this.k.barrier, this.o.maxNumNodes);
    // The master may give up waiting (barrier timeout) and set worker_barrier_left: stop waiting then too.
    const passed = new AbortController();
    const watchLeft = (async () => {
      const w = new PrefixWatcher(this.store, this.k.barrierLeft, {
        clock: this.clock,
        signal: AbortSignal.any([signal, passed.signal]),
      });
      for await (const u of w) {
        const present = u.type === 'events' ? u.events.some((e) => e.type === 'put') : u.kvs.length > 0;
        if (present) {
          passed.abort(new Error('start-up barrier passed (worker_barrier_left set)'));
          return;
        }
      }
    })().catch((err: unknown) => {
      if (!signal.aborted)
        this.log.warn({ err }, 'watching worker_barrier_left failed; waiting for the barrier alone');
    });
    try {
      await barrier.enter({
        signal: AbortSignal.any([signal, passed.signal]),
        timeoutMs: this.o.barrierTimeout,
      });
      this.barrier = barrier;
    } catch (err) {
      if (signal.aborted) throw err;
      if (!(err instanceof BarrierTimeoutError) && !passed.signal.aborted) throw err;
      this.log.warn({ err: (err as Error).message }, 'left the start-up barrier without the full fleet');
      this.setStatus(WorkerStatus.LeftBarrier);
    } finally {
      passed.abort();
      await watchLeft;
    }
    if (this.barrier && this.runHandler) this.autoLeave(signal);
  }

  /** With a run handler: leave the barrier once every assigned task runs (after the first schedule). */
  private autoLeave(signal: AbortSignal): void {
    void (async () => {
      while (!signal.aborted && this.state === WorkerStatus.InBarrier) {
        try {
          const scheduled =
            this.assigned.size > 0 || (await this.store.get(this.k.masterStatus)) !== undefined;
          if (scheduled && this.isAllRunning()) {
            if (await this.tryLeaveBarrier(this.o.barrierTimeout)) return;
            // The leave timed out or failed: its own key is gone (or goes with the lease); do not hold
            // the application's readiness hostage to a participant that never left.
            this.log.warn({}, 'start-up barrier: not everyone left in time; leaving alone');
            this.setStatus(WorkerStatus.LeftBarrier);
            return;
          }
        } catch (err) {
          if (signal.aborted) return;
          this.log.warn({ err }, 'checking whether to leave the start-up barrier failed; retrying');
        }
        await sleep(this.clock, 200, signal).catch(() => undefined);
      }
    })();
  }

  /**
   * Leaves the start-up barrier (all participants leave together), waiting at most `timeoutMs`. True when
   * this worker is past the barrier.
   */
  async tryLeaveBarrier(timeoutMs: number): Promise<boolean> {
    if (this.state === WorkerStatus.LeftBarrier) return true;
    const barrier = this.barrier;
    if (!barrier || this.state !== WorkerStatus.InBarrier) return false;
    if (!this.leaving) {
      this.leaving = barrier
        .leave({ signal: this.stopController.signal, timeoutMs })
        .then(() => {
          this.setStatus(WorkerStatus.LeftBarrier);
          return true;
        })
        .catch((err: unknown) => {
          this.log.warn({ err }, 'barrier leave failed');
          return false;
        })
        .finally(() => {
          this.leaving = undefined;
        });
    }
    return this.leaving;
  }

  /**
   * Keeps `assigned` equal to `/<root>/task/<name>/` and reconciles the runs. The watcher itself resumes
   * after outages; if it fails for good (e.g. permission denied), the runs stop — their revocations could
   * no longer be seen — and the watch starts anew with backoff.
   */
  private async watchAssignments(signal: AbortSignal): Promise<void> {
    const prefix = this.k.workerTasks(this.name);
    let backoff = 1_000;
    while (!signal.aborted) {
      const watcher = new PrefixWatcher(this.store, prefix, { clock: this.clock, signal });
      try {
        for await (const u of watcher) {
          this.watchDown = false;
          backoff = 1_000;
          if (u.type === 'events') {
            for (const e of u.events) {
              const id = e.kv.key.slice(prefix.length);
              if (e.type === 'put') this.onPut(id, e.kv);
              else this.onDelete(id);
            }
          } else {
            const ids = new Set<string>();
            for (const kv of u.kvs) {
              const id = kv.key.slice(prefix.length);
              ids.add(id);
              this.onPut(id, kv);
            }
            for (const id of [...this.assigned.keys()]) if (!ids.has(id)) this.onDelete(id);
          }
          this.o.metrics.workerTasksAssigned.set({ name: this.name }, this.assigned.size);
          this.reconcile();
        }
      } catch (err) {
        if (signal.aborted) return;
        this.watchDown = true;
        this.log.error(
          { err, retryIn: backoff },
          'assignment watch failed: stopping every run until it is back',
        );
        this.emit('error', { error: err, context: 'watch tasks' });
        for (const r of this.runners.values()) r.stop('assignment watch failed');
        await sleep(this.clock, backoff, signal).catch(() => undefined);
        backoff = Math.min(backoff * 2, 30_000);
      }
    }
  }

  private onPut(id: string, kv: KeyValue): void {
    let task: Task;
    try {
      task = decodeTask(kv.value, id);
    } catch (err) {
      this.log.error({ err: (err as Error).message, key: kv.key }, 'unreadable task value ignored');
      this.emit('error', { error: err, context: `task ${id}` });
      return;
    }
    if (task.id !== id) task = { ...task, id };
    const old = this.assigned.get(id);
    if (old && encodeTask(old) === encodeTask(task)) return;
    this.assigned.set(id, task);
    // Compare with what the runner runs, not with `old`: a delete and a put of the same key in one batch
    // leave no `old` while the runner still runs the previous value.
    const runner = this.runners.get(id);
    if (runner && encodeTask(runner.task) !== encodeTask(task)) runner.replace(task);
    this.emit('assigned', { task });
    this.publish({ action: 'created', task });
  }

  private onDelete(id: string): void {
    if (!this.assigned.delete(id)) return;
    this.emit('revoked', { id });
    this.publish({ action: 'deleted', id });
  }

  /** Starts runs for assigned tasks (highest priority first) and stops runs of revoked ones. */
  private reconcile(): void {
    if (!this.runHandler) return;
    for (const [id, runner] of this.runners) {
      if (!this.assigned.has(id)) runner.stop('revoked');
    }
    if (this.fenced || this.watchDown || this.stopping || !this.session || this.session.isLost) return;
    const todo = [...this.assigned.values()]
      .filter((t) => !this.runners.has(t.id))
      .sort((a, b) => (b.priority ?? 0) - (a.priority ?? 0) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    for (const task of todo) {
      const runner = new TaskRunner({
        task,
        worker: this.name,
        store: this.store,
        clock: this.clock,
        session: this.session,
        claimKey: this.handoff === 'claim' ? this.k.claim(task.id) : undefined,
        claims: this.claims,
        run: this.runHandler,
        restart: this.restart,
        log: this.log,
        metrics: this.o.metrics,
        emit: (event, payload) => this.emitRunner(event, payload),
      });
      this.runners.set(task.id, runner);
      void runner.done.then(() => {
        if (this.runners.get(task.id) === runner) this.runners.delete(task.id);
        this.updateRunning();
        // Assigned again meanwhile (or still assigned after a self-fence): start anew.
        if (this.assigned.has(task.id)) this.reconcile();
      });
    }
    this.updateRunning();
  }

  private emitRunner(
    event: 'started' | 'stopped',
    payload: { id: string; attempt?: number; error?: unknown },
  ): void {
    this.updateRunning();
    if (event === 'started') this.emit('started', { id: payload.id, attempt: payload.attempt ?? 1 });
    else this.emit('stopped', { id: payload.id, error: payload.error });
  }

  private updateRunning(): void {
    let n = 0;
    for (const r of this.runners.values()) if (r.running) n++;
    this.o.metrics.workerTasksRunning.set({ name: this.name }, this.runHandler ? n : this.manualRunning.size);
  }

  /**
   * The lease can go while keep-alives still look fine to us (revoked by an operator or a tool): its claims
   * vanish at once and another worker may take our tasks after `rebalanceWait`, long before our next
   * keep-alive finds out. The deletion of our worker key says so at once: fence, let the runs settle, then
   * drop the session so `main()` registers again (also when the key alone was deleted by hand).
   */
  private watchRegistration(session: Session, revision: number): void {
    const key = this.k.worker(this.name);
    const signal = AbortSignal.any([session.signal, this.stopController.signal]);
    waitForDelete(this.store, key, revision + 1, signal, { clock: this.clock }).then(
      async () => {
        if (signal.aborted) return;
        this.selfFence(`worker key ${key} deleted (lease revoked or key removed)`);
        await Promise.allSettled([...this.runners.values()].map((r) => r.done));
        await session.close();
      },
      (err: unknown) => {
        if (!signal.aborted) this.log.warn({ err }, 'watching the worker key failed');
      },
    );
  }

  /** Lease renewal failed for `ttl - margin`: stop every run before the server can expire the lease. */
  private selfFence(reason: string): void {
    if (this.stopping) return;
    this.fenced = true;
    this.o.metrics.selfFences.inc({ name: this.name });
    this.log.error({ reason, running: this.runners.size }, 'lease lost: stopping every task (self-fencing)');
    this.emit('fenced', { reason });
    for (const runner of this.runners.values()) runner.stop('self-fenced', { releaseClaim: false });
  }

  private publish(change: TaskChange): void {
    for (const s of this.subscribers) s.push(change);
  }

  /**
   * The original's `WatchTask`: created/deleted events of this worker's assignments, starting with a
   * `created` for each task assigned now. Ends when the worker stops or the signal aborts.
   */
  watchTasks(options: { signal?: AbortSignal } = {}): AsyncIterable<TaskChange> {
    const { signal } = options;
    const onAbort = () => queue.end();
    const initial = [...this.assigned.values()].map((task): TaskChange => ({ action: 'created', task }));
    const queue: AsyncQueue<TaskChange> = new AsyncQueue(initial, () => {
      this.subscribers.delete(queue);
      signal?.removeEventListener('abort', onAbort);
    });
    if (this.stopping) queue.end();
    this.subscribers.add(queue);
    signal?.addEventListener('abort', onAbort, { once: true });
    return queue;
  }

  /** The task ids assigned to this worker in the store now (the original's `Tasks`). */
  async tasks(): Promise<Set<string>> {
    const prefix = this.k.workerTasks(this.name);
    const res = await this.store.range(prefix, { prefix: true, keysOnly: true });
    return new Set(res.kvs.map((kv) => kv.key.slice(prefix.length)));
  }

  /** Tasks assigned to this worker as last seen by its watch. */
  get assignedTasks(): ReadonlyMap<string, Task> {
    return this.assigned;
  }

  /** Without a run handler: the application reports that it runs `task` (the original's `Add`). */
  add(task: Task): void {
    this.manualRunning.add(task.id);
    this.updateRunning();
  }

  /** Without a run handler: the application reports that it stopped task `id` (the original's `Del`). */
  del(id: string): void {
    this.manualRunning.delete(id);
    this.updateRunning();
  }

  /** True when every task assigned to this worker runs (its run started and has not settled). */
  isAllRunning(): boolean {
    for (const id of this.assigned.keys()) {
      if (this.runHandler) {
        if (!this.runners.get(id)?.running) return false;
      } else if (!this.manualRunning.has(id)) return false;
    }
    return true;
  }

  /** Ids of tasks whose run is going on now. */
  runningTasks(): string[] {
    if (!this.runHandler) return [...this.manualRunning];
    return [...this.runners.values()].filter((r) => r.running).map((r) => r.task.id);
  }

  /**
   * Drains and stops: deletes the worker key (so the master rebalances at once), aborts every run and waits
   * for them (at most `drainTimeout`), releases claims, revokes the lease. Safe to call twice.
   */
  stop(): Promise<void> {
    this.stopPromise ??= this.drain();
    return this.stopPromise;
  }

  private async drain(): Promise<void> {
    this.stopping = true;
    this.stopController.abort(new Error('worker stopped'));
    const session = this.session;
    const workerKeyGone =
      session && !session.isLost
        ? this.store
            .txn({
              compare: [{ key: this.k.worker(this.name), target: 'lease', op: '=', value: session.leaseId }],
              success: [{ type: 'delete', key: this.k.worker(this.name) }],
            })
            .catch((err: unknown) => this.log.warn({ err }, 'deleting the worker key failed'))
        : Promise.resolve();
    for (const r of this.runners.values()) r.stop('worker stopping');
    const settled = Promise.allSettled([...this.runners.values()].map((r) => r.done));
    // The drain timer is cancelled once the runs settled: a pending timer would keep the process alive.
    const drainTimer = new AbortController();
    const timedOut = await Promise.race([
      settled.then(() => false),
      sleep(this.clock, this.drainTimeout, drainTimer.signal).then(
        () => true,
        () => false,
      ),
    ]);
    drainTimer.abort();
    if (timedOut) {
      this.log.error(
        { running: this.runningTasks(), drainTimeout: this.drainTimeout },
        'runs did not settle within drainTimeout: the lease is left to expire, so their claims hold off new owners until then',
      );
    }
    await workerKeyGone;
    await this.startPromise?.catch(() => undefined);
    await this.mainPromise?.catch(() => undefined);
    // Revoking the lease deletes the claims at once: only when every run settled, or a new owner could
    // start beside a run that ignores its signal.
    await this.session
      ?.close({ revoke: !timedOut })
      .catch((err: unknown) => this.log.warn({ err }, 'revoking the lease failed'));
    for (const s of this.subscribers) s.end();
    this.setStatus(WorkerStatus.Dead);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}
