/**
 * The views one term of leadership keeps (see `view.ts`): the online workers, the stored assignment and
 * the restart markers and the operators' control state. Further state the master plans from (control, restart markers, node capacities) is one more field
 * built with `watch(prefix, sink)` here; `whenReady()`, `resync()` and `done` then cover it too.
 */
import type { Store } from '../../store/port.js';
import type { Clock } from '../../util/clock.js';
import type { Keys } from '../keys.js';
import { AssignmentMap } from './assignment.js';
import { KeyMap, PrefixView, type ViewChange, type ViewSink } from './view.js';

export interface MasterViewOptions {
  store: Store;
  k: Keys;
  clock: Clock;
  /** Ends every watch of the view (the term's signal). */
  signal: AbortSignal;
  /** Worker keys changed (after the first snapshot). */
  onWorkers?: (change: ViewChange) => void;
  /** A watch failed for good: the view no longer follows the store (the term should end). */
  onError: (err: unknown, prefix: string) => void;
}

export class MasterView {
  /** `worker/<name>` keys (values not kept). */
  readonly workers: PrefixView<KeyMap>;
  /** `task/<worker>/<id>` keys. */
  readonly tasks: PrefixView<AssignmentMap>;
  /** `restarting/<name>` markers (values not kept): workers whose assignment is held for their grace. */
  readonly restarting: PrefixView<KeyMap>;
  /** `control/…` keys (issue 13): cordons, drains, pins, pause. */
  readonly control: PrefixView<KeyMap>;
  private readonly all: PrefixView[] = [];

  constructor(private readonly o: MasterViewOptions) {
    this.workers = this.watch(o.k.workerPrefix, new KeyMap(o.k.workerPrefix, false), o.onWorkers);
    this.tasks = this.watch(o.k.taskPrefix, new AssignmentMap(o.k));
    this.restarting = this.watch(o.k.restartingPrefix, new KeyMap(o.k.restartingPrefix, false));
    this.control = this.watch(o.k.controlPrefix, new KeyMap(o.k.controlPrefix));
  }

  /** Starts recording changes on every prefix (see {@link changedSince}). */
  mark(): void {
    for (const v of this.all) v.mark();
  }

  /** Whether any prefix changed since `mark()`, other than the assignment by txns at `own` revisions. */
  changedSince(own: ReadonlySet<number>): boolean {
    return this.all.some((v) => v.changedSince(v === this.tasks ? own : undefined));
  }

  /** Resolves when every prefix holds its snapshot (or the view ended). */
  async whenReady(): Promise<void> {
    await Promise.all(this.all.map((v) => v.whenReady()));
  }

  /** Resolves when every watch loop ended. */
  get done(): Promise<void> {
    return Promise.all(this.all.map((v) => v.done)).then(() => undefined);
  }

  /** Lists every prefix again (after a write refused because the view was stale). */
  resync(): void {
    for (const v of this.all) v.resync();
  }

  /** Times a prefix was listed in full, over all prefixes (snapshots, compactions, stale writes). */
  get listings(): number {
    return this.all.reduce((n, v) => n + v.listings, 0);
  }

  private watch<S extends ViewSink>(
    prefix: string,
    sink: S,
    onChange?: (change: ViewChange) => void,
  ): PrefixView<S> {
    const view = new PrefixView(this.o.store, prefix, sink, {
      clock: this.o.clock,
      signal: this.o.signal,
      onChange,
      onError: (err) => this.o.onError(err, prefix),
    });
    this.all.push(view);
    return view;
  }
}
