import type { WatchBatch } from './port.js';

/**
 * A raw watch over the store's log: a cursor (`next` revision) that reads batches when pulled and
 * sleeps until the store commits, the signal aborts, or the watch breaks.
 */
export class MemoryWatch implements AsyncIterableIterator<WatchBatch> {
  private failure?: Error;
  private ended = false;
  private wakeUp?: () => void;
  private readonly onAbort = () => this.end();

  constructor(
    private nextRev: number,
    private readonly read: (from: number) => { batch?: WatchBatch; next: number },
    private readonly unregister: () => void,
    private readonly signal?: AbortSignal,
  ) {
    signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<WatchBatch> {
    return this;
  }

  async next(): Promise<IteratorResult<WatchBatch>> {
    for (;;) {
      await Promise.resolve();
      if (this.failure) {
        const err = this.failure;
        this.failure = undefined;
        this.ended = true;
        throw err;
      }
      if (this.ended) return { value: undefined, done: true };
      let r: { batch?: WatchBatch; next: number };
      try {
        r = this.read(this.nextRev);
      } catch (err) {
        this.end();
        throw err;
      }
      this.nextRev = r.next;
      if (r.batch) return { value: r.batch, done: false };
      await new Promise<void>((resolve) => {
        this.wakeUp = resolve;
      });
    }
  }

  async return(): Promise<IteratorResult<WatchBatch>> {
    this.end();
    return { value: undefined, done: true };
  }

  /** New revisions are there to read. */
  wake(): void {
    const w = this.wakeUp;
    this.wakeUp = undefined;
    w?.();
  }

  /** Ends the watch cleanly (abort, close). */
  end(): void {
    this.ended = true;
    this.signal?.removeEventListener('abort', this.onAbort);
    this.unregister();
    this.wake();
  }

  /** Breaks the watch: the next pull throws `err`. */
  fail(err: Error): void {
    if (this.ended) return;
    this.failure = err;
    this.end();
  }
}
