/**
 * The rules etcd v3 applies to every request, as the memory store enforces them: key order (UTF-8
 * bytes), lease id form, empty keys, the txn checks (op count, duplicate keys, request size) and how a
 * compare is decided.
 */
import { StoreRequestError } from '../errors.js';
import {
  type Compare,
  type KeyValue,
  type LeaseId,
  MAX_REQUEST_BYTES,
  MAX_TXN_OPS,
  NO_LEASE,
  type Op,
} from './port.js';

/**
 * Orders keys as etcd does (by UTF-8 bytes), which is code point order: UTF-16 code units compare the
 * same except surrogates, which must sort after U+E000–U+FFFF.
 */
export function compareKeys(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 0xd800 && y >= 0xd800) {
      x += x < 0xe000 ? 0x2000 : -0x800;
      y += y < 0xe000 ? 0x2000 : -0x800;
    }
    return x - y;
  }
  return a.length - b.length;
}

/** Lease ids in canonical form (lowercase hex, no padding); undefined means no lease. */
export function normalizeLease(id: LeaseId | undefined): LeaseId {
  if (id === undefined || id === '') return NO_LEASE;
  if (!/^[0-9a-fA-F]{1,16}$/.test(id)) throw new StoreRequestError(`invalid lease id ${JSON.stringify(id)}`);
  return BigInt(`0x${id}`).toString(16);
}

export function checkKey(key: string, prefix: boolean): void {
  if (key === '' && !prefix) throw new StoreRequestError('etcdserver: key is not provided');
}

/** The checks etcd makes before running a txn: op counts, empty keys, duplicate keys, request size. */
export function checkTxn(compare: Compare[], success: Op[], failure: Op[]): void {
  if (compare.length > MAX_TXN_OPS || success.length > MAX_TXN_OPS || failure.length > MAX_TXN_OPS) {
    throw new StoreRequestError(
      `etcdserver: too many operations in txn request (${Math.max(compare.length, success.length, failure.length)} > ${MAX_TXN_OPS})`,
    );
  }
  let bytes = 0;
  for (const c of compare) {
    checkKey(c.key, false);
    bytes += Buffer.byteLength(c.key) + (c.target === 'value' ? Buffer.byteLength(c.value) : 8);
  }
  for (const ops of [success, failure]) {
    const deletes = ops.filter((op) => op.type === 'delete');
    const puts = new Set<string>();
    for (const op of ops) {
      checkKey(op.key, op.type !== 'put' && op.prefix === true);
      bytes += Buffer.byteLength(op.key) + (op.type === 'put' ? Buffer.byteLength(op.value) : 0);
      if (op.type !== 'put') continue;
      const clash =
        puts.has(op.key) || deletes.some((d) => (d.prefix ? op.key.startsWith(d.key) : op.key === d.key));
      if (clash) {
        throw new StoreRequestError(
          `etcdserver: duplicate key given in txn request (key ${JSON.stringify(op.key)})`,
        );
      }
      puts.add(op.key);
    }
  }
  if (bytes > MAX_REQUEST_BYTES) {
    throw new StoreRequestError(
      `etcdserver: request is too large (about ${bytes} bytes > ${MAX_REQUEST_BYTES})`,
    );
  }
}

/** Whether compare `c` holds on `kv`, the key's current version (undefined: no such key), as etcd decides. */
export function compareHolds(c: Compare, kv: KeyValue | undefined): boolean {
  let order: number;
  switch (c.target) {
    case 'value':
      // etcd: a value compare on a missing key is always false.
      if (!kv) return false;
      order = compareKeys(kv.value, c.value);
      break;
    case 'lease': {
      const have = BigInt(`0x${kv?.lease ?? NO_LEASE}`);
      const want = BigInt(`0x${normalizeLease(c.value)}`);
      order = have < want ? -1 : have > want ? 1 : 0;
      break;
    }
    case 'create':
      order = Math.sign((kv?.createRevision ?? 0) - c.value);
      break;
    case 'mod':
      order = Math.sign((kv?.modRevision ?? 0) - c.value);
      break;
    case 'version':
      order = Math.sign((kv?.version ?? 0) - c.value);
      break;
  }
  switch (c.op) {
    case '=':
      return order === 0;
    case '!=':
      return order !== 0;
    case '<':
      return order < 0;
    case '>':
      return order > 0;
  }
}
