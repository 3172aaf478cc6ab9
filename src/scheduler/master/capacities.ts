/** The capacities the master plans with: read from `/<root>/node/<worker>` (absent, as for Go workers: 1). */
import type { Store } from '../../store/port.js';
import { parseNodeInfo } from '../node.js';

/** Worker name → capacity, for the workers that published one; bad values are reported (capacity 1). */
export async function nodeCapacities(
  store: Store,
  prefix: string,
  errors: string[],
  revision?: number,
): Promise<Map<string, number>> {
  const res = await store.range(
    prefix,
    revision === undefined ? { prefix: true } : { prefix: true, revision },
  );
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
