/**
 * The store conformance suite against `EtcdStore`: on the shared etcd of the run (without the tests that
 * compact, since compaction is store-wide and would break other test files running at the same time),
 * and in full on an etcd of its own.
 */
import { after, before } from 'node:test';
import { EtcdStore } from '../src/store/etcd.js';
import { storeConformance } from './conformance/store.js';
import { type EtcdCluster, sharedEndpoints, startEtcd } from './helpers/etcd.js';

storeConformance(
  'etcd (shared)',
  async () => {
    const store = new EtcdStore({ hosts: sharedEndpoints() });
    return { store, cleanup: () => store.close() };
  },
  { compaction: false },
);

let own: EtcdCluster | undefined;
before(async () => {
  own = await startEtcd();
});
after(() => own?.destroy());

storeConformance('etcd (own member, with compaction)', async () => {
  if (!own) throw new Error('the own etcd did not start');
  const store = new EtcdStore({ hosts: own.endpoints });
  return { store, cleanup: () => store.close() };
});
