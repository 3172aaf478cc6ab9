/**
 * Start-up barrier participation: on a fresh root, enter the double barrier with the master and the other
 * workers, stop waiting when the master set `/<root>/worker_barrier_left` without the barrier completing
 * (it gave up waiting), and — with a run handler — leave together once the first schedule is done and every
 * assigned task runs. A Go master sets worker_barrier_left right after the barrier completed and never
 * leaves it (it closes its session): a worker in the completed barrier still goes through the leave, which
 * the other participants (Go workers among them) wait for. Waits on events (watches, the assignment view,
 * the runs), never on a poll.
 */
import { BarrierTimeoutError } from '../../errors.js';
import { DoubleBarrier } from '../../recipes/barrier.js';
import type { Session } from '../../recipes/session.js';
import { PrefixWatcher } from '../../recipes/watcher.js';
import type { Logger } from '../../util/logger.js';
import { linkedSignal } from '../../util/signals.js';
import type { Keys } from '../keys.js';
import { retryBackoff } from '../options.js';
import type { Emit } from './events.js';
import { firstScheduleDone } from './first-schedule.js';
import type { BarrierPhase } from './lifecycle.js';
import type { ResolvedWorkerOptions } from './options.js';
import type { Pulse } from './pulse.js';

export interface BarrierDeps {
  o: ResolvedWorkerOptions;
  k: Keys;
  log: Logger;
  emit: Emit;
  /** The phase changed (the worker's status follows it). */
  phaseChanged(): void;
  assignedCount(): number;
  isAllRunning(): boolean;
  /** Fires when the assignment changed. */
  assignmentChanged: Pulse;
  /** Fires when the assignment changed or a run started or settled. */
  runsChanged: Pulse;
}

export class StartupBarrier {
  private current: BarrierPhase = 'none';
  private barrier?: DoubleBarrier;
  private leaving?: Promise<boolean>;
  /** Aborted when the session it entered with is gone: the barrier is abandoned for good. */
  private readonly abandoned = new AbortController();

  constructor(private readonly d: BarrierDeps) {}

  get phase(): BarrierPhase {
    return this.current;
  }

  /**
   * Enters the barrier with `session` (unless the master already left it), then, with a run handler,
   * leaves it by itself once the first schedule is done and every assigned task runs. Resolves once
   * entered (or passed); the automatic leave goes on in the background until `signal` aborts. Gives the
   * barrier up without leaving only when it did not complete with this worker in it.
   */
  async participate(session: Session, signal: AbortSignal): Promise<void> {
    const { o, k } = this.d;
    const left = await o.store.range(k.barrierLeft);
    if (left.kvs.length > 0) return this.setPhase('left');
    this.setPhase('in');
    const barrier = new DoubleBarrier(session, k.barrier, o.maxNumNodes);
    // The master may give up waiting (barrier timeout) and set worker_barrier_left: stop waiting then too.
    const passed = new AbortController();
    const waiting = linkedSignal(signal, this.abandoned.signal, passed.signal);
    const watchLeft = this.watchLeft(barrier, waiting.signal, passed);
    try {
      await barrier.enter({ signal: waiting.signal, timeoutMs: o.barrierTimeout });
      this.barrier = barrier;
    } catch (err) {
      if (signal.aborted || this.abandoned.signal.aborted) throw err;
      if (!(err instanceof BarrierTimeoutError) && !passed.signal.aborted) throw err;
      if (await this.completedSince(barrier, left.revision)) {
        // It completed as this worker gave up (its key is gone with the cleanup): the others leave together,
        // so go through the leave too — it waits for them.
        this.d.log.info({}, 'the start-up barrier completed as this worker gave up; leaving with the others');
        this.barrier = barrier;
      } else {
        this.d.log.warn({ err: (err as Error).message }, 'left the start-up barrier without the full fleet');
        this.setPhase('left');
      }
    } finally {
      waiting.dispose(); // ends the watch of worker_barrier_left
      await watchLeft;
    }
    if (this.barrier && o.run) void this.autoLeave(signal);
  }

  /**
   * Leaves the barrier (all participants leave together), waiting at most `timeoutMs`. True when this
   * worker is past the barrier. Calls made while a leave is going on share it.
   */
  tryLeave(timeoutMs: number, signal: AbortSignal): Promise<boolean> {
    if (this.current === 'left') return Promise.resolve(true);
    const barrier = this.barrier;
    if (!barrier || this.current !== 'in') return Promise.resolve(false);
    this.leaving ??= barrier
      .leave({ signal, timeoutMs })
      .then(() => {
        this.setPhase('left');
        return true;
      })
      .catch((err: unknown) => {
        this.d.log.warn({ err }, 'barrier leave failed');
        return false;
      })
      .finally(() => {
        this.leaving = undefined;
      });
    return this.leaving;
  }

  /** Past the barrier without entering it: a worker back from a restart within its grace. */
  pass(): void {
    this.setPhase('left');
  }

  /** The session it entered with is gone: a barrier not passed yet is given up (a passed one stays passed). */
  abandon(): void {
    this.abandoned.abort(new Error('start-up barrier abandoned: the session is gone'));
    this.barrier = undefined;
    if (this.current === 'in') this.setPhase('none');
  }

  /** With a run handler: leave the barrier once the first schedule is done and every assigned task runs. */
  private async autoLeave(stop: AbortSignal): Promise<void> {
    const { d } = this;
    const linked = linkedSignal(stop, this.abandoned.signal);
    const signal = linked.signal;
    try {
      await firstScheduleDone(
        {
          store: d.o.store,
          k: d.k,
          clock: d.o.clock,
          log: d.log,
          assignedCount: d.assignedCount,
          assignmentChanged: d.assignmentChanged,
          newBackoff: () => retryBackoff(d.o),
          barrierTimeout: d.o.barrierTimeout,
        },
        signal,
      );
      while (!signal.aborted && this.current === 'in') {
        if (d.isAllRunning()) {
          if (await this.tryLeave(d.o.barrierTimeout, stop)) return;
          if (signal.aborted || this.current !== 'in') return;
          // The leave timed out or failed: its own key is gone (or goes with the lease); do not hold the
          // application's readiness hostage to a participant that never left.
          d.log.warn({}, 'start-up barrier: not everyone left in time; leaving alone');
          this.setPhase('left');
          return;
        }
        await d.runsChanged.wait(signal);
      }
    } catch (err) {
      if (!signal.aborted) d.log.warn({ err }, 'waiting to leave the start-up barrier failed');
    } finally {
      linked.dispose();
    }
  }

  /**
   * Watches worker_barrier_left until `signal` aborts; once the master has set it, aborts `passed` — unless
   * the barrier completed with this worker in it. A Go master writes `ready` (or sees it written), closes its
   * session and writes worker_barrier_left at once: the enter then finishes by itself, and the others wait
   * for this worker's leave. Only a barrier that never completed (a master that timed out) or completed
   * without this worker (it came late) is given up here.
   */
  private async watchLeft(
    barrier: DoubleBarrier,
    signal: AbortSignal,
    passed: AbortController,
  ): Promise<void> {
    const { o, k, log } = this.d;
    try {
      for await (const u of new PrefixWatcher(o.store, k.barrierLeft, { clock: o.clock, signal })) {
        const present = u.type === 'events' ? u.events.some((e) => e.type === 'put') : u.kvs.length > 0;
        if (!present) continue;
        if (await this.completedWithMe(barrier)) return;
        passed.abort(new Error('start-up barrier passed (worker_barrier_left set)'));
        return;
      }
    } catch (err) {
      if (!signal.aborted)
        log.warn({ err }, 'watching worker_barrier_left failed; waiting for the barrier alone');
    }
  }

  /** `ready` exists and was put after this worker's key was created (read at one revision). */
  private async completedWithMe(barrier: DoubleBarrier): Promise<boolean> {
    const mine = barrier.participantKey;
    if (!mine) return false;
    const res = await this.d.o.store.range(`${barrier.key}/`, { prefix: true });
    const ready = res.kvs.find((kv) => kv.key === barrier.readyKey);
    const own = res.kvs.find((kv) => kv.key === mine);
    return ready !== undefined && own !== undefined && own.createRevision < ready.modRevision;
  }

  /** `ready` exists and was put after `revision` (this worker started entering then). */
  private async completedSince(barrier: DoubleBarrier, revision: number): Promise<boolean> {
    try {
      const ready = await this.d.o.store.get(barrier.readyKey);
      return ready !== undefined && ready.modRevision > revision;
    } catch (err) {
      this.d.log.warn({ err }, 'reading the start-up barrier failed; taking it as not completed');
      return false;
    }
  }

  private setPhase(phase: BarrierPhase): void {
    if (this.current === phase) return;
    this.current = phase;
    this.d.phaseChanged();
  }
}
