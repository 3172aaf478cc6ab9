import {
  type Compare,
  type LeaseId,
  MAX_TXN_OPS,
  type Op,
  type Store,
  type TxnResult,
} from '../../store/port.js';
import type { Logger } from '../../util/logger.js';

/** One claim or release waiting for the batch of its tick. */
interface Pending<T> {
  key: string;
  lease: LeaseId;
  resolve: (done: T) => void;
}

/**
 * Coalesces the claims (and the releases) asked for in the same tick — a watch batch assigns many tasks at
 * once, a drain stops them all at once — into txns of up to MAX_TXN_OPS compares: one round trip and one
 * raft entry instead of one per task. All-or-nothing: when any key of a batch fails its compare (or the
 * txn fails), every runner of the batch falls back to its own txn, which also finds and waits for a holder.
 */
export class ClaimBatcher {
  private claims: Pending<number | undefined>[] = [];
  private releases: Pending<boolean>[] = [];

  constructor(
    private readonly store: Store,
    private readonly worker: string,
    private readonly log: Logger,
  ) {}

  /**
   * The claim's create revision (the run's fencing token) when it was created in a batch; undefined means
   * "claim it alone". Never throws.
   */
  claim(key: string, lease: LeaseId): Promise<number | undefined> {
    return new Promise((resolve) => {
      if (this.claims.length === 0) queueMicrotask(() => this.flush('claim'));
      this.claims.push({ key, lease, resolve });
    });
  }

  /** True when our claim was deleted in a batch; false means "release it alone". Never throws. */
  release(key: string, lease: LeaseId): Promise<boolean> {
    return new Promise((resolve) => {
      if (this.releases.length === 0) queueMicrotask(() => this.flush('release'));
      this.releases.push({ key, lease, resolve });
    });
  }

  private flush(kind: 'claim' | 'release'): void {
    if (kind === 'claim') {
      const queue = this.claims;
      this.claims = [];
      // One txn is one revision: every claim created by it has the txn's revision as create revision.
      this.flushQueue(kind, queue, (res) => (res.succeeded ? res.revision : undefined), undefined);
    } else {
      const queue = this.releases;
      this.releases = [];
      this.flushQueue(kind, queue, (res) => res.succeeded, false);
    }
  }

  private flushQueue<T>(
    kind: 'claim' | 'release',
    queue: Pending<T>[],
    result: (res: TxnResult) => T,
    alone: T,
  ): void {
    // A release compares value and lease: two compares per key.
    const max = kind === 'claim' ? MAX_TXN_OPS : MAX_TXN_OPS / 2;
    while (queue.length > 0) {
      const lease = queue[0].lease;
      const batch: Pending<T>[] = [];
      const keys = new Set<string>();
      for (let i = 0; i < queue.length && batch.length < max; ) {
        const c = queue[i];
        if (c.lease === lease && !keys.has(c.key)) {
          keys.add(c.key);
          batch.push(c);
          queue.splice(i, 1);
        } else i++;
      }
      if (batch.length === 1) {
        batch[0].resolve(alone); // alone: the ordinary txn (a claim reads the holder on failure)
        continue;
      }
      const compare: Compare[] =
        kind === 'claim'
          ? batch.map((c) => ({ key: c.key, target: 'create', op: '=', value: 0 }))
          : batch.flatMap((c): Compare[] => [
              { key: c.key, target: 'value', op: '=', value: this.worker },
              { key: c.key, target: 'lease', op: '=', value: lease },
            ]);
      const success: Op[] = batch.map((c) =>
        kind === 'claim'
          ? { type: 'put', key: c.key, value: this.worker, lease }
          : { type: 'delete', key: c.key },
      );
      this.store.txn({ compare, success }).then(
        (res) => {
          const value = result(res);
          for (const c of batch) c.resolve(value);
        },
        (err: unknown) => {
          this.log.warn({ err, keys: batch.length }, `batched ${kind} failed; one by one`);
          for (const c of batch) c.resolve(alone);
        },
      );
    }
  }
}
