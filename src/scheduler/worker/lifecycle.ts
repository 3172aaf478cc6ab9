/**
 * The worker's lifecycle: one state type and every legal transition, in one place. The `Worker` moves
 * only through {@link transition}, which refuses anything the table below does not list.
 *
 *   new ──start──▶ registering ──registered──▶ serving ──lost──▶ fenced ──settled──▶ re-registering
 *                    │    │                       ▲  ▲                                   │    │
 *                    │    └──refused──▶ refused   │  └────────────registered─────────────┘    │
 *                    └──fleet full──▶ standby ──registered (a slot freed)   ◀──fleet full──────┘
 *   every state but stopped ──stop()──▶ draining ──drained──▶ stopped
 *
 * The original's status (`new → registered → in_barrier → left_barrier → dead`) is derived from the
 * state and the start-up barrier's phase ({@link statusOf}).
 */
import { EschedulerError } from '../../errors.js';
import type { Session } from '../../recipes/session.js';

/** The original's worker status values. */
export const WorkerStatus = {
  New: 'new',
  Registered: 'registered',
  InBarrier: 'in_barrier',
  LeftBarrier: 'left_barrier',
  Dead: 'dead',
} as const;
export type WorkerStatus = (typeof WorkerStatus)[keyof typeof WorkerStatus];

/** Where this worker stands at the start-up barrier: not in it, waiting in it, or past it. */
export type BarrierPhase = 'none' | 'in' | 'left';

export type WorkerState =
  /** Constructed; `start()` not called yet. */
  | { readonly kind: 'new' }
  /** The first registration is going on (retrying store outages). */
  | { readonly kind: 'registering' }
  /** The first registration was refused (fleet full, name taken): `start()` rejected. */
  | { readonly kind: 'refused'; readonly error: unknown }
  /**
   * The fleet is full (`onCapacityFull: 'wait'`): waiting, with `/<root>/standby/<name>`, for a slot.
   * `rejoining`: it was registered before (it came here from re-registering).
   */
  | { readonly kind: 'standby'; readonly since: number; readonly rejoining: boolean }
  /** Registered with `session`: runs may start. */
  | { readonly kind: 'serving'; readonly session: Session }
  /**
   * The lease of `session` is (or must be assumed) gone, or the worker key was deleted: every run was
   * stopped, their claims are left to the old lease. No run starts until registered again.
   */
  | { readonly kind: 'fenced'; readonly session: Session; readonly reason: string }
  /** The fenced runs settled (or the old lease may have expired): registering anew. */
  | { readonly kind: 're-registering'; readonly previous: Session }
  /** `stop()`: deleting the worker key, stopping the runs, releasing the claims. */
  | { readonly kind: 'draining'; readonly session?: Session; readonly status: WorkerStatus }
  /** Drained; the lease revoked (or left to expire when runs did not settle). */
  | { readonly kind: 'stopped'; readonly session?: Session };

export type WorkerStateKind = WorkerState['kind'];

/** Every legal transition: from each state, the states it may go to. */
export const TRANSITIONS: { readonly [K in WorkerStateKind]: readonly WorkerStateKind[] } = {
  new: ['registering', 'draining'],
  registering: ['serving', 'refused', 'standby', 'draining'],
  refused: ['draining'],
  standby: ['serving', 'draining'],
  serving: ['fenced', 'draining'],
  fenced: ['re-registering', 'draining'],
  're-registering': ['serving', 'standby', 'draining'],
  draining: ['stopped'],
  stopped: [],
};

/** A transition the table does not list: a bug in the worker, never a condition of the store. */
export class IllegalTransitionError extends EschedulerError {
  override name = 'IllegalTransitionError';
}

/** True when `from` may go to a state of kind `to`. */
export function canTransition(from: WorkerState, to: WorkerStateKind): boolean {
  return TRANSITIONS[from.kind].includes(to);
}

/** Returns `to` when the table allows `from → to`; throws `IllegalTransitionError` otherwise. */
export function transition(from: WorkerState, to: WorkerState): WorkerState {
  if (!canTransition(from, to.kind)) {
    throw new IllegalTransitionError(`worker: illegal transition ${from.kind} → ${to.kind}`);
  }
  return to;
}

/** The original's status of a worker in `state` whose barrier phase is `barrier`. */
export function statusOf(state: WorkerState, barrier: BarrierPhase): WorkerStatus {
  switch (state.kind) {
    case 'new':
    case 'registering':
    case 'refused':
      return WorkerStatus.New;
    case 'standby':
      return state.rejoining ? WorkerStatus.Dead : WorkerStatus.New;
    case 'serving':
      return barrier === 'left'
        ? WorkerStatus.LeftBarrier
        : barrier === 'in'
          ? WorkerStatus.InBarrier
          : WorkerStatus.Registered;
    case 'draining':
      return state.status;
    case 'fenced':
    case 're-registering':
    case 'stopped':
      return WorkerStatus.Dead;
  }
}

/** The session of the last registration, if any (kept through fencing and draining, as `leaseId` shows). */
export function sessionOf(state: WorkerState): Session | undefined {
  switch (state.kind) {
    case 'serving':
    case 'fenced':
    case 'draining':
    case 'stopped':
      return state.session;
    case 're-registering':
      return state.previous;
    default:
      return undefined;
  }
}
