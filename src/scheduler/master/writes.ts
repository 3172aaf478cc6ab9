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
 * The units that take the stored assignment to a plan's target, in the order they must be written:
 * malformed keys deleted, then revocations, then assignments (highest priority first, as the plan lists
 * them; a move's delete travels with its put), then rewrites of tasks that stay but whose value changed.
 * A move is paired only when the task leaves a live (`online`) worker: a dead worker's key goes on its own.
 *
 * Every key is written once (the plan holds each id once per worker, and an assignment goes to a worker
 * that does not hold the task). The deletes and rewrites — keys stored when planned — are made here, at
 * plan time; the assignments' puts, one per new key (a million on a first assignment), are made as the
 * units are iterated, so a schedule holds the ops of the txns in flight, not those of the whole plan.
 */
export class PlannedWrites implements Iterable<TxnUnit> {
  private readonly head: TxnUnit[] = [];
  private readonly rewrites: TxnUnit[] = [];
  /** Task id → the live worker it leaves (a move: its delete travels with its put). */
  private readonly movedFrom = new Map<string, string>();

  constructor(
    private readonly plan: Pick<RebalanceResult, 'assign' | 'revoke' | 'target'>,
    stored: StoredAssignment,
    private readonly k: Pick<Keys, 'task'>,
    online: ReadonlySet<string>,
  ) {
    const fromLive = new Map<string, string>(); // id -> first live worker it is revoked from
    for (const r of plan.revoke) {
      if (online.has(r.worker) && !fromLive.has(r.id)) fromLive.set(r.id, r.worker);
    }
    if (fromLive.size > 0) {
      for (const a of plan.assign) {
        const from = fromLive.get(a.task.id);
        if (from !== undefined) this.movedFrom.set(a.task.id, from);
      }
    }
    for (const key of stored.malformed.keys()) this.head.push([{ type: 'delete', key }]);
    for (const r of plan.revoke) {
      if (this.movedFrom.get(r.id) !== r.worker)
        this.head.push([{ type: 'delete', key: k.task(r.worker, r.id) }]);
    }
    for (const [worker, list] of plan.target) {
      const held = stored.held(worker);
      if (!held) continue;
      for (const task of list) {
        const old = held.get(task.id)?.value;
        if (old === undefined) continue;
        const value = encodeTask(task);
        if (old !== value) this.rewrites.push([{ type: 'put', key: k.task(worker, task.id), value }]);
      }
    }
  }

  *[Symbol.iterator](): Iterator<TxnUnit> {
    yield* this.head;
    for (const a of this.plan.assign) {
      const from = this.movedFrom.size > 0 ? this.movedFrom.get(a.task.id) : undefined;
      const put: WriteOp = { type: 'put', key: this.k.task(a.worker, a.task.id), value: encodeTask(a.task) };
      yield from === undefined ? [put] : [{ type: 'delete', key: this.k.task(from, a.task.id) }, put];
    }
    yield* this.rewrites;
  }

  /** The keys these units delete or rewrite: stored when planned, each guarded on its stored revision. */
  *storedKeys(): IterableIterator<string> {
    for (const unit of this.head) yield unit[0].key;
    for (const [id, from] of this.movedFrom) yield this.k.task(from, id);
    for (const unit of this.rewrites) yield unit[0].key;
  }
}

/** The units that take `stored` to the plan's target (see {@link PlannedWrites}). */
export function planUnits(
  plan: Pick<RebalanceResult, 'assign' | 'revoke' | 'target'>,
  stored: StoredAssignment,
  k: Pick<Keys, 'task'>,
  online: ReadonlySet<string>,
): PlannedWrites {
  return new PlannedWrites(plan, stored, k, online);
}

/**
 * Splits the units into phases written one after the other. With handoff `'claim'` there is one phase.
 * With `'none'` (fleets mixed with the Go original), a value rewritten in place — a put on a key that is
 * stored now — becomes a delete in the first phase and the put in a second one, so a Go worker sees `del`
 * then `add` instead of a second `add` for a task it runs. The phases need separate txns: etcd refuses a
 * key twice in one txn. Lazy: the second phase is what iterating the first set aside, so the phases must
 * be iterated in order (a guard on every key catches a view that changed meanwhile).
 */
export function writePhases(
  units: Iterable<TxnUnit>,
  stored: Pick<StoredAssignment, 'entry'>,
  handoff: 'claim' | 'none',
): Iterable<TxnUnit>[] {
  if (handoff === 'claim') return [units];
  const second: TxnUnit[] = [];
  function* first(): Generator<TxnUnit> {
    for (const unit of units) {
      const op = unit[0];
      if (unit.length === 1 && op.type === 'put' && stored.entry(op.key) !== undefined) {
        yield [{ type: 'delete', key: op.key }];
        second.push(unit);
      } else yield unit;
    }
  }
  return [first(), second];
}

/**
 * Packs units, in order, into txns of at most `maxOps` ops and `maxBytes` bytes; a unit is never split,
 * and a unit larger than the limits on its own gets a txn of its own. Lazy: a txn is packed when the one
 * before it was taken. The units must write each key once (etcd refuses a txn that writes a key twice).
 */
export function* batchUnits(
  units: Iterable<TxnUnit>,
  limits: BatchLimits = { maxOps: MAX_TXN_OPS, maxBytes: MAX_BATCH_BYTES },
): Generator<WriteOp[]> {
  let batch: WriteOp[] = [];
  let bytes = 0;
  for (const ops of units) {
    if (ops.length === 0) continue;
    let size = 0;
    for (const op of ops) size += opBytes(op);
    if (batch.length > 0 && (batch.length + ops.length > limits.maxOps || bytes + size > limits.maxBytes)) {
      yield batch;
      batch = [];
      bytes = 0;
    }
    for (const op of ops) batch.push(op);
    bytes += size;
  }
  if (batch.length > 0) yield batch;
}
