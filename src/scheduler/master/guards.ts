/**
 * Per-key compares that make a write safe whatever the view believed: each op of a schedule's txns
 * carries a compare on the key it writes, taken from the stored assignment the plan was made from —
 * `mod = m` for a key the view held at mod revision m (a delete, a rewrite), `create = 0` for a key the
 * view did not hold (a new assignment). A txn whose keys changed behind the view fails as a whole (its
 * fence compare holds, a guard does not): the schedule then resyncs the view and plans again.
 *
 * The guards of a schedule follow its own txns: after a txn commits at revision R, its puts are expected
 * at mod R and its deletes absent, so a later txn of the same schedule (handoff 'none' puts a key after
 * deleting it) is guarded by what the schedule itself wrote.
 */
import type { Compare } from '../../store/port.js';
import type { StoredAssignment } from './assignment.js';
import type { WriteOp } from './writes.js';

/** Re-plans after a stale view before the schedule gives up (and is retried after `ERROR_RETRY_DELAY`). */
export const MAX_RESYNCS = 3;

/** A guarded txn was refused while the fence held: the view the plan was made from was stale. */
export class StaleViewError extends Error {
  override name = 'StaleViewError';
}

export class WriteGuards {
  /**
   * Key → mod revision expected now, for the keys stored when the plan was made that the schedule deletes
   * or rewrites; a key not here is expected absent (every other key a schedule writes is a new
   * assignment). Moved on by our own txns for a key a later phase writes again (handoff 'none': a delete,
   * then a put). Never larger than those keys: a first assignment of a million new keys holds nothing here.
   */
  private readonly expected = new Map<string, number>();

  /** Captures, at plan time, the stored revision of `keys` (the keys the schedule deletes or rewrites). */
  constructor(stored: Pick<StoredAssignment, 'entry'>, keys: Iterable<string>) {
    for (const key of keys) {
      const mod = stored.entry(key)?.mod;
      if (mod !== undefined) this.expected.set(key, mod);
    }
  }

  /** The compare that must hold for `op` to be written. */
  compare(op: WriteOp): Compare {
    const mod = this.expected.get(op.key);
    return mod === undefined
      ? { key: op.key, target: 'create', op: '=', value: 0 }
      : { key: op.key, target: 'mod', op: '=', value: mod };
  }

  /** Records a txn of ours that committed at `revision`: a key it deleted is absent, one it put is at `revision`. */
  committed(ops: readonly WriteOp[], revision: number): void {
    for (const op of ops) {
      if (op.type === 'delete') this.expected.delete(op.key);
      else if (this.expected.has(op.key)) this.expected.set(op.key, revision);
    }
  }
}
