import { BarrierTimeoutError, InvalidTaskError, NotLeaderError, OptionError } from '../errors.js';
import { rebalance } from '../planner/rebalance.js';
import { DoubleBarrier } from '../recipes/barrier.js';
import { Election } from '../recipes/election.js';
import { Session } from '../recipes/session.js';
import { PrefixWatcher } from '../recipes/watcher.js';
import { type Compare, MAX_REQUEST_BYTES, MAX_TXN_OPS, type Op, type Store } from '../store/port.js';
import { encodeTask, type Task, validateTask } from '../task.js';
import { type Clock, sleep } from '../util/clock.js';
import { TypedEmitter } from '../util/emitter.js';
import { childLogger, type Logger } from '../util/logger.js';
import { type Keys, keys } from './keys.js';
import {
  DEFAULT_INTERVAL,
  DEFAULT_REBALANCE_WAIT,
  DEFAULT_TIMEOUT,
  type Generator,
  msOption,
  type NodeOptions,
  parseNodeOptions,
  type ResolvedNodeOptions,
} from './options.js';

export interface MasterOptions extends NodeOptions {
  /** Returns the desired tasks; called by the leader on every schedule. */
  generator: Generator;
  /** Schedule at least this often while leading. @default 60_000 (ms) */
  interval?: number;
  /** The generator is given this long per schedule (then its signal aborts and the schedule is skipped). @default 30_000 (ms) */
  timeout?: number;
  /** After a worker joins or leaves, wait this long so a burst of changes costs one schedule. @default 2_000 (ms) */
  rebalanceWait?: number;
}

/** What one schedule did; also written as JSON to `/<root>/status/master`. */
export interface ScheduleReport {
  leader: string;
  /** RFC 3339 time the schedule started. */
  time: string;
  reason: string;
  result: 'ok' | 'no_workers' | 'generator_error' | 'error';
  workers: number;
  /** Valid desired tasks. */
  tasks: number;
  /** Assignment keys written (new tasks, moves). */
  assigned: number;
  /** Assignment keys deleted (moves, stale tasks, dead workers' tasks). */
  revoked: number;
  /** Tasks that left a live worker for another. */
  moves: number;
  /** Txns written. */
  txns: number;
  durationMs: number;
  /** Invalid tasks and other problems, each naming what it is about. */
  errors: string[];
}

export interface MasterEvents {
  elected: { name: string; revision: number };
  deposed: { name: string; reason: string };
  schedule: ScheduleReport;
  error: { error: unknown; context: string };
}

interface Term {
  fence: Compare;
  signal: AbortSignal;
  session: Session;
}

/** Bytes of keys and values per txn: etcd's 1.5 MiB request limit less room for the envelope. */
const MAX_BATCH_BYTES = MAX_REQUEST_BYTES - 64 * 1024;

const utf8Length = (s: string) => Buffer.byteLength(s, 'utf8');
const opBytes = (op: Op) => utf8Length(op.key) + (op.type === 'put' ? utf8Length(op.value) : 0) + 16;

/**
 * The metric label for a schedule reason: a fixed set, so `notifySchedule(reason)` strings chosen by the
 * application cannot grow the label set without bound.
 */
function reasonLabel(reason: string): string {
  const first = reason.split(',')[0].trim();
  if (first.startsWith('first schedule')) return 'first schedule';
  for (const known of ['leader elected', 'workers changed', 'interval', 'retry after error']) {
    if (first === known) return known;
  }
  return 'notified';
}

/** Delay before a schedule that failed on the store is tried again, in ms. */
const ERROR_RETRY_DELAY = 1_000;

const RFC3339 = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

/**
 * The leader-elected scheduler. Every process may run one; the one that wins the election under
 * `/<root>/election` asks the generator for the desired tasks and keeps the assignment under
 * `/<root>/task/` equal to the planner's target, writing only in txns fenced on its election key so a
 * deposed master cannot write.
 */
export class Master extends TypedEmitter<MasterEvents> {
  readonly name: string;
  private readonly o: ResolvedNodeOptions;
  private readonly k: Keys;
  private readonly generator: Generator;
  private readonly interval: number;
  private readonly timeout: number;
  private readonly rebalanceWait: number;
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly store: Store;

  private stopController = new AbortController();
  private loopPromise?: Promise<void>;
  private stopping = false;
  private leading = false;
  private readonly pending = new Set<string>();
  private wake?: () => void;
  private last?: ScheduleReport;
  private session?: Session;

  constructor(options: MasterOptions) {
    const log = options?.logger;
    super((event, err) => log?.error({ err, event }, 'master event listener threw'));
    this.o = parseNodeOptions(options);
    if (typeof options.generator !== 'function') {
      throw new OptionError('Expected `generator` to be a function returning the desired tasks');
    }
    this.generator = options.generator;
    this.interval = msOption('interval', options.interval ?? DEFAULT_INTERVAL, 10);
    this.timeout = msOption('timeout', options.timeout ?? DEFAULT_TIMEOUT, 1);
    this.rebalanceWait = msOption('rebalanceWait', options.rebalanceWait ?? DEFAULT_REBALANCE_WAIT, 0);
    this.name = this.o.name;
    this.k = keys(this.o.rootName);
    this.clock = this.o.clock;
    this.store = this.o.store;
    this.log = childLogger(this.o.logger, { component: 'master', name: this.name });
  }

  /** True while this master leads (and may schedule). */
  get isLeader(): boolean {
    return this.leading;
  }

  /** Lease id of the current campaign session, if any. */
  get leaseId(): string | undefined {
    return this.session?.leaseId;
  }

  /** The last schedule this master ran, if any. */
  get lastSchedule(): ScheduleReport | undefined {
    return this.last;
  }

  /** Starts campaigning; returns at once. Calling it again does nothing. */
  start(): void {
    if (this.loopPromise || this.stopping) return;
    this.loopPromise = this.loop();
  }

  /** Stops scheduling, resigns at once (revokes its lease) and waits for the loop to end. Safe to call twice. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.stopController.abort(new Error('master stopped'));
    this.wake?.();
    await this.loopPromise;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  /**
   * Asks for a schedule. Requests that arrive during a schedule coalesce into one more schedule; none is
   * dropped. While not leading, the request waits for the next term.
   */
  notifySchedule(reason: string): void {
    this.pending.add(reason || 'notified');
    this.wake?.();
  }

  private async loop(): Promise<void> {
    let backoff = 200;
    const stopSignal = this.stopController.signal;
    while (!this.stopping) {
      let session: Session | undefined;
      try {
        session = await Session.create({ store: this.store, ttl: this.o.ttl, clock: this.clock });
        session.on('lost', ({ reason }) => this.log.warn({ reason }, 'master session lost'));
        this.session = session;
        const election = new Election(session, this.k.election);
        const signal = AbortSignal.any([stopSignal, session.signal]);
        await election.campaign(this.name, { signal });
        await this.lead(session, election, signal);
        backoff = 200;
      } catch (err) {
        if (!this.stopping) {
          this.log.warn({ err }, 'master term ended');
          this.emit('error', { error: err, context: 'campaign' });
        }
      } finally {
        if (this.leading) {
          this.leading = false;
          this.o.metrics.isLeader.set({ name: this.name }, 0);
          this.emit('deposed', { name: this.name, reason: this.stopping ? 'stopped' : 'term ended' });
        }
        // Revoking the lease deletes the election key: the next candidate leads at once.
        await session
          ?.close()
          .catch((err: unknown) => this.log.warn({ err }, 'closing master session failed'));
      }
      if (this.stopping) break;
      await sleep(this.clock, backoff, stopSignal).catch(() => undefined);
      backoff = Math.min(backoff * 2, 5_000);
    }
  }

  private async lead(session: Session, election: Election, signal: AbortSignal): Promise<void> {
    const fence = election.fence();
    const term: Term = { fence: fence.compare, signal, session };
    this.leading = true;
    this.o.metrics.isLeader.set({ name: this.name }, 1);
    this.log.info({ revision: fence.createRevision }, 'elected master');
    this.emit('elected', { name: this.name, revision: fence.createRevision });

    const termAbort = new AbortController();
    const termSignal = AbortSignal.any([signal, termAbort.signal]);
    const barrier = await this.startupBarrier(term, termSignal);
    this.pending.add(barrier.reason);

    // The first schedule must not read the workers before the watch's snapshot: a worker registering
    // between that read and the snapshot would otherwise trigger nothing until the next interval.
    let snapshotTaken = () => {};
    const snapshot = new Promise<void>((resolve) => {
      snapshotTaken = resolve;
      termSignal.addEventListener('abort', () => resolve(), { once: true });
    });
    const watching = this.watchWorkers(termSignal, snapshotTaken).finally(() => {
      // A watch that ends by itself (non-retryable error) would leave worker changes unseen: end the term.
      snapshotTaken();
      if (!termSignal.aborted) termAbort.abort(new Error('worker watch ended'));
    });
    await snapshot;
    const ticking = this.tick(termSignal);
    try {
      let first = true;
      while (!termSignal.aborted) {
        if (this.pending.size === 0) await this.waitForRequest(termSignal);
        if (termSignal.aborted) break;
        const reason = [...this.pending].join(', ');
        this.pending.clear();
        const report = await this.schedule(reason, { ...term, signal: termSignal });
        if (report.result === 'error') {
          // A store failure mid-write leaves a partial plan: try again soon rather than at the next trigger.
          void sleep(this.clock, ERROR_RETRY_DELAY, termSignal).then(
            () => this.notifySchedule('retry after error'),
            () => undefined,
          );
        }
        if (first && barrier.leave) {
          first = false;
          void barrier
            .leave()
            .catch((err: unknown) => this.log.warn({ err }, 'leaving the start-up barrier failed'));
        }
      }
    } finally {
      termAbort.abort(new Error('term ended'));
      await Promise.allSettled([watching, ticking]);
    }
  }

  /** On a fresh root: waits at the start-up barrier, then marks it passed (once). */
  private async startupBarrier(
    term: Term,
    signal: AbortSignal,
  ): Promise<{ reason: string; leave?: () => Promise<void> }> {
    if (await this.store.get(this.k.barrierLeft)) return { reason: 'leader elected' };
    const barrier = new DoubleBarrier(term.session, this.k.barrier, this.o.maxNumNodes);
    let reason = 'first schedule';
    let entered = false;
    try {
      await barrier.enter({ signal, timeoutMs: this.o.barrierTimeout });
      entered = true;
    } catch (err) {
      if (!(err instanceof BarrierTimeoutError)) throw err;
      this.log.warn({ err: err.message }, 'start-up barrier timed out: scheduling with the workers present');
      reason = 'first schedule (barrier timeout)';
    }
    const res = await this.store.txn({
      compare: [term.fence, { key: this.k.barrierLeft, target: 'create', op: '=', value: 0 }],
      success: [{ type: 'put', key: this.k.barrierLeft, value: RFC3339(this.clock.now()) }],
    });
    if (!res.succeeded) await this.checkFence(term.fence);
    const leave = entered
      ? () => barrier.leave({ signal: this.stopController.signal, timeoutMs: this.o.barrierTimeout })
      : undefined;
    return { reason, leave };
  }

  /** Throws NotLeaderError when the fence no longer holds. */
  private async checkFence(fence: Compare): Promise<void> {
    const kv = await this.store.get(fence.key);
    if (!kv || kv.createRevision !== fence.value) {
      throw new NotLeaderError(`master ${this.name} no longer leads (election key ${fence.key} changed)`);
    }
  }

  private waitForRequest(signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        signal.removeEventListener('abort', done);
        this.wake = undefined;
        resolve();
      };
      this.wake = done;
      signal.addEventListener('abort', done, { once: true });
    });
  }

  private async tick(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      try {
        await sleep(this.clock, this.interval, signal);
      } catch {
        return; // term ended
      }
      this.notifySchedule('interval');
    }
  }

  /** Worker keys created or deleted ⇒ a schedule after `rebalanceWait`; a burst costs one schedule. */
  private async watchWorkers(signal: AbortSignal, onSnapshot: () => void): Promise<void> {
    let timer: ReturnType<Clock['setTimeout']> | undefined;
    const changed = (why: string) => {
      if (timer) return;
      timer = this.clock.setTimeout(() => {
        timer = undefined;
        if (!signal.aborted) this.notifySchedule(why);
      }, this.rebalanceWait);
    };
    const watcher = new PrefixWatcher(this.store, this.k.workerPrefix, { clock: this.clock, signal });
    try {
      for await (const update of watcher) {
        if (update.type === 'snapshot') onSnapshot();
        if (update.type === 'resync') changed('workers changed');
        if (update.type !== 'events') continue;
        for (const e of update.events) {
          if (e.type === 'delete' || e.kv.version === 1) changed('workers changed');
        }
      }
    } catch (err) {
      if (!signal.aborted) {
        this.log.error({ err }, 'worker watch failed');
        this.emit('error', { error: err, context: 'watch workers' });
      }
    } finally {
      if (timer) this.clock.clearTimeout(timer);
    }
  }

  private async generate(signal: AbortSignal): Promise<readonly Task[]> {
    const timeout = new AbortController();
    const timer = this.clock.setTimeout(
      () => timeout.abort(new Error(`generator timed out after ${this.timeout} ms`)),
      this.timeout,
    );
    const sig = AbortSignal.any([signal, timeout.signal]);
    try {
      const aborted = new Promise<never>((_, reject) => {
        const fail = () => reject(sig.reason instanceof Error ? sig.reason : new Error(String(sig.reason)));
        if (sig.aborted) fail();
        else sig.addEventListener('abort', fail, { once: true });
      });
      const tasks = await Promise.race([
        Promise.resolve().then(() => this.generator({ signal: sig })),
        aborted,
      ]);
      if (!Array.isArray(tasks))
        throw new Error(`generator returned ${typeof tasks}, expected an array of tasks`);
      return tasks;
    } finally {
      this.clock.clearTimeout(timer);
    }
  }

  /** One schedule: read workers, generate, validate, plan, write in fenced txns, report. */
  private async schedule(reason: string, term: Term): Promise<ScheduleReport> {
    const started = this.clock.now();
    const m = this.o.metrics;
    const report: ScheduleReport = {
      leader: this.name,
      time: RFC3339(started),
      reason,
      result: 'ok',
      workers: 0,
      tasks: 0,
      assigned: 0,
      revoked: 0,
      moves: 0,
      txns: 0,
      durationMs: 0,
      errors: [],
    };
    try {
      const workers = await this.onlineWorkers(report.errors);
      report.workers = workers.length;
      m.workersOnline.set({ name: this.name }, workers.length);
      if (workers.length === 0) {
        report.result = 'no_workers';
        this.log.warn({ reason }, 'no worker online: assignment left as it is');
      } else {
        let desired: readonly Task[] | undefined;
        try {
          desired = await this.generate(term.signal);
        } catch (err) {
          if (term.signal.aborted) throw err;
          m.generatorErrors.inc({ name: this.name });
          report.result = 'generator_error';
          report.errors.push(`generator: ${(err as Error)?.message ?? String(err)}`);
          this.log.error({ err, reason }, 'generator failed: assignment left as it is');
        }
        if (desired) await this.apply(desired, workers, report, term);
      }
    } catch (err) {
      if (err instanceof NotLeaderError) {
        m.fenceRejections.inc({ name: this.name });
        m.schedules.inc({ name: this.name, reason: reasonLabel(reason), result: 'not_leader' });
        this.log.warn({ reason }, err.message);
        throw err;
      }
      if (term.signal.aborted) throw err;
      report.result = 'error';
      report.errors.push(String((err as Error)?.message ?? err));
      this.log.error({ err, reason }, 'schedule failed');
    }
    report.durationMs = this.clock.now() - started;
    m.schedules.inc({ name: this.name, reason: reasonLabel(reason), result: report.result });
    m.scheduleDuration.observe({ name: this.name }, report.durationMs / 1000);
    this.last = report;
    await this.writeStatus(report, term.fence).catch((err: unknown) => {
      if (err instanceof NotLeaderError) throw err;
      this.log.warn({ err }, 'writing master status failed');
    });
    this.log.info({ ...report, errors: report.errors.slice(0, 20) }, 'schedule done');
    this.emit('schedule', report);
    return report;
  }

  private async onlineWorkers(errors: string[]): Promise<string[]> {
    const res = await this.store.range(this.k.workerPrefix, { prefix: true, keysOnly: true });
    const names: string[] = [];
    for (const kv of res.kvs) {
      const name = kv.key.slice(this.k.workerPrefix.length);
      if (name.length === 0 || name.includes('/')) {
        errors.push(`ignored malformed worker key ${JSON.stringify(kv.key)}`);
        continue;
      }
      names.push(name);
    }
    return names;
  }

  private async apply(
    desired: readonly Task[],
    workers: string[],
    report: ScheduleReport,
    term: Term,
  ): Promise<void> {
    const m = this.o.metrics;
    const tasks: Task[] = [];
    const seen = new Set<string>();
    for (const t of desired) {
      try {
        validateTask(t);
        if (seen.has(t.id))
          throw new InvalidTaskError(t.id, `task ${JSON.stringify(t.id)}: duplicate id (first kept)`);
        seen.add(t.id);
        tasks.push(t);
      } catch (err) {
        m.invalidTasks.inc({ name: this.name });
        report.errors.push((err as Error).message);
        this.log.warn({ err: (err as Error).message }, 'invalid task skipped');
      }
    }
    report.tasks = tasks.length;

    // Current assignment and the stored values (to rewrite a task whose payload or priority changed).
    const cur = await this.store.range(this.k.taskPrefix, { prefix: true });
    const current = new Map<string, string[]>();
    const stored = new Map<string, string>();
    const malformed: string[] = [];
    for (const kv of cur.kvs) {
      const rest = kv.key.slice(this.k.taskPrefix.length);
      const slash = rest.indexOf('/');
      const worker = rest.slice(0, slash);
      const id = rest.slice(slash + 1);
      if (slash <= 0 || id.length === 0 || id.includes('/')) {
        malformed.push(kv.key);
        continue;
      }
      const list = current.get(worker);
      if (list) list.push(id);
      else current.set(worker, [id]);
      stored.set(kv.key, kv.value);
    }

    const plan = rebalance({ workers, tasks, current });
    report.moves = plan.moves;

    // Units that must stay in one txn: a move is "delete on A, put on B" together.
    const assigned = new Map<string, string>(); // id -> new worker
    for (const a of plan.assign) assigned.set(a.task.id, a.worker);
    const online = new Set(workers);
    const revokedFrom = new Map<string, string>(); // id -> old worker, for moves
    const units: Op[][] = malformed.map((key) => [{ type: 'delete', key }]);
    for (const r of plan.revoke) {
      if (assigned.has(r.id) && online.has(r.worker) && !revokedFrom.has(r.id))
        revokedFrom.set(r.id, r.worker);
      else units.push([{ type: 'delete', key: this.k.task(r.worker, r.id) }]);
    }
    for (const a of plan.assign) {
      const unit: Op[] = [];
      const from = revokedFrom.get(a.task.id);
      if (from !== undefined) unit.push({ type: 'delete', key: this.k.task(from, a.task.id) });
      unit.push({ type: 'put', key: this.k.task(a.worker, a.task.id), value: encodeTask(a.task) });
      units.push(unit);
    }
    // Tasks that stay where they are but whose value changed (payload, priority, group, key).
    for (const [worker, list] of plan.target) {
      for (const task of list) {
        const key = this.k.task(worker, task.id);
        const old = stored.get(key);
        if (old === undefined) continue;
        const value = encodeTask(task);
        if (old !== value) units.push([{ type: 'put', key, value }]);
      }
    }

    report.revoked = plan.revoke.length + malformed.length;
    report.assigned = plan.assign.length;
    report.txns = await this.writeUnits(units, term);
    m.moves.inc({ name: this.name }, plan.moves);
    m.tasksAssigned.set({ name: this.name }, tasks.length);
  }

  /** Writes the ops in order, in txns of at most MAX_TXN_OPS ops, each fenced; keys deduplicated. */
  private async writeUnits(units: Op[][], term: Term): Promise<number> {
    const used = new Set<string>();
    const batches: Op[][] = [];
    let batch: Op[] = [];
    let bytes = 0;
    for (const unit of units) {
      const ops = unit.filter((op) => {
        if (used.has(op.key)) return false;
        used.add(op.key);
        return true;
      });
      if (ops.length === 0) continue;
      const size = ops.reduce((n, op) => n + opBytes(op), 0);
      // etcd refuses a txn of more than 128 ops or more than 1.5 MiB: close the batch before either.
      if (batch.length > 0 && (batch.length + ops.length > MAX_TXN_OPS || bytes + size > MAX_BATCH_BYTES)) {
        batches.push(batch);
        batch = [];
        bytes = 0;
      }
      batch.push(...ops);
      bytes += size;
    }
    if (batch.length > 0) batches.push(batch);
    for (const success of batches) {
      if (term.signal.aborted) throw term.signal.reason;
      const res = await this.store.txn({ compare: [term.fence], success });
      if (!res.succeeded) {
        throw new NotLeaderError(`master ${this.name}: fenced write refused, no longer the leader`);
      }
    }
    return batches.length;
  }

  private async writeStatus(report: ScheduleReport, fence: Compare): Promise<void> {
    const res = await this.store.txn({
      compare: [fence],
      success: [{ type: 'put', key: this.k.masterStatus, value: JSON.stringify(report) }],
    });
    if (!res.succeeded)
      throw new NotLeaderError(`master ${this.name}: status write refused, no longer the leader`);
  }
}
