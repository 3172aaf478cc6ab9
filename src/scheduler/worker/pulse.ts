import { onAbort } from '../../util/signals.js';

/**
 * "Something changed": `fire()` wakes every waiter once. A loop waits for the next change with an event
 * instead of polling the store (p-queue's `onIdle()`); a wait detaches from its signal when it ends.
 */
export class Pulse {
  private resolve!: () => void;
  private next = this.arm();

  private arm(): Promise<void> {
    return new Promise<void>((r) => {
      this.resolve = r;
    });
  }

  fire(): void {
    const resolve = this.resolve;
    this.next = this.arm();
    resolve();
  }

  /** Resolves on the next `fire()`, or when `signal` aborts (its listener removed either way). */
  wait(signal?: AbortSignal): Promise<void> {
    const next = this.next;
    return signal ? Promise.race([next, onAbort(signal, next)]) : next;
  }
}
