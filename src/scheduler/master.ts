/**
 * The leader-elected scheduler: the campaign loop. Its parts live in `master/`: a term of leadership
 * (`term.ts`), one schedule (`schedule.ts`), the pure plan-to-txn work (`writes.ts`), the typed schedule
 * reasons (`reasons.ts`), the options and the report.
 */
import { Election } from '../recipes/election.js';
import { Session } from '../recipes/session.js';
import { TypedEmitter } from '../util/emitter.js';
import { childLogger, type Logger } from '../util/logger.js';
import { type LinkedSignal, linkedSignal } from '../util/signals.js';
import { type FleetHealth, readFleetHealth } from './health.js';
import { type Keys, keys } from './keys.js';
import type { MasterContext, MasterEvents } from './master/context.js';
import { type MasterOptions, parseMasterOptions, type ResolvedMasterOptions } from './master/options.js';
import { ScheduleRequests } from './master/reasons.js';
import type { ScheduleReport } from './master/report.js';
import { runTerm } from './master/term.js';
import { retryBackoff } from './options.js';

export type { MasterEvents } from './master/context.js';
export type { MasterOptions } from './master/options.js';
export type { ScheduleReason } from './master/reasons.js';
export type { ScheduleReport } from './master/report.js';

/**
 * The leader-elected scheduler. Every process may run one; the one that wins the election under
 * `/<root>/election` asks the generator for the desired tasks and keeps the assignment under
 * `/<root>/task/` equal to the planner's target, writing only in txns fenced on its election key so a
 * deposed master cannot write.
 */
export class Master extends TypedEmitter<MasterEvents> {
  readonly name: string;
  private readonly o: ResolvedMasterOptions;
  private readonly k: Keys;
  private readonly log: Logger;
  private readonly stopController = new AbortController();
  private readonly requests = new ScheduleRequests();
  private readonly ctx: MasterContext;

  private loopPromise?: Promise<void>;
  private stopping = false;
  private leading = false;
  private last?: ScheduleReport;
  private session?: Session;
  private loopFailure: unknown;

  constructor(options: MasterOptions) {
    const log = options?.logger;
    super((event, err) => log?.error({ err, event }, 'master event listener threw'));
    this.o = parseMasterOptions(options);
    this.name = this.o.name;
    this.k = keys(this.o.rootName);
    this.log = childLogger(this.o.logger, { component: 'master', name: this.name });
    this.ctx = {
      o: this.o,
      k: this.k,
      log: this.log,
      requests: this.requests,
      stopSignal: this.stopController.signal,
      emit: (event, payload) => this.emit(event, payload),
      setLast: (report) => {
        this.last = report;
      },
    };
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

  /**
   * The error that ended the campaign loop while not stopping — a bug, never a store outage (those are
   * retried): this master does nothing more; the process should be restarted.
   */
  get failure(): unknown {
    return this.loopFailure;
  }

  /** Starts campaigning; returns at once. Calling it again does nothing. */
  start(): void {
    if (this.loopPromise || this.stopping) return;
    this.loopPromise = this.campaign().catch((err: unknown) => {
      if (this.stopping) return;
      this.loopFailure = err;
      this.log.error({ err }, 'master loop failed: this master does nothing more (restart the process)');
      this.emit('error', { error: err, context: 'master' });
    });
  }

  /** Stops scheduling, resigns at once (revokes its lease) and waits for the loop to end. Safe to call twice. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.stopController.abort(new Error('master stopped'));
    await this.loopPromise;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  /**
   * Asks for a schedule; `reason` is reported as a detail of the reason `'notified'`. Requests that arrive
   * during a schedule coalesce into one more schedule; none is dropped. While not leading, the request
   * waits for the next term.
   */
  notifySchedule(reason: string): void {
    this.requests.add('notified', reason);
  }

  /**
   * Every worker's health document (`/<root>/health/<worker>`), read from the store now: counts per run
   * state and the failing tasks with their attempts and last error. Works whether or not this master leads.
   */
  fleetHealth(): Promise<FleetHealth> {
    return readFleetHealth(this.o.store, this.o.rootName);
  }

  /** Campaign, lead, step down, wait a jittered backoff, again, until stopped. */
  private async campaign(): Promise<void> {
    const backoff = retryBackoff(this.o);
    const stopSignal = this.stopController.signal;
    while (!this.stopping) {
      let session: Session | undefined;
      let linked: LinkedSignal | undefined;
      try {
        session = await Session.create({ store: this.o.store, ttl: this.o.ttl, clock: this.o.clock });
        session.on('lost', ({ reason }) => this.log.warn({ reason }, 'master session lost'));
        this.session = session;
        const election = new Election(session, this.k.election);
        linked = linkedSignal(stopSignal, session.signal);
        await election.campaign(this.name, { signal: linked.signal });
        const fence = election.fence();
        this.leading = true;
        this.o.metrics.isLeader.set({ name: this.name }, 1);
        this.log.info({ revision: fence.createRevision }, 'elected master');
        this.emit('elected', { name: this.name, revision: fence.createRevision });
        await runTerm(this.ctx, session, fence.compare, linked.signal);
        backoff.reset();
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
        linked?.dispose();
      }
      if (this.stopping) break;
      await backoff.wait(this.o.clock, stopSignal);
    }
  }
}
