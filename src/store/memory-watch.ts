import { AsyncQueue } from '../util/queue.js';
import type { WatchBatch } from './port.js';

/**
 * A raw watch over the store's log: a cursor (`next` revision) that reads a batch when the reader pulls
 * on an empty queue, or when the store commits while the reader waits. Reading lazily keeps etcd's
 * shape: a slow reader gets the revisions committed meanwhile as one batch (or `CompactedError` once its
 * cursor was compacted away). The push-to-pull part is the shared {@link AsyncQueue}.
 */
export class MemoryWatch implements AsyncIterableIterator<WatchBatch> {
  private readonly queue: AsyncQueue<WatchBatch>;
  private detached = false;
  private readonly onAbort = () => this.end();

  constructor(
    private nextRev: number,
    private readonly read: (from: number) => { batch?: WatchBatch; next: number },
    private readonly unregister: () => void,
    private readonly signal?: AbortSignal,
  ) {
    this.queue = new AsyncQueue<WatchBatch>([], () => this.detach(), { pull: () => this.pull() });
    signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<WatchBatch> {
    return this;
  }

  next(): Promise<IteratorResult<WatchBatch>> {
    return this.queue.next();
  }

  return(): Promise<IteratorResult<WatchBatch>> {
    return this.queue.return();
  }

  /** New revisions are there to read: read them now if the reader waits, else on its next pull. */
  wake(): void {
    if (this.queue.waiting) this.pull();
  }

  /** Ends the watch cleanly (abort, close): the reader finishes without the revisions not yet read. */
  end(): void {
    this.queue.stop();
    this.detach();
  }

  /** Breaks the watch: the reader gets the batch already read, if any, then `err`. */
  fail(err: Error): void {
    this.queue.fail(err);
    this.detach();
  }

  /** Reads the next batch from the log into the queue; a read that throws (compacted) fails the watch. */
  private pull(): void {
    if (this.queue.closed) return;
    let r: { batch?: WatchBatch; next: number };
    try {
      r = this.read(this.nextRev);
    } catch (err) {
      this.fail(err as Error);
      return;
    }
    this.nextRev = r.next;
    if (r.batch) this.queue.push(r.batch);
  }

  private detach(): void {
    if (this.detached) return;
    this.detached = true;
    this.signal?.removeEventListener('abort', this.onAbort);
    this.unregister();
  }
}
