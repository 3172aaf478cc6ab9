/**
 * Leases on etcd's `Lease` service: grant, one keep-alive round trip, revoke and time-to-live, each one
 * guarded call (see `etcd-call.ts`). Keeping a lease alive over time is the session's job, not the store's.
 */
import type { LeaseClient } from 'etcd3';
import { LeaseNotFoundError, StoreRequestError, StoreUnavailableError } from '../errors.js';
import type { EtcdCall } from './etcd-call.js';
import { leaseIdFromDecimal, leaseIdToDecimal } from './etcd-codec.js';
import type { LeaseGrant, LeaseId, LeaseInfo } from './port.js';

export class EtcdLeases {
  constructor(
    private readonly client: LeaseClient,
    private readonly call: EtcdCall,
  ) {}

  async grant(ttl: number): Promise<LeaseGrant> {
    const res = await this.call({ operation: 'grantLease', key: '' }, () =>
      this.client.leaseGrant({ TTL: ttl, ID: 0 }),
    );
    if (res.error) throw new StoreRequestError(`etcd grantLease ttl ${ttl}: ${res.error}`);
    return { id: leaseIdFromDecimal(res.ID), ttl: Number(res.TTL) };
  }

  /** One keep-alive round trip on a short-lived `LeaseKeepAlive` stream (as Go's `KeepAliveOnce`). */
  async keepAliveOnce(id: LeaseId): Promise<{ ttl: number }> {
    const ID = leaseIdToDecimal(id);
    const ttl = await this.call({ operation: 'keepAliveOnce', key: '', lease: id }, async (signal) => {
      const stream = await this.client.leaseKeepAlive();
      const close = () => {
        stream.end();
        stream.cancel();
      };
      if (signal.aborted) {
        close(); // the deadline passed while connecting; the call has failed already
        throw new StoreUnavailableError(`keep-alive stream for lease ${id} opened after the deadline`);
      }
      signal.addEventListener('abort', close, { once: true });
      try {
        const res = await new Promise<{ TTL: string }>((resolve, reject) => {
          stream.on('data', resolve);
          stream.on('error', reject);
          stream.on('end', () =>
            reject(new StoreUnavailableError(`keep-alive stream for lease ${id} ended`)),
          );
          stream.write({ ID });
        });
        return Number(res.TTL);
      } finally {
        signal.removeEventListener('abort', close);
        close();
      }
    });
    if (ttl <= 0) throw new LeaseNotFoundError(id);
    return { ttl };
  }

  async revoke(id: LeaseId): Promise<void> {
    const ID = leaseIdToDecimal(id);
    try {
      await this.call({ operation: 'revokeLease', key: '', lease: id }, () =>
        this.client.leaseRevoke({ ID }),
      );
    } catch (err) {
      if (!(err instanceof LeaseNotFoundError)) throw err;
      // Revoking a lease that is already gone is not an error (port contract): nothing to do.
    }
  }

  async timeToLive(id: LeaseId, options: { keys?: boolean } = {}): Promise<LeaseInfo> {
    const ID = leaseIdToDecimal(id);
    const res = await this.call({ operation: 'leaseTimeToLive', key: '', lease: id }, () =>
      this.client.leaseTimeToLive({ ID, keys: options.keys === true }),
    );
    const ttl = Number(res.TTL);
    const info: LeaseInfo = { id, ttl: ttl < 0 ? -1 : ttl, grantedTtl: Number(res.grantedTTL) };
    if (options.keys) info.keys = (res.keys ?? []).map((k) => k.toString('utf8'));
    return info;
  }
}
