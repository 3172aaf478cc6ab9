/**
 * An unbounded async queue read by one `for await` loop: `push()` never blocks, `end()` lets the reader
 * finish what is queued and stop.
 */
export class AsyncQueue<T> implements AsyncIterable<T> {
  private readonly items: T[] = [];
  private wake?: () => void;
  private ended = false;

  constructor(
    initial: Iterable<T> = [],
    private readonly onClose: () => void = () => {},
  ) {
    this.items.push(...initial);
  }

  push(item: T): void {
    if (this.ended) return;
    this.items.push(item);
    this.wake?.();
  }

  end(): void {
    this.ended = true;
    this.wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    try {
      for (;;) {
        while (this.items.length > 0) yield this.items.shift()!;
        if (this.ended) return;
        await new Promise<void>((resolve) => {
          this.wake = resolve;
        });
        this.wake = undefined;
      }
    } finally {
      this.onClose();
    }
  }
}
