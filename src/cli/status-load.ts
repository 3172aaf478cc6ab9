/** `escheduler status`: each worker's capacity (from `/<root>/node/<name>`), load and fair share. */
import type { Keys } from '../scheduler/keys.js';
import { type NodeInfo, parseNodeInfo } from '../scheduler/node.js';
import type { KeyValue, Store } from '../store/port.js';
import { decodeTask } from '../task.js';

/** The status table's columns but the last (tasks by group); {@link loadCells} gives CAP and LOAD/FAIR. */
export const COLUMNS = ['WORKER', 'STATE', 'LEASE', 'CAP', 'LOAD/FAIR', 'ASSIGNED', 'CLAIMED'];

/** CAP (`-`: it published none), LOAD/FAIR and ASSIGNED (its task count), as table cells. */
export function loadCells(w: WorkerLoad & { assigned: readonly string[] }): string[] {
  return [
    w.capacity === null ? '-' : String(w.capacity),
    `${w.load}/${w.fairShare}`,
    String(w.assigned.length),
  ];
}

/** Task id → weight of every assignment under `taskPrefix` (a value that does not decode counts 1). */
export function taskWeights(kvs: readonly KeyValue[], taskPrefix: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const kv of kvs) {
    const id = kv.key.slice(kv.key.indexOf('/', taskPrefix.length) + 1);
    try {
      out.set(id, decodeTask(kv.value, id).weight ?? 1);
    } catch {
      out.set(id, 1);
    }
  }
  return out;
}

/** The capacity and load part of a worker's status. */
export interface WorkerLoad {
  /** Capacity from `/<root>/node/<name>`; null when the worker published none (a Go worker: planned as 1). */
  capacity: number | null;
  /** Sum of the weights of its assigned tasks (its task count when every weight is 1). */
  load: number;
  /** Its fair share of the total load of the online workers: total · capacity / total capacity. */
  fairShare: number;
  /** What it published in `/<root>/node/<name>`, or null. */
  node: NodeInfo | null;
}

/** Every worker's node value; a bad one is left out (shown as no capacity: the master plans with 1). */
export async function readNodes(store: Store, k: Keys): Promise<Map<string, NodeInfo>> {
  const nodes = await store.range(k.nodePrefix, { prefix: true });
  const out = new Map<string, NodeInfo>();
  for (const kv of nodes.kvs) {
    const name = kv.key.slice(k.nodePrefix.length);
    try {
      out.set(name, parseNodeInfo(name, kv.value));
    } catch {
      // not ours to fix here
    }
  }
  return out;
}

/** A worker's capacity and load (its fair share is set by {@link fillFairShares}). */
export function workerLoad(
  node: NodeInfo | undefined,
  assigned: readonly string[],
  weightOf: ReadonlyMap<string, number>,
): WorkerLoad {
  let load = 0;
  for (const id of assigned) load += weightOf.get(id) ?? 1;
  return { capacity: node?.capacity ?? null, load, fairShare: 0, node: node ?? null };
}

/** Fair shares over the online workers (a worker without a node key counts as capacity 1, as planned). */
export function fillFairShares(workers: WorkerLoad[]): void {
  let total = 0;
  let capacity = 0;
  for (const w of workers) {
    total += w.load;
    capacity += w.capacity ?? 1;
  }
  for (const w of workers) {
    w.fairShare = capacity > 0 ? Math.round(((total * (w.capacity ?? 1)) / capacity) * 100) / 100 : 0;
  }
}

/**
 * Reads the node values and the tasks' weights, and returns each online worker's capacity, load and fair
 * share (over the workers of `workerKvs`).
 */
export async function loadReader(
  store: Store,
  k: Keys,
  taskKvs: readonly KeyValue[],
  workerKvs: readonly KeyValue[],
): Promise<(name: string, assigned: readonly string[]) => WorkerLoad> {
  const nodes = await readNodes(store, k);
  const weights = taskWeights(taskKvs, k.taskPrefix);
  const assignedTo = new Map<string, string[]>();
  for (const kv of taskKvs) {
    const rest = kv.key.slice(k.taskPrefix.length);
    const slash = rest.indexOf('/');
    if (slash <= 0) continue;
    const w = rest.slice(0, slash);
    assignedTo.set(w, [...(assignedTo.get(w) ?? []), rest.slice(slash + 1)]);
  }
  const loads = new Map<string, WorkerLoad>();
  for (const kv of workerKvs) {
    const name = kv.key.slice(k.workerPrefix.length);
    loads.set(name, workerLoad(nodes.get(name), assignedTo.get(name) ?? [], weights));
  }
  fillFairShares([...loads.values()]);
  return (name, assigned) => loads.get(name) ?? workerLoad(nodes.get(name), assigned, weights);
}
