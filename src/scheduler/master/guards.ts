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
import type { TxnUnit, WriteOp } from './writes.js';

/** Re-plans after a stale view before the schedule gives up (and is retried after `ERROR_RETRY_DELAY`). */
export const MAX_RESYNCS = 3;

/** A guarded txn was refused while the fence held: the view the plan was made from was stale. */
export class StaleViewError extends Error {
  override name = 'StaleViewError';
}

export class WriteGuards {
  /**
   * Key → mod revision expected now; a key not here is expected absent. Taken at plan time for the keys
   * the view held (a first assignment of new keys stores nothing), then moved on by our txns for the keys
   * a later phase writes again (handoff 'none': a delete, then a put).
   */
  private readonly expected = new Map<string, number | undefined>();
  private readonly again = new Set<string>();

  /** Captures, at plan time, the stored revision of every key `phases` write. */
  constructor(stored: Pick<StoredAssignment, 'entry'>, phases: readonly (readonly TxnUnit[])[]) {
    const phaseOf = new Map<string, number>();
    phases.forEach((units, p) => {
      for (const unit of units) {
        for (const op of unit) {
          const seen = phaseOf.get(op.key);
          if (seen !== undefined && seen !== p) this.again.add(op.key);
          if (seen !== undefined) continue;
          phaseOf.set(op.key, p);
          const mod = stored.entry(op.key)?.mod;
          if (mod !== undefined) this.expected.set(op.key, mod);
        }
      }
    });
  }

  /** The compare that must hold for `op` to be written. */
  compare(op: WriteOp): Compare {
    const mod = this.expected.get(op.key);
    return mod === undefined
      ? { key: op.key, target: 'create', op: '=', value: 0 }
      : { key: op.key, target: 'mod', op: '=', value: mod };
  }

  /** Records a txn of ours that committed at `revision`. */
  committed(ops: readonly WriteOp[], revision: number): void {
    for (const op of ops) {
      if (!this.again.has(op.key)) continue;
      if (op.type === 'put') this.expected.set(op.key, revision);
      else this.expected.delete(op.key);
    }
  }
}
