/**
 * `/<root>/node/<worker>` (ours; issue 14): a worker's facts for the master and the status command, JSON
 * `{ capacity, version, host, pid, startedAt }`, written with the worker key in its registration txn and
 * bound to the same lease (so it goes when the worker goes). The worker key keeps its value `running` for
 * Go masters, which never read this folder.
 */
import { hostname } from 'node:os';
import { isCapacity } from '../planner/capacity.js';
import { VERSION } from '../version.js';

/** The value of `/<root>/node/<worker>`. */
export interface NodeInfo {
  /** The worker's capacity (`Worker` option `capacity`): its fair share is proportional to it. */
  capacity: number;
  /** escheduler's version. */
  version: string;
  host: string;
  pid: number;
  /** RFC 3339 time the worker was created. */
  startedAt: string;
}

/** Reads a node value; a bad or missing capacity is an error naming the worker (the master then uses 1). */
export function parseNodeInfo(worker: string, value: string): NodeInfo {
  let o: unknown;
  try {
    o = JSON.parse(value);
  } catch {
    throw new Error(`node ${JSON.stringify(worker)}: value is not JSON`);
  }
  if (typeof o !== 'object' || o === null)
    throw new Error(`node ${JSON.stringify(worker)}: not a JSON object`);
  const info = o as Partial<NodeInfo>;
  if (!isCapacity(info.capacity)) {
    throw new Error(
      `node ${JSON.stringify(worker)}: capacity ${JSON.stringify(info.capacity)} is not an integer in 1..1000000 (using 1)`,
    );
  }
  return {
    capacity: info.capacity,
    version: typeof info.version === 'string' ? info.version : '',
    host: typeof info.host === 'string' ? info.host : '',
    pid: typeof info.pid === 'number' ? info.pid : 0,
    startedAt: typeof info.startedAt === 'string' ? info.startedAt : '',
  };
}

/** The value a worker of `capacity` created at `startedMs` publishes. */
export function nodeValue(capacity: number, startedMs: number): string {
  const info: NodeInfo = {
    capacity,
    version: VERSION,
    host: hostname(),
    pid: process.pid,
    startedAt: new Date(startedMs).toISOString(),
  };
  return JSON.stringify(info);
}
