import type { ScheduleReason, ScheduleRequest } from './reasons.js';

/** What one schedule did; also written as JSON to `/<root>/status/master`. */
export interface ScheduleReport {
  leader: string;
  /** RFC 3339 time the schedule started. */
  time: string;
  /** Every reason (or `notifySchedule` detail) the schedule serves, joined with ', ' (human form). */
  reason: string;
  /** The typed reasons the schedule serves, in the order they first arrived. */
  reasons: ScheduleReason[];
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
  /**
   * Workers restarting within their grace (a live `/<root>/restarting/<name>` marker, not online): their
   * assignment was held where it is. Absent in reports of older versions.
   */
  restarting?: string[];
  /** Tasks held for the restarting workers (kept on them, not running until they return). */
  held?: number;
  /** Moves the `maxMoves` budget left for the next schedule (which follows after `rebalanceWait`). */
  deferred: number;
  /** The master's `maxMoves` (null: unlimited), so a dry run (`Admin.plan`) plans as the master does. */
  maxMoves: number | null;
  /** The control in effect: online workers cordoned or draining, pins in effect, paused. */
  control: { cordoned: string[]; draining: string[]; pins: number; paused: boolean };
  /** Txns written. */
  txns: number;
  /**
   * Whether the planner ran. False when there was nothing to plan (no workers, generator error) or when
   * nothing changed since the term's last complete schedule (same workers, same tasks, an assignment
   * changed by nothing but that schedule's writes): the plan is skipped, nothing read or written.
   */
  planned: boolean;
  /** Times the assignment was listed again because a guarded write found the master's view stale. */
  resyncs: number;
  durationMs: number;
  /** Invalid tasks and other problems, each naming what it is about. */
  errors: string[];
}

/** RFC 3339 in UTC to the second, as the Go original writes times. */
export const rfc3339 = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

/** The report of a schedule that has just started: nothing done yet. */
export function startReport(leader: string, startedMs: number, request: ScheduleRequest): ScheduleReport {
  return {
    leader,
    time: rfc3339(startedMs),
    reason: request.text,
    reasons: [...request.reasons],
    result: 'ok',
    workers: 0,
    tasks: 0,
    assigned: 0,
    revoked: 0,
    moves: 0,
    restarting: [],
    held: 0,
    deferred: 0,
    maxMoves: null,
    control: { cordoned: [], draining: [], pins: 0, paused: false },
    txns: 0,
    resyncs: 0,
    planned: false,
    durationMs: 0,
    errors: [],
  };
}
