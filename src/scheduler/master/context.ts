import type { Session } from '../../recipes/session.js';
import type { Compare } from '../../store/port.js';
import type { Logger } from '../../util/logger.js';
import type { Keys } from '../keys.js';
import type { ResolvedMasterOptions } from './options.js';
import type { ScheduleRequests } from './reasons.js';
import type { ScheduleReport } from './report.js';
import type { PlannedInput } from './unchanged.js';
import type { MasterView } from './views.js';

export interface MasterEvents {
  elected: { name: string; revision: number };
  deposed: { name: string; reason: string };
  schedule: ScheduleReport;
  error: { error: unknown; context: string };
}

/** What the parts of a master share: its options, keys, log, pending requests and events. */
export interface MasterContext {
  readonly o: ResolvedMasterOptions;
  readonly k: Keys;
  readonly log: Logger;
  /** Pending schedule requests; they outlive a term (a request made while not leading waits for the next). */
  readonly requests: ScheduleRequests;
  /** Aborts when the master stops. */
  readonly stopSignal: AbortSignal;
  emit<K extends keyof MasterEvents>(event: K, payload: MasterEvents[K]): void;
  /** Records the report of the schedule that just ended (`Master.lastSchedule`). */
  setLast(report: ScheduleReport): void;
}

/** One term of leadership: the fence every write compares, and the signal that ends the term. */
export interface Term {
  /** The election key's create revision: a txn under it fails once this master no longer leads. */
  fence: Compare;
  signal: AbortSignal;
  session: Session;
  /** The watch-fed workers and assignment the term schedules from. */
  view: MasterView;
  /** Revision of the term's last txn that wrote under `task/`: a plan waits until the view reflects it. */
  lastWrite: number;
  /** What the last complete schedule planned from, while nothing else changed since (skip the plan). */
  planned?: PlannedInput;
}
