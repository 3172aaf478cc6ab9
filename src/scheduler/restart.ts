/**
 * Restart markers (issue 15): a worker stopping with restart intent leaves `/<root>/restarting/<name>`, bound
 * to a lease of the grace period, instead of handing its tasks away. While the marker lives the master holds
 * that worker's assignment where it is (nothing moves off it, nothing new goes onto it, its tasks do not
 * run); a worker registering under that name takes the marker down in the registration txn and runs the same
 * tasks; when the lease expires the tasks move as for a leave. Master, worker and `escheduler status` share
 * the value's shape here.
 */

/** The JSON value of `/<root>/restarting/<name>`. */
export interface RestartMarker {
  /** Clock time (ms since the epoch) the worker stopped with restart intent: the grace counts from here. */
  at: number;
  /** The grace period, in ms (the marker's lease has this TTL, rounded up to whole seconds). */
  graceMs: number;
  /** Who stopped it, for people (`${host}:${pid}` in the CLI); optional. */
  by?: string;
}

/** The marker's value. */
export function encodeMarker(m: RestartMarker): string {
  return JSON.stringify(m);
}

/** Reads a marker value; anything unreadable still marks a restart, with unknown time left. */
export function decodeMarker(value: string): RestartMarker | undefined {
  try {
    const v = JSON.parse(value) as Partial<RestartMarker>;
    if (typeof v?.at !== 'number' || typeof v.graceMs !== 'number') return undefined;
    return { at: v.at, graceMs: v.graceMs, ...(typeof v.by === 'string' ? { by: v.by } : {}) };
  } catch {
    return undefined;
  }
}

/** The lease TTL of a grace period: whole seconds, rounded up (etcd leases count in seconds). */
export function graceTtl(graceMs: number): number {
  return Math.max(1, Math.ceil(graceMs / 1000));
}

/** The worker a marker key names, or undefined for a malformed key (empty or nested name). */
export function markerName(key: string, prefix: string): string | undefined {
  const name = key.slice(prefix.length);
  return name.length === 0 || name.includes('/') || !key.startsWith(prefix) ? undefined : name;
}

/**
 * The workers named by the markers under `prefix` (a prefix range's kvs), each with its marker (undefined
 * when the value is unreadable: still a restart, the lease bounds it).
 */
export function restartingWorkers(
  kvs: Iterable<{ key: string; value: string }>,
  prefix: string,
): Map<string, RestartMarker | undefined> {
  const out = new Map<string, RestartMarker | undefined>();
  for (const kv of kvs) {
    const name = markerName(kv.key, prefix);
    if (name !== undefined) out.set(name, decodeMarker(kv.value));
  }
  return out;
}
