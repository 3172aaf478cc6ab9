/**
 * The pure half of a schedule's write: the stored assignment parsed, the plan turned into txn units (ops
 * that must land together) and the units packed into txns etcd accepts. No I/O here.
 */
import type { RebalanceResult } from '../../planner/rebalance.js';
import { MAX_REQUEST_BYTES, MAX_TXN_OPS, type Op } from '../../store/port.js';
import { encodeTask } from '../../task.js';
import type { Keys } from '../keys.js';
import type { StoredAssignment } from './assignment.js';

export { parseAssignment, type StoredAssignment } from './assignment.js';

/** A write of the assignment: a put or a delete of one key. */
export type WriteOp = Extract<Op, { type: 'put' | 'delete' }>;

/** Ops that must be in one txn: a move is "delete on A, put on B" together, so no instant has both or neither. */
export type TxnUnit = readonly WriteOp[];

/** Bytes of keys and values per txn: etcd's 1.5 MiB request limit less room for the envelope. */
export const MAX_BATCH_BYTES = MAX_REQUEST_BYTES - 64 * 1024;

/** The most a txn may hold: op count and bytes of keys and values. */
export interface BatchLimits {
  /** @default MAX_TXN_OPS (128) */
  maxOps: number;
  /** @default MAX_BATCH_BYTES (1.5 MiB less 64 KiB) */
  maxBytes: number;
}

const utf8Length = (s: string) => Buffer.byteLength(s, 'utf8');

/** Bytes an op adds to a txn request: its key, its value, and a little for the framing. */
export const opBytes = (op: WriteOp): number =>
  utf8Length(op.key) + (op.type === 'put' ? utf8Length(op.value) : 0) + 16;

/**
 * The units that take the stored assignment to the plan's target, in the order they must be written:
 * malformed keys deleted, then revocations, then assignments (highest priority first, as the plan lists
 * them; a move's delete travels with its put), then rewrites of tasks that stay but whose value changed.
 * A move is paired only when the task leaves a live (`online`) worker: a dead worker's key goes on its own.
 */
export function planUnits(
  plan: Pick<RebalanceResult, 'assign' | 'revoke' | 'target'>,
  stored: StoredAssignment,
  k: Pick<Keys, 'task'>,
  online: ReadonlySet<string>,
): TxnUnit[] {
  const assigned = new Set<string>();
  for (const a of plan.assign) assigned.add(a.task.id);
  const revokedFrom = new Map<string, string>(); // id -> live worker it leaves, for moves
  const units: TxnUnit[] = [];
  for (const key of stored.malformed.keys()) units.push([{ type: 'delete', key }]);
  for (const r of plan.revoke) {
    if (assigned.has(r.id) && online.has(r.worker) && !revokedFrom.has(r.id)) revokedFrom.set(r.id, r.worker);
    else units.push([{ type: 'delete', key: k.task(r.worker, r.id) }]);
  }
  for (const a of plan.assign) {
    const from = revokedFrom.get(a.task.id);
    const put: WriteOp = { type: 'put', key: k.task(a.worker, a.task.id), value: encodeTask(a.task) };
    units.push(from === undefined ? [put] : [{ type: 'delete', key: k.task(from, a.task.id) }, put]);
  }
  for (const [worker, list] of plan.target) {
    const held = stored.held(worker);
    if (!held) continue;
    for (const task of list) {
      const old = held.get(task.id)?.value;
      if (old === undefined) continue;
      const value = encodeTask(task);
      if (old !== value) units.push([{ type: 'put', key: k.task(worker, task.id), value }]);
    }
  }
  return units;
}

/**
 * Splits the units into phases written one after the other. With handoff `'claim'` there is one phase.
 * With `'none'` (fleets mixed with the Go original), a value rewritten in place — a put on a key that is
 * stored now — becomes a delete in the first phase and the put in a second one, so a Go worker sees `del`
 * then `add` instead of a second `add` for a task it runs. The phases need separate txns: etcd refuses a
 * key twice in one txn, and {@link batchUnits} writes a key once.
 */
export function writePhases(
  units: readonly TxnUnit[],
  stored: Pick<StoredAssignment, 'entry'>,
  handoff: 'claim' | 'none',
): TxnUnit[][] {
  if (handoff === 'claim') return [[...units]];
  const first: TxnUnit[] = [];
  const second: TxnUnit[] = [];
  for (const unit of units) {
    const op = unit[0];
    if (unit.length === 1 && op.type === 'put' && stored.entry(op.key) !== undefined) {
      first.push([{ type: 'delete', key: op.key }]);
      second.push(unit);
    } else first.push(unit);
  }
  return second.length > 0 ? [first, second] : [first];
}

/**
 * Packs units, in order, into txns of at most `maxOps` ops and `maxBytes` bytes; a unit is never split.
 * A key is written once: an op on a key an earlier op wrote is dropped (etcd refuses a txn that puts a key
 * twice or puts and deletes it). A unit larger than the limits on its own gets a txn of its own.
 */
export function batchUnits(
  units: Iterable<TxnUnit>,
  limits: BatchLimits = { maxOps: MAX_TXN_OPS, maxBytes: MAX_BATCH_BYTES },
): WriteOp[][] {
  const used = new Set<string>();
  const batches: WriteOp[][] = [];
  let batch: WriteOp[] = [];
  let bytes = 0;
  for (const unit of units) {
    const ops = unit.filter((op) => {
      if (used.has(op.key)) return false;
      used.add(op.key);
      return true;
    });
    if (ops.length === 0) continue;
    const size = ops.reduce((n, op) => n + opBytes(op), 0);
    if (batch.length > 0 && (batch.length + ops.length > limits.maxOps || bytes + size > limits.maxBytes)) {
      batches.push(batch);
      batch = [];
      bytes = 0;
    }
    batch.push(...ops);
    bytes += size;
  }
  if (batch.length > 0) batches.push(batch);
  return batches;
}
