/**
 * What happened under a prefix since a revision, read back from the store's history (a watch from that
 * revision up to a sentinel written now), so a test can show that something never happened in a window —
 * "no task was put under task/w1/ after the cordon" — without sleeping.
 */
import type { Store, WatchEvent } from '../../src/store/port.js';
import { within } from './async.js';

/**
 * Every event under `prefix` from `fromRevision` (inclusive) until now; `root` is the fleet's key root
 * (`/x`): the watch covers it and a scratch key `<root>/test-sentinel` marks "now".
 */
export async function eventsSince(
  store: Store,
  root: string,
  prefix: string,
  fromRevision: number,
): Promise<WatchEvent[]> {
  const sentinel = `${root}/test-sentinel`;
  const { revision } = await store.put(sentinel, String(Date.now()));
  const controller = new AbortController();
  const events: WatchEvent[] = [];
  const read = (async () => {
    for await (const batch of store.watch(`${root}/`, {
      prefix: true,
      startRevision: fromRevision,
      signal: controller.signal,
    })) {
      for (const e of batch.events) if (e.kv.key.startsWith(prefix)) events.push(e);
      if (batch.revision >= revision && batch.events.some((e) => e.kv.modRevision >= revision)) break;
    }
  })();
  try {
    await within(read, 10_000, `history of ${prefix} since revision ${fromRevision}`);
  } finally {
    controller.abort();
  }
  return events;
}
