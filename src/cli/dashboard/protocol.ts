/**
 * What the dashboard server sends the page over Server-Sent Events (`GET /api/events`), one JSON object
 * per event. Keys are relative to `/<root>/` (`worker/w1`, `task/w1/t7`); task values are sent without
 * their payload (`compactTask`). Pure types, shared by the server and the page.
 */
import type { ScheduleRecord } from './records.js';

/** One key: relative key, value, lease (hex, '0' = none), create revision, first seen (ms, 0 = before start). */
export type WireKv = [key: string, value: string, lease: string, createRevision: number, seenAt: number];

/** A schedule report and the fleet's balance right after it was written. */
export interface ScheduleEntry {
  report: ScheduleRecord;
  /** Tasks per worker on the live workers when the report arrived (max − min), and the extremes. */
  balance: { min: number; max: number; spread: number };
}

export interface Hello {
  root: string;
  /** Control buttons work (the server was started with `--allow-control`). */
  control: boolean;
  /** Time the server started watching (ms): keys seen at `0` existed before. */
  startedAt: number;
  /** What the page is served by: `dashboard` or `run` (read-only beside /metrics) or `demo`. */
  mode: string;
}

/** The whole state: the first message after every (re)connect, and after a resync. */
export interface Snapshot {
  revision: number;
  kvs: WireKv[];
  history: ScheduleEntry[];
}

/** Keys changed since the previous message, in order: a put is the full tuple, a delete the bare key. */
export interface Changes {
  revision: number;
  ops: (WireKv | string)[];
  /** Server time the change was received from the store (ms), for the latency figure. */
  at: number;
}

/** Seconds left on each worker lease (lease hex → ttl, -1 = gone). */
export interface Leases {
  ttl: Record<string, number>;
}

/** Whether the server reaches the store. */
export interface StoreState {
  ok: boolean;
  error?: string;
}

export interface ServerEvents {
  hello: Hello;
  snapshot: Snapshot;
  changes: Changes;
  history: ScheduleEntry;
  leases: Leases;
  store: StoreState;
}
