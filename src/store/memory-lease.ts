/**
 * The memory store's leases: ids from a seeded generator, TTLs raised to etcd's minimum, expiry on the
 * injected clock (a timer per lease, and a check on every use, so an overdue lease is gone even before
 * its timer fires), and the keys each lease holds. Revoking a lease deletes its keys in one revision:
 * the store passes that as `deleteKeys`.
 */
import { LeaseNotFoundError, StoreRequestError } from '../errors.js';
import type { Clock, TimerHandle } from '../util/clock.js';
import type { LeaseKeys } from './memory-mvcc.js';
import { compareKeys, normalizeLease } from './memory-rules.js';
import { type LeaseGrant, type LeaseId, type LeaseInfo, NO_LEASE } from './port.js';

/** etcd's largest lease TTL, in seconds. */
const MAX_LEASE_TTL = 9_000_000_000;

interface Lease {
  id: LeaseId;
  ttl: number;
  /** Clock time (ms) at which the lease expires. */
  expiresAt: number;
  keys: Set<string>;
  timer: TimerHandle;
}

export interface MemoryLeasesOptions {
  clock: Clock;
  /** Lease TTLs below this are raised to it (s). */
  minTtl: number;
  /** Uniform in [0, 1): the lease id generator. */
  random: () => number;
  /** Deletes the keys of a revoked or expired lease, in this order, as one revision. */
  deleteKeys(keys: string[]): void;
}

export class MemoryLeases implements LeaseKeys {
  private readonly leases = new Map<LeaseId, Lease>();
  private closed = false;

  constructor(private readonly options: MemoryLeasesOptions) {}

  grant(ttl: number): LeaseGrant {
    if (!Number.isFinite(ttl))
      throw new StoreRequestError(`lease ttl must be a number of seconds, got ${ttl}`);
    if (ttl > MAX_LEASE_TTL) throw new StoreRequestError('etcdserver: too large lease TTL');
    const granted = Math.max(Math.trunc(ttl), this.options.minTtl);
    let id: LeaseId;
    do id = this.nextId();
    while (this.leases.has(id));
    const lease: Lease = { id, ttl: granted, expiresAt: 0, keys: new Set(), timer: { __timer: null } };
    this.leases.set(id, lease);
    this.arm(lease);
    return { id, ttl: granted };
  }

  keepAliveOnce(id: LeaseId): { ttl: number } {
    const lease = this.live(id);
    if (!lease) throw new LeaseNotFoundError(id);
    this.options.clock.clearTimeout(lease.timer);
    this.arm(lease);
    return { ttl: lease.ttl };
  }

  revoke(id: LeaseId): void {
    const lease = this.live(id);
    if (lease) this.drop(lease);
  }

  timeToLive(id: LeaseId, options: { keys?: boolean }): LeaseInfo {
    const lease = this.live(id);
    if (!lease) return { id, ttl: -1, grantedTtl: 0, ...(options.keys ? { keys: [] } : {}) };
    const info: LeaseInfo = {
      id: lease.id,
      ttl: Math.floor((lease.expiresAt - this.options.clock.now()) / 1000),
      grantedTtl: lease.ttl,
    };
    if (options.keys) info.keys = [...lease.keys].sort(compareKeys);
    return info;
  }

  /** Revokes the lease now if it is overdue (a txn does this first, so its compares see the keys gone). */
  revokeIfOverdue(id: LeaseId): void {
    this.live(id);
  }

  /** Whether the lease exists (not revoked; overdue ones were revoked by {@link revokeIfOverdue}). */
  has(id: LeaseId): boolean {
    return this.leases.has(id);
  }

  attach(lease: LeaseId, key: string): void {
    this.leases.get(lease)?.keys.add(key);
  }

  detach(lease: LeaseId, key: string): void {
    this.leases.get(lease)?.keys.delete(key);
  }

  /** Stops every lease timer; leases no longer expire. */
  close(): void {
    this.closed = true;
    for (const lease of this.leases.values()) this.options.clock.clearTimeout(lease.timer);
  }

  private nextId(): LeaseId {
    const hi = BigInt(Math.floor(this.options.random() * 2 ** 31));
    const lo = BigInt(Math.floor(this.options.random() * 2 ** 32));
    const id = (hi << 32n) | lo;
    return id === 0n ? '1' : id.toString(16);
  }

  private arm(lease: Lease): void {
    lease.expiresAt = this.options.clock.now() + lease.ttl * 1000;
    lease.timer = this.options.clock.setTimeout(() => this.expire(lease.id), lease.ttl * 1000);
  }

  /** The lease, unless it is gone or overdue (an overdue one is revoked now). */
  private live(id: LeaseId): Lease | undefined {
    if (id === NO_LEASE) return undefined;
    const lease = this.leases.get(normalizeLease(id));
    if (lease && this.options.clock.now() >= lease.expiresAt) {
      this.drop(lease);
      return undefined;
    }
    return lease;
  }

  private expire(id: LeaseId): void {
    const lease = this.leases.get(id);
    if (lease && !this.closed) this.drop(lease);
  }

  /** Revokes the lease: deletes all its keys in one revision, as etcd does. */
  private drop(lease: Lease): void {
    this.options.clock.clearTimeout(lease.timer);
    this.leases.delete(lease.id);
    this.options.deleteKeys([...lease.keys].sort(compareKeys));
  }
}
