/**
 * A store wrapper for tests of watch-fed views: it counts the reads it forwards (range and get, by key)
 * and can cut the watches it serves without touching the store underneath (`pauseWatches()`: every
 * running raw watch fails with StoreUnavailableError and new ones fail the same way until
 * `resumeWatches()`), so a test can write, compact, and let a view come back to a compacted history — the
 * same on the memory store and on a real etcd.
 */
import { StoreUnavailableError } from '../../src/errors.js';
import type {
  RangeOptions,
  Store,
  TxnRequest,
  WatchBatch,
  WatchOptions,
  WatchStream,
} from '../../src/store/port.js';

export interface GatedStore extends Store {
  /** Every range/get forwarded: the key and whether it was a prefix range. */
  readonly reads: { key: string; prefix: boolean }[];
  /** Keys written by txns (put or delete ops of succeeded or refused txns), in order. */
  readonly txnKeys: string[];
  /** Txns refused (a compare failed). */
  readonly refused: number;
  /** Raw watches started (their start revisions). */
  readonly watchStarts: number[];
  pauseWatches(): void;
  resumeWatches(): void;
}

export function gatedStore(inner: Store): GatedStore {
  const reads: { key: string; prefix: boolean }[] = [];
  const watchStarts: number[] = [];
  const txnKeys: string[] = [];
  let refused = 0;
  let paused = false;
  const breakers = new Set<(err: Error) => void>();

  async function* gatedWatch(key: string, options: WatchOptions = {}): AsyncGenerator<WatchBatch> {
    if (paused) throw new StoreUnavailableError('watch cut by the test (gatedStore)');
    watchStarts.push(options.startRevision ?? 0);
    const inside = new AbortController();
    const onAbort = () => inside.abort();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    let broken: Error | undefined;
    const breaker = (err: Error) => {
      broken = err;
      inside.abort();
    };
    breakers.add(breaker);
    try {
      for await (const batch of inner.watch(key, { ...options, signal: inside.signal })) {
        if (broken) break;
        yield batch;
      }
      if (broken) throw broken;
    } finally {
      breakers.delete(breaker);
      options.signal?.removeEventListener('abort', onAbort);
      inside.abort();
    }
  }

  return new Proxy(inner, {
    get(target, prop, receiver) {
      switch (prop) {
        case 'reads':
          return reads;
        case 'watchStarts':
          return watchStarts;
        case 'txnKeys':
          return txnKeys;
        case 'refused':
          return refused;
        case 'txn':
          return async (request: TxnRequest) => {
            for (const op of request.success) if (op.type !== 'range') txnKeys.push(op.key);
            const res = await target.txn(request);
            if (!res.succeeded) refused++;
            return res;
          };
        case 'pauseWatches':
          return () => {
            paused = true;
            for (const b of [...breakers]) b(new StoreUnavailableError('watch cut by the test (gatedStore)'));
          };
        case 'resumeWatches':
          return () => {
            paused = false;
          };
        case 'range':
          return (key: string, options?: RangeOptions) => {
            reads.push({ key, prefix: options?.prefix === true });
            return target.range(key, options);
          };
        case 'get':
          return (key: string) => {
            reads.push({ key, prefix: false });
            return target.get(key);
          };
        case 'watch':
          return (key: string, options?: WatchOptions): WatchStream => gatedWatch(key, options);
      }
      const v = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  }) as GatedStore;
}
