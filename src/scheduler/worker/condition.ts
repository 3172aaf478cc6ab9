/**
 * Why a worker is (not) ready, as a pure function of what the worker knows: the answer behind a readiness
 * probe. Readiness is about the fleet ("run my share now"); it is not liveness: an etcd outage makes a
 * worker not ready, never dead.
 */
import { isRetryableError, SessionLostError } from '../../errors.js';
import type { BarrierPhase, WorkerState, WorkerStateKind } from './lifecycle.js';

/**
 * What the worker remembers for its condition: the last registration attempt's error and a failure of
 * its loop. `of()` reads the rest from the worker's state.
 */
export class ConditionTracker {
  /** The error of the last registration attempt (undefined once one succeeded). */
  lastAttemptError: unknown;
  /** The error that ended the worker's loop while not stopping (a bug). */
  failure: unknown;

  attempted(error: unknown): void {
    this.lastAttemptError = error;
  }

  of(state: WorkerState, barrier: BarrierPhase, now: number, allRunning: boolean): WorkerCondition {
    const session = state.kind === 'serving' ? state.session : undefined;
    return conditionOf({
      state,
      barrier,
      lastAttemptError: this.lastAttemptError,
      keepAliveOverdue:
        session !== undefined && now - session.lastKeepAliveAt > 2 * session.keepAliveInterval,
      allRunning,
      failure: this.failure,
    });
  }
}

/** Why a worker is not ready. */
export type NotReadyReason =
  /** `start()` not called yet. */
  | 'not started'
  /** The registration is going on (the first try, or after a loss). */
  | 'registering'
  /** The last call to etcd failed as unreachable (registration), or the lease could not be renewed lately. */
  | 'etcd unreachable'
  /** The fleet is full (`maxNumNodes − 1` workers): waiting for a slot (`onCapacityFull: 'wait'`). */
  | 'standby'
  /** The registration was refused (`start()` rejected): the process needs an operator. */
  | 'refused'
  /** The lease is lost: every run was stopped; the worker re-registers by itself. */
  | 'fenced'
  /** Waiting in the start-up barrier for the rest of the fleet. */
  | 'barrier'
  /** Registered, but not every assigned task runs yet. */
  | 'starting tasks'
  /** The worker's loop ended with an unexpected error (see `failure`). */
  | 'failed'
  /** `stop()` was called: draining. */
  | 'stopping'
  | 'stopped';

/** What a worker says about itself now (`worker.condition`). */
export interface WorkerCondition {
  /** The lifecycle state (`new`, `registering`, `standby`, `serving`, `fenced`, ...). */
  state: WorkerStateKind;
  /** Registered with a lease it renews, past the start-up barrier, and every assigned task runs. */
  ready: boolean;
  /** Why not ready; absent when ready. */
  reason?: NotReadyReason;
  /** While on standby: since when (clock ms). */
  standbySince?: number;
  /**
   * The error that ended the worker's loop while it was not stopping: a bug, not a condition of etcd. The
   * worker does nothing more; the process should be restarted (a liveness probe should fail).
   */
  failure?: unknown;
}

export interface ConditionInput {
  state: WorkerState;
  barrier: BarrierPhase;
  /** The error of the last registration attempt, undefined when it succeeded or none failed yet. */
  lastAttemptError: unknown;
  /** Serving, but no keep-alive succeeded lately (etcd slow or unreachable; the lease is at risk). */
  keepAliveOverdue: boolean;
  allRunning: boolean;
  failure: unknown;
}

/** The worker's condition from what it knows. */
export function conditionOf(i: ConditionInput): WorkerCondition {
  const base: WorkerCondition = { state: i.state.kind, ready: false };
  const not = (reason: NotReadyReason): WorkerCondition => ({ ...base, reason });
  if (i.failure !== undefined && i.state.kind !== 'draining' && i.state.kind !== 'stopped') {
    return { ...not('failed'), failure: i.failure };
  }
  const e = i.lastAttemptError;
  const unreachable = e !== undefined && (isRetryableError(e) || e instanceof SessionLostError);
  switch (i.state.kind) {
    case 'new':
      return not('not started');
    case 'registering':
      return not(unreachable ? 'etcd unreachable' : 'registering');
    case 're-registering':
      return not(unreachable ? 'etcd unreachable' : 'fenced');
    case 'standby':
      return { ...not(unreachable ? 'etcd unreachable' : 'standby'), standbySince: i.state.since };
    case 'refused':
      return not('refused');
    case 'fenced':
      return not('fenced');
    case 'draining':
      return not('stopping');
    case 'stopped':
      return not('stopped');
    case 'serving':
      if (i.keepAliveOverdue) return not('etcd unreachable');
      if (i.barrier === 'in') return not('barrier');
      if (!i.allRunning) return not('starting tasks');
      return { ...base, ready: true };
  }
}
