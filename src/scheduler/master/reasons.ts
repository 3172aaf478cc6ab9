/**
 * Why a schedule runs. Requests that arrive while one runs (or while not leading) coalesce into the next
 * schedule; none is dropped. The reasons are a typed set, so the metric label never depends on parsing a
 * string; the strings an application passes to `notifySchedule(reason)` are kept as details.
 */

export type ScheduleReason =
  /** The first schedule on a fresh root, after the start-up barrier filled. */
  | 'first schedule'
  /** The first schedule on a fresh root, after the start-up barrier timed out. */
  | 'first schedule (barrier timeout)'
  /** A new term on a root that passed its start-up barrier before. */
  | 'leader elected'
  /** A worker key was created or deleted (after `rebalanceWait`). */
  | 'workers changed'
  /** A restarting worker's grace ran out (its marker's lease expired): its held tasks move. */
  | 'restart expired'
  /** The operators' control state under `control/` changed (after `rebalanceWait`). */
  | 'control changed'
  /** The previous schedule left moves for later (`maxMoves`); after `rebalanceWait`. */
  | 'moves deferred'
  /** `interval` elapsed. */
  | 'interval'
  /** The previous schedule failed on the store. */
  | 'retry after error'
  /** The application called `notifySchedule()`. */
  | 'notified';

/** The `reason` label of the schedules metric: a fixed set, whatever strings the application passes. */
export type ReasonLabel = Exclude<ScheduleReason, 'first schedule (barrier timeout)'>;

/** What one schedule serves: the requests that arrived since the previous one. */
export interface ScheduleRequest {
  /** The typed reasons, in the order they first arrived. */
  readonly reasons: readonly ScheduleReason[];
  /** The application's `notifySchedule(reason)` strings, in the order they first arrived. */
  readonly details: readonly string[];
  /** Human form, as the report's `reason` has always been: every reason or detail, joined with ', '. */
  readonly text: string;
}

/** The metric label of a request: its first reason, the two first-schedule kinds counted as one. */
export function reasonLabel(request: Pick<ScheduleRequest, 'reasons'>): ReasonLabel {
  const first = request.reasons[0] ?? 'notified';
  return first === 'first schedule (barrier timeout)' ? 'first schedule' : first;
}

/** The pending schedule requests of a master, and the one wait for the next. */
export class ScheduleRequests {
  private readonly reasons = new Set<ScheduleReason>();
  private readonly details = new Set<string>();
  /** Each request's human form, in arrival order (a detail stands for its 'notified'). */
  private readonly texts = new Set<string>();
  private wake?: () => void;

  /** Pending requests. */
  get size(): number {
    return this.texts.size;
  }

  /** Records a request; an application's `detail` goes with the reason `'notified'`. */
  add(reason: ScheduleReason, detail?: string): void {
    this.reasons.add(reason);
    if (reason === 'notified' && detail) {
      this.details.add(detail);
      this.texts.add(detail);
    } else {
      this.texts.add(reason);
    }
    this.wake?.();
  }

  /** Returns the pending requests as one and clears them. */
  take(): ScheduleRequest {
    const request: ScheduleRequest = {
      reasons: [...this.reasons],
      details: [...this.details],
      text: [...this.texts].join(', '),
    };
    this.reasons.clear();
    this.details.clear();
    this.texts.clear();
    return request;
  }

  /**
   * Resolves once a request is pending or `signal` aborts (at once if either holds), and detaches from
   * `signal`. One waiter at a time: the term's schedule loop.
   */
  wait(signal: AbortSignal): Promise<void> {
    if (this.size > 0 || signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        signal.removeEventListener('abort', done);
        if (this.wake === done) this.wake = undefined;
        resolve();
      };
      this.wake = done;
      signal.addEventListener('abort', done, { once: true });
    });
  }
}
