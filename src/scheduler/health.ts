/**
 * Per-task health (issue 12): the document each worker publishes at `/<root>/health/<worker>`, bound to
 * its lease, and {@link readFleetHealth}, which reads every worker's for tools (`escheduler status`, the
 * dashboard, your own code).
 */
import type { Store } from '../store/port.js';
import { keys } from './keys.js';

/** Where a task's run is on its worker. */
export type RunState = 'starting' | 'running' | 'backoff';

/** One failing task of a worker: its runs ended while it was still assigned. */
export interface TaskHealth {
  id: string;
  /** `starting` (claiming, or waiting for the previous owner), `running`, `backoff` (waiting to restart). */
  state: RunState;
  /** Consecutive runs that ended (threw or returned) while still assigned; reset once a run lasted `steadyAfter`. */
  attempts: number;
  /** The last run's error message (truncated to 200 characters), or why it ended. */
  lastError: string;
  /** When the first run of this streak ended (ISO 8601). */
  since: string;
}

/** The health document of one worker (`/<root>/health/<worker>`, JSON). */
export interface WorkerHealth {
  worker: string;
  /** When it was computed (ISO 8601). */
  at: string;
  /** Tasks of this worker per run state, and how many of them are failing (attempts ≥ 1). */
  counts: { running: number; starting: number; backoff: number; failing: number };
  /** Failing tasks, most attempts first (then by id), at most 50. */
  failing: TaskHealth[];
  /** Failing tasks left out of `failing` (the cap). */
  truncated: number;
}

/** The whole fleet's health: every worker's document, and their failing tasks in one list. */
export interface FleetHealth {
  workers: WorkerHealth[];
  /** Every listed failing task with its worker, most attempts first. */
  failing: (TaskHealth & { worker: string })[];
  /** Store revision of the read. */
  revision: number;
}

/** Reads every worker's health document under `rootName` (unreadable documents are skipped). */
export async function readFleetHealth(store: Store, rootName: string): Promise<FleetHealth> {
  const k = keys(rootName);
  const res = await store.range(k.healthPrefix, { prefix: true });
  const workers: WorkerHealth[] = [];
  for (const kv of res.kvs) {
    const doc = parseHealth(kv.value);
    if (doc) workers.push(doc);
  }
  const failing = workers
    .flatMap((w) => w.failing.map((t) => ({ ...t, worker: w.worker })))
    .sort((a, b) => b.attempts - a.attempts || cmp(a.id, b.id) || cmp(a.worker, b.worker));
  return { workers, failing, revision: res.revision };
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A health document, or undefined when `value` is not one. */
export function parseHealth(value: string): WorkerHealth | undefined {
  try {
    const doc = JSON.parse(value) as WorkerHealth;
    if (typeof doc?.worker !== 'string' || !Array.isArray(doc.failing) || typeof doc.counts !== 'object') {
      return undefined;
    }
    return doc;
  } catch {
    return undefined;
  }
}
