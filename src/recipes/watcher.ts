/**
 * The resilient prefix watcher, and the small "wait until this key is deleted / put" helpers the
 * election, mutex and barrier recipes are built on.
 *
 * A raw store watch never resumes by itself (see `WatchStream`): these helpers do, from the last event
 * they delivered, so nothing is lost or repeated across a disconnect, and they re-list after a compaction.
 */

import { CompactedError, isRetryableError } from '../errors.js';
import type { KeyValue, RangeResult, Store, WatchEvent } from '../store/port.js';
import { type Clock, sleep, systemClock } from '../util/clock.js';
import { abortReason, linkSignal, raceSignal } from '../util/signals.js';

/** Delay before a watch or list is tried again after the store was unavailable. */
export const DEFAULT_RETRY_DELAY = 500;

/** What a {@link PrefixWatcher} yields. */
export type WatchUpdate =
  | {
      /**
       * `snapshot`: the first update, every key under the prefix at `revision`.
       * `resync`: history was compacted past the watcher's position; `kvs` is the whole state again at
       * `revision` and replaces what the consumer knew.
       */
      type: 'snapshot' | 'resync';
      kvs: KeyValue[];
      revision: number;
    }
  | {
      /** Events after the previous update, in order, each exactly once. */
      type: 'events';
      events: WatchEvent[];
      /** Store revision the batch was sent at (≥ every event's mod revision). */
      revision: number;
    };

export interface PrefixWatcherOptions {
  /** Clock for retry delays. @default systemClock */
  clock?: Clock;
  /** Ends the iteration (cleanly, without an error). */
  signal?: AbortSignal;
  /** Delay before retrying after `StoreUnavailableError`. @default 500 (ms) */
  retryDelay?: number;
}

/**
 * Watches every key under `prefix`: first a `snapshot` (a range at revision R), then every later event
 * exactly once and in order (the watch starts at R + 1). When the connection drops it waits `retryDelay`
 * and resumes from the last delivered event's mod revision + 1; when the history it needs was compacted it
 * re-lists, yields a `resync` with the full state and continues from that list's revision + 1. `stop()`
 * or the signal ends the iteration without an error; any other error (a refused request) is thrown.
 *
 * Relies on the store delivering every revision whole within one batch (etcd never splits a revision
 * across watch responses unless asked to fragment).
 */
export class PrefixWatcher implements AsyncIterable<WatchUpdate> {
  private readonly controller = new AbortController();
  private readonly clock: Clock;
  private readonly retryDelay: number;
  private readonly unlink: () => void;

  constructor(
    private readonly store: Store,
    readonly prefix: string,
    options: PrefixWatcherOptions = {},
  ) {
    this.clock = options.clock ?? systemClock;
    this.retryDelay = options.retryDelay ?? DEFAULT_RETRY_DELAY;
    this.unlink = linkSignal(this.controller, options.signal);
  }

  get stopped(): boolean {
    return this.controller.signal.aborted;
  }

  /** Ends every iteration of this watcher; safe to call twice. */
  stop(): void {
    if (!this.controller.signal.aborted) this.controller.abort(new Error('watcher stopped'));
    this.unlink();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<WatchUpdate, void, undefined> {
    const signal = this.controller.signal;
    try {
      const first = await this.list();
      if (!first) return;
      yield { type: 'snapshot', kvs: first.kvs, revision: first.revision };
      let next = first.revision + 1;
      while (!signal.aborted) {
        const inner = new AbortController();
        const unlink = linkSignal(inner, signal);
        try {
          for await (const batch of this.store.watch(this.prefix, {
            prefix: true,
            startRevision: next,
            signal: inner.signal,
          })) {
            // Defensive: never hand out an event twice, whatever the raw watch replays.
            const events = batch.events.filter((e) => e.kv.modRevision >= next);
            if (events.length === 0) continue;
            next = events[events.length - 1].kv.modRevision + 1;
            yield { type: 'events', events, revision: batch.revision };
          }
          // The raw watch only ends by itself on a misbehaving store: pause, then watch again.
          if (!signal.aborted && !(await this.pause())) return;
        } catch (err) {
          if (signal.aborted) return;
          if (err instanceof CompactedError) {
            const again = await this.list();
            if (!again) return;
            next = again.revision + 1;
            yield { type: 'resync', kvs: again.kvs, revision: again.revision };
          } else if (isRetryableError(err)) {
            if (!(await this.pause())) return;
          } else {
            throw err;
          }
        } finally {
          inner.abort();
          unlink();
        }
      }
    } finally {
      // A consumer that breaks out of its loop ends the watcher too.
      this.stop();
    }
  }

  /** Ranges the prefix, retrying while the store is unavailable; `undefined` once stopped. */
  private async list(): Promise<{ kvs: KeyValue[]; revision: number } | undefined> {
    const signal = this.controller.signal;
    while (!signal.aborted) {
      try {
        const res = await raceSignal(this.store.range(this.prefix, { prefix: true }), signal);
        return { kvs: res.kvs, revision: res.revision };
      } catch (err) {
        if (signal.aborted) return undefined;
        if (!isRetryableError(err)) throw err;
        if (!(await this.pause())) return undefined;
      }
    }
    return undefined;
  }

  /** Sleeps `retryDelay`; false when stopped meanwhile. */
  private async pause(): Promise<boolean> {
    try {
      await sleep(this.clock, this.retryDelay, this.controller.signal);
      return true;
    } catch {
      // Only the stop signal rejects this sleep: the caller ends the iteration.
      return false;
    }
  }
}

export interface WaitOptions {
  /** Clock for retry delays. @default systemClock */
  clock?: Clock;
  /** Delay before retrying after `StoreUnavailableError`. @default 500 (ms) */
  retryDelay?: number;
}

/**
 * Resolves when `key` is deleted at or after `fromRevision`, a revision at which the key is known to
 * exist (the watch starts there, inclusive, as Go's `waitDelete` does). Survives disconnects (resumes after
 * the last seen event) and compaction (then a key that is gone, or was re-created after `fromRevision`,
 * counts as deleted). Rejects with the signal's reason when it aborts, or with a non-retryable error.
 */
export async function waitForDelete(
  store: Store,
  key: string,
  fromRevision: number,
  signal?: AbortSignal,
  options: WaitOptions = {},
): Promise<void> {
  await waitForEvent(store, key, fromRevision, 'delete', signal, options);
}

/**
 * Resolves when `key` is put at or after `fromRevision` (Go's `recipe.WaitEvents(key, rev, [PUT])`). After a
 * compaction a key whose mod revision is at least `fromRevision` counts as put.
 */
export async function waitForPut(
  store: Store,
  key: string,
  fromRevision: number,
  signal?: AbortSignal,
  options: WaitOptions = {},
): Promise<void> {
  await waitForEvent(store, key, fromRevision, 'put', signal, options);
}

async function waitForEvent(
  store: Store,
  key: string,
  fromRevision: number,
  type: 'put' | 'delete',
  signal: AbortSignal | undefined,
  options: WaitOptions,
): Promise<void> {
  const clock = options.clock ?? systemClock;
  const retryDelay = options.retryDelay ?? DEFAULT_RETRY_DELAY;
  let next = fromRevision;
  // After a compaction the history is gone: look at the key itself instead.
  let check = false;
  for (;;) {
    if (signal?.aborted) throw abortReason(signal);
    const inner = new AbortController();
    const unlink = linkSignal(inner, signal);
    try {
      if (check) {
        const res = await raceSignal(store.range(key), inner.signal);
        const kv = res.kvs[0];
        const happened =
          type === 'delete'
            ? !kv || kv.createRevision > fromRevision
            : !!kv && kv.modRevision >= fromRevision;
        if (happened) return;
        check = false;
        next = res.revision + 1;
      }
      for await (const batch of store.watch(key, { startRevision: next, signal: inner.signal })) {
        for (const ev of batch.events) {
          if (ev.kv.modRevision < next) continue;
          if (ev.type === type) return;
          next = ev.kv.modRevision + 1;
        }
      }
      // The raw watch only ends by itself on a misbehaving store: pause, then watch again.
      await sleep(clock, retryDelay, signal);
    } catch (err) {
      if (signal?.aborted) throw abortReason(signal);
      if (err instanceof CompactedError) {
        check = true;
      } else if (isRetryableError(err)) {
        await sleep(clock, retryDelay, signal);
      } else {
        throw err;
      }
    } finally {
      inner.abort();
      unlink();
    }
  }
}

/**
 * Go `concurrency`'s `waitDeletes`, plus a watch on the caller's own key: waits until no key under
 * `prefix` (with its trailing slash) has a create revision lower than `ownCreateRevision`, re-ranging after
 * each deletion of the key created just before the caller's. Resolves `true` when the caller's key (created
 * at `ownCreateRevision`) is then the oldest, `false` as soon as the caller's own key is gone (its lease
 * expired or was revoked, or someone deleted it). Retries while the store is unavailable.
 */
export async function waitDeletes(
  store: Store,
  prefix: string,
  ownKey: string,
  ownCreateRevision: number,
  signal: AbortSignal | undefined,
  options: WaitOptions = {},
): Promise<boolean> {
  const clock = options.clock ?? systemClock;
  const retryDelay = options.retryDelay ?? DEFAULT_RETRY_DELAY;
  for (;;) {
    if (signal?.aborted) throw abortReason(signal);
    let res: RangeResult;
    try {
      // Newest two keys created up to our own revision: our key, then the one just before it.
      res = await raceSignal(
        store.range(prefix, {
          prefix: true,
          sortBy: 'create',
          sortOrder: 'descend',
          limit: 2,
          maxCreateRevision: ownCreateRevision,
        }),
        signal,
      );
    } catch (err) {
      if (signal?.aborted || !isRetryableError(err)) throw err;
      await sleep(clock, retryDelay, signal);
      continue;
    }
    const [own, before] = res.kvs;
    if (!own || own.key !== ownKey || own.createRevision !== ownCreateRevision) return false;
    if (!before) return true;
    const inner = new AbortController();
    const unlink = linkSignal(inner, signal);
    try {
      const waits = [
        waitForDelete(store, before.key, res.revision, inner.signal, options).then(() => true),
        waitForDelete(store, ownKey, res.revision, inner.signal, options).then(() => false),
      ];
      if (!(await Promise.race(waits))) return false;
    } finally {
      inner.abort();
      unlink();
    }
  }
}
