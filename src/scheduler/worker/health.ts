/**
 * Per-task health on one worker (issue 12): the run state of each task it runs, its consecutive failed
 * runs (`attempts`, reset once a run lasted `steadyAfter`), the last error and since when; published as
 * `/<root>/health/<worker>` with the worker's lease, only when it changed and at most once per
 * `minInterval` (1 s), failing tasks first and capped. Every timer is on the worker's Clock.
 */
import type { Session } from '../../recipes/session.js';
import type { Store } from '../../store/port.js';
import type { Clock, TimerHandle } from '../../util/clock.js';
import type { Logger } from '../../util/logger.js';
import type { RunState, TaskHealth, WorkerHealth } from '../health.js';
import type { Metrics } from '../metrics.js';

/** At most this many failing tasks are listed in a published document. */
export const MAX_FAILING_LISTED = 50;
/** Error messages are cut to this many characters. */
export const MAX_ERROR_CHARS = 200;
/** Published at most once per this many ms. */
export const HEALTH_MIN_INTERVAL = 1_000;

/** What a task runner reports. */
export interface RunHealth {
  /** Claiming (or waiting for the previous owner to release). */
  starting(id: string): void;
  /** A run (attempt) started. */
  running(id: string): void;
  /** A run ended while the task is still assigned: it restarts after a backoff. */
  failed(id: string, error: unknown): void;
  /** The runner is gone (revoked, fenced, drained). */
  removed(id: string): void;
}

interface Entry {
  state: RunState;
  attempts: number;
  lastError: string;
  /** End of the first failed run of the streak (clock ms). */
  since: number;
  /** Start of the current run (clock ms). */
  runStart: number;
  steadyTimer?: TimerHandle;
}

export interface HealthDeps {
  worker: string;
  clock: Clock;
  steadyAfter: number;
  metrics: Metrics;
  /** The document changed. */
  changed(): void;
}

/** The health of every task a worker runs; counts kept incrementally (cheap at 10k tasks). */
export class HealthTracker implements RunHealth {
  private readonly entries = new Map<string, Entry>();
  private readonly counts = { running: 0, starting: 0, backoff: 0, failing: 0 };

  constructor(private readonly d: HealthDeps) {
    d.metrics.workerTasksFailing.set({ name: d.worker }, 0);
  }

  starting(id: string): void {
    const e = this.entries.get(id);
    if (e) this.move(e, 'starting');
    else {
      this.entries.set(id, { state: 'starting', attempts: 0, lastError: '', since: 0, runStart: 0 });
      this.counts.starting++;
    }
    this.d.changed();
  }

  running(id: string): void {
    const e = this.entries.get(id);
    if (!e) return;
    this.move(e, 'running');
    e.runStart = this.d.clock.now();
    this.clearSteady(e);
    if (e.attempts > 0) {
      e.steadyTimer = this.d.clock.setTimeout(() => {
        e.steadyTimer = undefined;
        if (this.entries.get(id) === e && e.state === 'running') {
          this.setAttempts(e, 0);
          this.d.changed();
        }
      }, this.d.steadyAfter);
    }
    this.d.changed();
  }

  failed(id: string, error: unknown): void {
    const e = this.entries.get(id);
    if (!e) return;
    const now = this.d.clock.now();
    this.clearSteady(e);
    if (now - e.runStart >= this.d.steadyAfter) this.setAttempts(e, 0); // it ran steadily before it ended
    if (e.attempts === 0) e.since = now;
    this.setAttempts(e, e.attempts + 1);
    e.lastError = errorText(error);
    this.move(e, 'backoff');
    this.d.changed();
  }

  removed(id: string): void {
    const e = this.entries.get(id);
    if (!e) return;
    this.clearSteady(e);
    this.setAttempts(e, 0);
    this.counts[e.state]--;
    this.entries.delete(id);
    this.d.changed();
  }

  /** The document: failing tasks (most attempts first, then by id), at most `limit` of them. */
  snapshot(limit = Number.POSITIVE_INFINITY): WorkerHealth {
    const failing: TaskHealth[] = [];
    for (const [id, e] of this.entries) {
      if (e.attempts > 0) {
        failing.push({
          id,
          state: e.state,
          attempts: e.attempts,
          lastError: e.lastError,
          since: new Date(e.since).toISOString(),
        });
      }
    }
    failing.sort((a, b) => b.attempts - a.attempts || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const listed = failing.slice(0, limit);
    return {
      worker: this.d.worker,
      at: new Date(this.d.clock.now()).toISOString(),
      counts: { ...this.counts },
      failing: listed,
      truncated: failing.length - listed.length,
    };
  }

  private move(e: Entry, state: RunState): void {
    this.counts[e.state]--;
    this.counts[state]++;
    e.state = state;
  }

  private setAttempts(e: Entry, attempts: number): void {
    if (e.attempts > 0 !== attempts > 0) {
      this.counts.failing += attempts > 0 ? 1 : -1;
      this.d.metrics.workerTasksFailing.set({ name: this.d.worker }, this.counts.failing);
    }
    e.attempts = attempts;
  }

  private clearSteady(e: Entry): void {
    if (e.steadyTimer) this.d.clock.clearTimeout(e.steadyTimer);
    e.steadyTimer = undefined;
  }
}

function errorText(error: unknown): string {
  const text =
    error === undefined
      ? 'returned while still assigned'
      : error instanceof Error
        ? error.message || error.name
        : String(error);
  return text.length > MAX_ERROR_CHARS ? `${text.slice(0, MAX_ERROR_CHARS - 1)}…` : text;
}

export interface PublisherDeps {
  store: Store;
  clock: Clock;
  key: string;
  tracker: HealthTracker;
  log: Logger;
  /** @default HEALTH_MIN_INTERVAL */
  minInterval?: number;
}

/**
 * Writes the tracker's document with the bound session's lease: only when it differs from the last one
 * written (its time aside), never more often than `minInterval`, one write in flight at a time.
 */
export class HealthPublisher {
  private session?: Session;
  private timer?: TimerHandle;
  private writing = false;
  private dirty = false;
  private lastAt = Number.NEGATIVE_INFINITY;
  private lastBody = '';
  private lastLease = '';
  /** Documents written (for tests and benchmarks). */
  writes = 0;

  constructor(private readonly d: PublisherDeps) {}

  /** Publishes with this session's lease from now on (a new lease: written again). */
  bind(session: Session): void {
    this.session = session;
    this.changed();
  }

  /** Stops publishing (draining): the document goes with the lease. A lost or closed session stops it too. */
  unbind(): void {
    this.session = undefined;
    if (this.timer) this.d.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** The document may have changed: write it at the next allowed time (while the session lives). */
  changed(): void {
    this.dirty = true;
    if (this.timer || this.writing || !this.session || this.session.signal.aborted) return;
    const wait = Math.max(0, this.lastAt + (this.d.minInterval ?? HEALTH_MIN_INTERVAL) - this.d.clock.now());
    this.timer = this.d.clock.setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, wait);
  }

  private async flush(): Promise<void> {
    const session = this.session;
    if (!session || session.signal.aborted || !this.dirty) return;
    this.dirty = false;
    const doc = this.d.tracker.snapshot(MAX_FAILING_LISTED);
    const { at: _at, ...rest } = doc;
    const body = JSON.stringify(rest);
    if (body === this.lastBody && session.leaseId === this.lastLease) return;
    this.writing = true;
    this.lastAt = this.d.clock.now();
    try {
      await this.d.store.put(this.d.key, JSON.stringify(doc), { lease: session.leaseId });
      this.writes++;
      this.lastBody = body;
      this.lastLease = session.leaseId;
    } catch (err) {
      this.d.log.debug({ err }, 'publishing the health document failed; retrying');
      this.dirty = true;
    } finally {
      this.writing = false;
    }
    if (this.dirty) this.changed();
  }
}

/** The health of a worker without runs (no run handler). */
export function emptyHealth(worker: string, clock: Clock): WorkerHealth {
  return {
    worker,
    at: new Date(clock.now()).toISOString(),
    counts: { running: 0, starting: 0, backoff: 0, failing: 0 },
    failing: [],
    truncated: 0,
  };
}
