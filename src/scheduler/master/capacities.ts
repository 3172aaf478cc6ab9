/** The capacities the master plans with: read from `/<root>/node/<worker>` (absent, as for Go workers: 1). */
import { parseNodeInfo } from '../node.js';
import type { MasterContext } from './context.js';

/** Worker name → capacity, for the workers that published one; bad values are reported (capacity 1). */
export async function nodeCapacities(ctx: MasterContext, errors: string[]): Promise<Map<string, number>> {
  const prefix = ctx.k.nodePrefix;
  const res = await ctx.o.store.range(prefix, { prefix: true });
  const out = new Map<string, number>();
  for (const kv of res.kvs) {
    const name = kv.key.slice(prefix.length);
    if (name.length === 0 || name.includes('/')) continue;
    try {
      out.set(name, parseNodeInfo(name, kv.value).capacity);
    } catch (err) {
      errors.push((err as Error).message);
    }
  }
  return out;
}
