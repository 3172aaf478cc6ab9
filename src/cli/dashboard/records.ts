/**
 * Defensive readers of the JSON records the dashboard shows, one per key folder under the root. Every
 * reader takes the raw value and returns a plain object or `undefined` (never throws): a record written by
 * a newer or older process, or by hand, must not break the page. Pure: bundled into the browser page too
 * (no Node API here).
 */

import { decodeMarker, type RestartMarker } from '../../scheduler/restart.js';

/** The fields of a task value the dashboard uses (the Go JSON `{"P","Key","Group","ID","Raw"}` + `"W"`, the weight). */
export interface TaskInfo {
  group: string;
  /** Task weight (1 unless the task value says otherwise). */
  weight: number;
  priority: number;
  key: string;
  /** Set when the value is not a task object. */
  bad?: string;
}

export interface HealthRecord {
  at?: string;
  counts: { running: number; starting: number; backoff: number; failing: number };
  failing: { id: string; state: string; attempts: number; lastError: string; since?: string }[];
  truncated: boolean;
}

export interface ControlRecord {
  state?: string;
  worker?: string;
  by?: string;
  reason?: string;
  at?: string;
}

export interface NodeRecord {
  capacity?: number;
  version?: string;
  host?: string;
  pid?: number;
  startedAt?: string;
}

/** A restart marker (`restarting/<worker>`, issue 15); `undefined` fields when its value is unreadable. */
export type RestartingRecord = Partial<RestartMarker>;

export interface StandbyRecord {
  since?: string;
  pid?: number;
  host?: string;
}

/** The fields of the master's schedule report (`status/master`) the page shows. */
export interface ScheduleRecord {
  leader: string;
  time: string;
  reason: string;
  result: string;
  workers: number;
  tasks: number;
  assigned: number;
  revoked: number;
  moves: number;
  durationMs: number;
  errors: string[];
}

function object(value: string): Record<string, unknown> | undefined {
  try {
    const o: unknown = JSON.parse(value);
    return typeof o === 'object' && o !== null && !Array.isArray(o)
      ? (o as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/** Reads a task value; Go matches JSON field names case-insensitively, so does this. */
export function readTask(value: string): TaskInfo {
  const o = object(value);
  if (!o) return { group: '?', weight: 1, priority: 0, key: '', bad: 'not a JSON object' };
  const t: TaskInfo = { group: '', weight: 1, priority: 0, key: '' };
  for (const name in o) {
    const v = o[name];
    switch (name.toLowerCase()) {
      case 'group':
        t.group = str(v) ?? t.group;
        break;
      case 'w': {
        const w = num(v);
        if (w !== undefined && w > 0) t.weight = w;
        break;
      }
      case 'p':
        t.priority = num(v) ?? t.priority;
        break;
      case 'key':
        t.key = str(v) ?? t.key;
        break;
    }
  }
  return t;
}

/** A task value without its payload, for the page: the same fields {@link readTask} reads back. */
export function compactTask(value: string): string {
  const t = readTask(value);
  if (t.bad) return value.length > 200 ? `${value.slice(0, 200)}…` : value;
  const o: Record<string, unknown> = { P: t.priority, Key: t.key, Group: t.group };
  if (t.weight !== 1) o.W = t.weight;
  return JSON.stringify(o);
}

export function readHealth(value: string): HealthRecord | undefined {
  const o = object(value);
  if (!o) return undefined;
  const c = (typeof o.counts === 'object' && o.counts !== null ? o.counts : {}) as Record<string, unknown>;
  const failing = Array.isArray(o.failing) ? o.failing : [];
  return {
    at: str(o.at),
    counts: {
      running: num(c.running) ?? 0,
      starting: num(c.starting) ?? 0,
      backoff: num(c.backoff) ?? 0,
      failing: num(c.failing) ?? 0,
    },
    failing: failing
      .filter((x): x is Record<string, unknown> => typeof x === 'object' && x !== null)
      .map((x) => ({
        id: str(x.id) ?? '?',
        state: str(x.state) ?? '?',
        attempts: num(x.attempts) ?? 0,
        lastError: str(x.lastError) ?? '',
        since: str(x.since),
      })),
    truncated: o.truncated === true,
  };
}

export function readControl(value: string): ControlRecord | undefined {
  const o = object(value);
  if (!o) return undefined;
  return { state: str(o.state), worker: str(o.worker), by: str(o.by), reason: str(o.reason), at: str(o.at) };
}

export function readNode(value: string): NodeRecord | undefined {
  const o = object(value);
  if (!o) return undefined;
  return {
    capacity: num(o.capacity),
    version: str(o.version),
    host: str(o.host),
    pid: num(o.pid),
    startedAt: str(o.startedAt),
  };
}

/** A marker always means a restart (its lease bounds it), even when its value is unreadable. */
export function readRestarting(value: string): RestartingRecord {
  return decodeMarker(value) ?? {};
}

export function readStandby(value: string): StandbyRecord | undefined {
  const o = object(value);
  if (!o) return undefined;
  return { since: str(o.since), pid: num(o.pid), host: str(o.host) };
}

export function readSchedule(value: string): ScheduleRecord | undefined {
  const o = object(value);
  if (!o) return undefined;
  return {
    leader: str(o.leader) ?? '?',
    time: str(o.time) ?? '',
    reason: str(o.reason) ?? '',
    result: str(o.result) ?? '?',
    workers: num(o.workers) ?? 0,
    tasks: num(o.tasks) ?? 0,
    assigned: num(o.assigned) ?? 0,
    revoked: num(o.revoked) ?? 0,
    moves: num(o.moves) ?? 0,
    durationMs: num(o.durationMs) ?? 0,
    errors: Array.isArray(o.errors) ? o.errors.filter((e): e is string => typeof e === 'string') : [],
  };
}
