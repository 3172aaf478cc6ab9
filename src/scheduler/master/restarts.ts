/**
 * The leader's watch of restart markers (`/<root>/restarting/`): a marker that goes away either came back
 * (the worker registered again within its grace: the registration txn deleted it and created the worker key
 * at the same revision) or expired (its lease ran out: the worker's held tasks must move now). Each end is
 * counted (`restarts{result}`); an expiry asks for a schedule at once — the grace was the wait.
 */
import { PrefixWatcher } from '../../recipes/watcher.js';
import { markerName } from '../restart.js';
import type { MasterContext } from './context.js';

/** How a marker deleted at `revision` ended: `returned` when the worker key was created in the same txn. */
export async function markerEnd(
  ctx: MasterContext,
  name: string,
  revision: number,
): Promise<'returned' | 'expired'> {
  try {
    const res = await ctx.o.store.range(ctx.k.worker(name), { revision });
    return res.kvs[0]?.createRevision === revision ? 'returned' : 'expired';
  } catch {
    // Compacted away (a slow read): the worker key now tells whether it came back.
    const kv = await ctx.o.store.get(ctx.k.worker(name));
    return kv ? 'returned' : 'expired';
  }
}

/** Watches the markers until `signal` aborts; a failure is logged and reported, never ends the term. */
export async function watchRestarts(ctx: MasterContext, signal: AbortSignal): Promise<void> {
  const { o, k, log } = ctx;
  const watcher = new PrefixWatcher(o.store, k.restartingPrefix, { clock: o.clock, signal });
  let known = new Set<string>();
  try {
    for await (const update of watcher) {
      if (update.type !== 'events') {
        const now = new Set<string>();
        for (const kv of update.kvs) {
          const name = markerName(kv.key, k.restartingPrefix);
          if (name !== undefined) now.add(name);
        }
        // After a resync, a marker that vanished unseen may have expired: a schedule settles it either way.
        if (update.type === 'resync' && [...known].some((n) => !now.has(n)))
          ctx.requests.add('restart expired');
        known = now;
        continue;
      }
      for (const e of update.events) {
        const name = markerName(e.kv.key, k.restartingPrefix);
        if (name === undefined) continue;
        if (e.type === 'put') {
          known.add(name);
          log.info({ worker: name }, 'worker restarting: its assignment is held for its grace');
          continue;
        }
        known.delete(name);
        const result = await markerEnd(ctx, name, e.kv.modRevision);
        o.metrics.restarts.inc({ name: o.name, result });
        if (result === 'returned') {
          log.info({ worker: name }, 'restarting worker came back within its grace');
        } else {
          log.warn({ worker: name }, 'restart grace expired: moving the worker’s tasks');
          ctx.requests.add('restart expired');
        }
      }
    }
  } catch (err) {
    if (!signal.aborted) {
      log.error({ err }, 'restart marker watch failed');
      ctx.emit('error', { error: err, context: 'watch restarts' });
    }
  }
}
