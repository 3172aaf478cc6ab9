/**
 * Translation between the store port's shapes and etcd3's raw rpc messages: keys as bytes, prefix range
 * ends, lease ids (port: lowercase hex; etcd3: decimal string), range requests, compares and txn ops on
 * the way out; key-values and txn responses on the way back. Pure functions, no client.
 */
import type { ICompare, IKeyValue, IRangeRequest, IRangeResponse, IRequestOp, IResponseOp } from 'etcd3';
import { StoreRequestError } from '../errors.js';
import {
  type Compare,
  type KeyValue,
  type LeaseId,
  NO_LEASE,
  type Op,
  type OpResult,
  type RangeOptions,
} from './port.js';

const COMPARE_RESULT = { '=': 'Equal', '!=': 'NotEqual', '<': 'Less', '>': 'Greater' } as const;
const SORT_TARGET = { key: 'Key', create: 'Create', mod: 'Mod' } as const;
const SORT_ORDER = { ascend: 'Ascend', descend: 'Descend' } as const;

/** Port lease id (lowercase hex) → etcd3 lease id (decimal string). */
export function leaseIdToDecimal(id: LeaseId): string {
  if (typeof id !== 'string' || !/^[0-9a-f]{1,16}$/.test(id)) {
    throw new StoreRequestError(`invalid lease id ${JSON.stringify(id)}: expected lowercase hex`);
  }
  return BigInt(`0x${id}`).toString(10);
}

/** etcd3 lease id (decimal string) → port lease id (lowercase hex, `'0'` for none). */
export function leaseIdFromDecimal(id: string | number): LeaseId {
  if (id === '0' || id === 0) return '0'; // most keys: no BigInt per key of a large listing or watch
  return BigInt(id).toString(16);
}

export function bytes(s: string): Buffer {
  return Buffer.from(s, 'utf8');
}

/** Range end of a prefix, as bytes (`prefixEnd` returns one char per byte). */
export function rangeEnd(prefix: string): Buffer {
  return Buffer.from(prefixEnd(prefix), 'latin1');
}

/** The lease field of a put: absent for no lease. */
export function leaseField(lease: LeaseId | undefined): string | undefined {
  return lease && lease !== NO_LEASE ? leaseIdToDecimal(lease) : undefined;
}

export function rangeRequest(key: string, options: RangeOptions): IRangeRequest {
  return {
    key: bytes(key),
    range_end: options.prefix ? rangeEnd(key) : undefined,
    limit: options.limit ?? 0,
    revision: options.revision ?? 0,
    sort_target: SORT_TARGET[options.sortBy ?? 'key'],
    sort_order: SORT_ORDER[options.sortOrder ?? 'ascend'],
    keys_only: options.keysOnly === true,
    count_only: options.countOnly === true,
    max_create_revision: options.maxCreateRevision ?? 0,
  };
}

/** A compare as etcd3's message (no spread: a txn of a schedule carries 128 of them). */
export function toCompare(c: Compare): ICompare {
  const key = bytes(c.key);
  const result = COMPARE_RESULT[c.op];
  switch (c.target) {
    case 'create':
      return { key, result, target: 'Create', create_revision: c.value };
    case 'mod':
      return { key, result, target: 'Mod', mod_revision: c.value };
    case 'version':
      return { key, result, target: 'Version', version: c.value };
    case 'value':
      return { key, result, target: 'Value', value: bytes(c.value) };
    case 'lease':
      return { key, result, target: 'Lease', lease: c.value === NO_LEASE ? 0 : leaseIdToDecimal(c.value) };
  }
}

export function toRequestOp(op: Op): IRequestOp {
  switch (op.type) {
    case 'put':
      return {
        request_put: {
          key: bytes(op.key),
          value: bytes(op.value),
          lease: leaseField(op.lease),
          prev_kv: op.prevKv === true,
        },
      };
    case 'delete':
      return {
        request_delete_range: {
          key: bytes(op.key),
          range_end: op.prefix ? rangeEnd(op.key) : undefined,
          prev_kv: op.prevKv === true,
        },
      };
    case 'range':
      return { request_range: rangeRequest(op.key, op) };
  }
}

export function toKeyValue(kv: IKeyValue): KeyValue {
  return {
    key: kv.key.toString('utf8'),
    value: kv.value ? kv.value.toString('utf8') : '',
    createRevision: Number(kv.create_revision),
    modRevision: Number(kv.mod_revision),
    version: Number(kv.version),
    lease: leaseIdFromDecimal(kv.lease || '0'),
  };
}

export function rangeResult(res: IRangeResponse): { kvs: KeyValue[]; count: number; more: boolean } {
  return { kvs: res.kvs.map(toKeyValue), count: Number(res.count), more: res.more };
}

/** One response of a txn; `op` is the request op it answers (for `prevKv` on deletes). */
export function toOpResult(op: Op | undefined, r: IResponseOp): OpResult {
  if (r.response_put) {
    const result: OpResult = { type: 'put' };
    if (r.response_put.prev_kv) result.prevKv = toKeyValue(r.response_put.prev_kv);
    return result;
  }
  if (r.response_delete_range) {
    const d = r.response_delete_range;
    const result: OpResult = { type: 'delete', deleted: Number(d.deleted) };
    if (op?.type === 'delete' && op.prevKv) result.prevKvs = d.prev_kvs.map(toKeyValue);
    return result;
  }
  if (r.response_range) return { type: 'range', ...rangeResult(r.response_range) };
  throw new StoreRequestError(`etcd txn: unexpected response op ${JSON.stringify(Object.keys(r))}`);
}

/** Prefix end for an etcd range: the smallest key greater than every key with this prefix. */
function prefixEnd(prefix: string): string {
  const b = Buffer.from(prefix, 'utf8');
  for (let i = b.length - 1; i >= 0; i--) {
    if (b[i] < 0xff) {
      const out = b.subarray(0, i + 1);
      out[i]++;
      return out.toString('latin1');
    }
  }
  return '\0';
}
