/**
 * What the term's last complete schedule planned from, so that a schedule whose inputs did not change
 * skips the planner and the diff: same online workers, the same desired tasks (field by field, in
 * order), and a view (assignment, restart markers, control) that changed only by that schedule's own
 * writes, and no moves left deferred by `maxMoves`. The planner is
 * deterministic and a re-plan of its own output writes nothing, so the skipped plan would have written
 * nothing; any change seen by the view (a foreign write, a listing) makes the next schedule plan again.
 *
 * Kept in flat arrays (references to the generator's strings, a copy of each payload) rather than the
 * tasks themselves, which the application may change in place.
 */
import type { Task } from '../../task.js';
import type { ScheduleReport } from './report.js';

export class PlannedInput {
  private constructor(
    private readonly workers: readonly string[],
    private readonly ids: readonly unknown[],
    private readonly priorities: readonly unknown[],
    private readonly weights: readonly unknown[],
    private readonly keys: readonly unknown[],
    private readonly groups: readonly unknown[],
    private readonly raws: readonly (Uint8Array | undefined)[],
    /** The valid tasks of that schedule, and the messages of the invalid ones (reported again). */
    readonly valid: readonly Task[],
    readonly invalid: readonly string[],
    /** Revisions of that schedule's own txns (changes of the view that are not news). */
    readonly own: ReadonlySet<number>,
    /** Report fields of that schedule a skipped one reports again (tasks, restarting, held). */
    readonly carry: Readonly<Partial<ScheduleReport>>,
  ) {}

  static of(
    desired: readonly Task[],
    workers: readonly string[],
    valid: readonly Task[],
    invalid: readonly string[],
    own: ReadonlySet<number>,
    carry: Readonly<Partial<ScheduleReport>>,
  ): PlannedInput {
    const n = desired.length;
    const ids = new Array<unknown>(n);
    const priorities = new Array<unknown>(n);
    const weights = new Array<unknown>(n);
    const keys = new Array<unknown>(n);
    const groups = new Array<unknown>(n);
    const raws = new Array<Uint8Array | undefined>(n);
    for (let i = 0; i < n; i++) {
      const t = desired[i];
      ids[i] = t?.id;
      priorities[i] = t?.priority;
      weights[i] = t?.weight;
      keys[i] = t?.key;
      groups[i] = t?.group;
      raws[i] = t?.raw instanceof Uint8Array ? t.raw.slice() : undefined;
    }
    return new PlannedInput(
      [...workers].sort(),
      ids,
      priorities,
      weights,
      keys,
      groups,
      raws,
      valid,
      invalid,
      own,
      carry,
    );
  }

  /** True when `desired` and `workers` are what this input was taken from. */
  same(desired: readonly Task[], workers: readonly string[]): boolean {
    if (workers.length !== this.workers.length || desired.length !== this.ids.length) return false;
    const sorted = [...workers].sort();
    for (let i = 0; i < sorted.length; i++) if (sorted[i] !== this.workers[i]) return false;
    for (let i = 0; i < desired.length; i++) {
      const t = desired[i];
      if (t === null || typeof t !== 'object') return false;
      if (t.id !== this.ids[i] || t.key !== this.keys[i] || t.group !== this.groups[i]) return false;
      if (!Object.is(t.priority, this.priorities[i]) || !Object.is(t.weight, this.weights[i])) return false;
      if (!sameBytes(t.raw, this.raws[i])) return false;
    }
    return true;
  }
}

function sameBytes(a: unknown, b: Uint8Array | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  if (!(a instanceof Uint8Array) || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
