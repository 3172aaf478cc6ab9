/**
 * The leader's watch-fed view of the keys it schedules from (an informer, in Kubernetes' terms): one
 * {@link PrefixWatcher} per prefix fills a sink from its snapshot, applies every later event, and replaces
 * the sink's content on a `resync` (history compacted past the watch). A cut connection resumes where it
 * stopped, so a schedule reads the view instead of ranging over the store.
 *
 * The view is never trusted for safety: every write is fenced on the election key and guarded by a compare
 * on each key it touches (`guards.ts`), so a stale view makes a txn fail, and the schedule then calls
 * {@link PrefixView.resync} and plans again.
 *
 * A new prefix the master should read (control state, restart markers, node capacities) is one more
 * `PrefixView` over a sink — a {@link KeyMap} for plain key → value state.
 */
import { PrefixWatcher } from '../../recipes/watcher.js';
import type { KeyValue, Store, WatchEvent } from '../../store/port.js';
import type { Clock } from '../../util/clock.js';
import { linkSignal, onAbort } from '../../util/signals.js';

/** What a {@link PrefixView} keeps up to date. Keys are passed whole (with the prefix). */
export interface ViewSink {
  /** Forget everything: a snapshot or a resync follows with `put`s. */
  clear(): void;
  put(kv: KeyValue): void;
  delete(key: string): void;
}

/** How a {@link PrefixView}'s content last changed, for listeners. */
export type ViewChange =
  | { type: 'snapshot' | 'resync'; revision: number }
  | { type: 'events'; events: readonly WatchEvent[]; revision: number };

export interface PrefixViewOptions {
  clock: Clock;
  /** Ends the view (and its watch) for good. */
  signal: AbortSignal;
  /** Called after every change is applied to the sink. */
  onChange?: (change: ViewChange) => void;
  /** Called when the watch fails for good (a refused request); the view then stops following the store. */
  onError?: (err: unknown) => void;
}

/** One prefix followed by a watch into a sink. */
export class PrefixView<S extends ViewSink = ViewSink> {
  /** Store revision the sink reflects (for this prefix): the listing's, then each applied event's. */
  private rev = 0;
  /** Snapshots and resyncs taken (the first snapshot counts). */
  private lists = 0;
  private readySignal?: () => void;
  private ready: Promise<void>;
  private restartController?: AbortController;
  private waiters: { revision: number; resolve: () => void }[] = [];
  /** Mod revisions of the events applied since `mark()`, and whether the prefix was listed since. */
  private sinceMark = new Set<number>();
  private listedSinceMark = false;
  /** Resolves when the watch loop ended (the signal aborted or the watch failed). */
  readonly done: Promise<void>;

  constructor(
    private readonly store: Store,
    readonly prefix: string,
    readonly sink: S,
    private readonly o: PrefixViewOptions,
  ) {
    this.ready = this.newReady();
    this.done = this.run();
  }

  /** The revision the view reflects. */
  get revision(): number {
    return this.rev;
  }

  /** How many times the whole prefix was listed (snapshot, resyncs after compaction or a stale write). */
  get listings(): number {
    return this.lists;
  }

  /** Resolves once the view holds a snapshot (or a resync) taken after the last `resync()` call. */
  whenReady(): Promise<void> {
    return onAbort(this.o.signal, this.ready);
  }

  /**
   * Resolves once the view reflects `revision` (the revision of a txn that wrote under the prefix), so a
   * plan made after it sees that write; at once when it already does, or when the view ends.
   */
  caughtUp(revision: number): Promise<void> {
    if (this.rev >= revision || this.o.signal.aborted) return Promise.resolve();
    return onAbort(this.o.signal, new Promise<void>((resolve) => this.waiters.push({ revision, resolve })));
  }

  /** Starts recording what changes from now on (see {@link changedSince}). */
  mark(): void {
    this.sinceMark.clear();
    this.listedSinceMark = false;
  }

  /**
   * Whether the content changed since `mark()` other than by the txns committed at `own` revisions (the
   * master's own writes): an event at another revision, or a listing (snapshot, resync).
   */
  changedSince(own: ReadonlySet<number> = new Set()): boolean {
    if (this.listedSinceMark) return true;
    for (const rev of this.sinceMark) if (!own.has(rev)) return true;
    return false;
  }

  /** Lists the prefix again (a new watch from a fresh snapshot); `whenReady()` waits for it. */
  resync(): void {
    if (this.o.signal.aborted) return;
    this.ready = this.newReady();
    this.restartController?.abort(new Error('view resync'));
  }

  private newReady(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.readySignal = resolve;
    });
  }

  private advance(revision: number): void {
    if (revision > this.rev) this.rev = revision;
    if (this.waiters.length === 0) return;
    const still: typeof this.waiters = [];
    for (const w of this.waiters) {
      if (w.revision <= this.rev) w.resolve();
      else still.push(w);
    }
    this.waiters = still;
  }

  private async run(): Promise<void> {
    const signal = this.o.signal;
    try {
      while (!signal.aborted) {
        const restart = new AbortController();
        this.restartController = restart;
        const unlink = linkSignal(restart, signal);
        try {
          const watcher = new PrefixWatcher(this.store, this.prefix, {
            clock: this.o.clock,
            signal: restart.signal,
          });
          for await (const update of watcher) {
            if (update.type === 'events') {
              for (const e of update.events) {
                if (e.type === 'put') this.sink.put(e.kv);
                else this.sink.delete(e.kv.key);
                this.sinceMark.add(e.kv.modRevision);
              }
              // The last event's revision, not the batch's header: a catch-up split over several responses
              // carries the current revision in each header before its last events have arrived.
              this.advance(update.events[update.events.length - 1].kv.modRevision);
              this.o.onChange?.(update);
              continue;
            }
            this.sink.clear();
            for (const kv of update.kvs) this.sink.put(kv);
            this.lists++;
            this.listedSinceMark = true;
            // A resync may be older than what a waiter saw acknowledged: waiters compare with the list's revision.
            this.rev = 0;
            this.advance(update.revision);
            this.readySignal?.();
            this.o.onChange?.({ type: update.type, revision: update.revision });
          }
        } finally {
          unlink();
        }
      }
    } catch (err) {
      if (!signal.aborted) this.o.onError?.(err);
    } finally {
      this.readySignal?.();
      for (const w of this.waiters) w.resolve();
      this.waiters = [];
    }
  }
}

/** A sink for plain state: key relative to the prefix → value and mod revision. */
export class KeyMap implements ViewSink {
  readonly entries = new Map<string, { value: string; mod: number }>();

  constructor(
    readonly prefix: string,
    private readonly keepValues = true,
  ) {}

  clear(): void {
    this.entries.clear();
  }

  put(kv: KeyValue): void {
    this.entries.set(kv.key.slice(this.prefix.length), {
      value: this.keepValues ? kv.value : '',
      mod: kv.modRevision,
    });
  }

  delete(key: string): void {
    this.entries.delete(key.slice(this.prefix.length));
  }
}
