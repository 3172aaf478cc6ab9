/**
 * The one push-to-pull stream of the library (after nats.js `QueuedIterator`): producers `push()`
 * items, one reader takes them with `for await`. Serves the worker's `watchTasks()` and both stores'
 * raw watches.
 *
 * - `push(item)` never blocks; once the queue is closed it is a no-op.
 * - `end()`: the reader gets what is queued, then the iteration finishes.
 * - `fail(err)`: the reader gets what is queued, then `err` is thrown (once); the iteration is over.
 * - `stop()` (and the reader's `return()`, which `break` out of `for await` calls): the queued items are
 *   dropped and the iteration finishes at once.
 * - `onClose` runs once, when the iteration is over: the reader has taken the end or the error, or it
 *   returned, or `stop()` was called. A queue closed by `end()`/`fail()` but never read does not run it;
 *   producers that hold resources release them on their own `end`/`fail` path too.
 * - `pull` (optional) is called when the reader finds the queue empty, before it waits: a producer that
 *   reads lazily (the memory store's log cursor) pushes there.
 */
export interface AsyncQueueOptions {
  /** Called when the reader finds the queue empty and open, before it waits; may `push()`, `end()`, `fail()`. */
  pull?: () => void;
}

const DONE: IteratorReturnResult<undefined> = Object.freeze({ value: undefined, done: true });

export class AsyncQueue<T> implements AsyncIterableIterator<T> {
  private readonly items: T[] = [];
  /** No item will be added any more. */
  private ended = false;
  private failure?: { err: unknown };
  /** The iteration is over and `onClose` has run. */
  private done = false;
  private waiters: Array<() => void> = [];

  constructor(
    initial: Iterable<T> = [],
    private readonly onClose: () => void = () => {},
    private readonly options: AsyncQueueOptions = {},
  ) {
    this.items.push(...initial);
  }

  /** Items queued and not yet taken by the reader. */
  get pending(): number {
    return this.items.length;
  }

  /** True while the reader waits for an item (the queue is empty and open). */
  get waiting(): boolean {
    return this.waiters.length > 0;
  }

  /** True once `end()`, `fail()`, `stop()` or `return()` was called: `push()` is a no-op from then on. */
  get closed(): boolean {
    return this.ended;
  }

  push(item: T): void {
    if (this.ended) return;
    this.items.push(item);
    this.wake();
  }

  /** The reader gets what is queued, then the iteration finishes. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.wake();
  }

  /** The reader gets what is queued, then `err` is thrown. No-op once closed. */
  fail(err: unknown): void {
    if (this.ended) return;
    this.ended = true;
    this.failure = { err };
    this.wake();
  }

  /** Drops what is queued and finishes the iteration now; runs `onClose` (once). */
  stop(): void {
    this.ended = true;
    this.items.length = 0;
    this.failure = undefined;
    this.close();
    this.wake();
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return this;
  }

  async next(): Promise<IteratorResult<T>> {
    for (;;) {
      if (this.items.length > 0) return { value: this.items.shift() as T, done: false };
      if (this.done) return DONE;
      if (this.ended) {
        const failure = this.failure;
        this.failure = undefined;
        this.close();
        if (failure) throw failure.err;
        return DONE;
      }
      if (this.options.pull) {
        try {
          this.options.pull();
        } catch (err) {
          this.fail(err);
        }
        if (this.items.length > 0 || this.ended) continue;
      }
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  /** `break` out of `for await`: same as {@link stop}. */
  async return(): Promise<IteratorResult<T>> {
    this.stop();
    return DONE;
  }

  private close(): void {
    if (this.done) return;
    this.done = true;
    this.onClose();
  }

  private wake(): void {
    if (this.waiters.length === 0) return;
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}
