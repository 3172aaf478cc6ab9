/**
 * Both store adapters as test fixtures, so every recipe test runs against the memory store and against a
 * real etcd:
 *
 *     for (const factory of storeFactories()) describe(`mutex on ${factory.name}`, () => { ... });
 *
 * `create()` gives a store on the shared etcd of the run (`sharedEndpoints()`), or a fresh memory store
 * (on the system clock, or on a `ManualClock` you pass). `createIsolated()` gives a store whose connection
 * a test may cut: a memory store (`setUnavailable`) or an etcd member of its own (stopped and restarted by
 * pid) — use it for fault tests and anything that compacts. `ESCHEDULER_TEST_STORES=memory` (or `etcd`)
 * limits a run to one adapter.
 */

import { EtcdStore } from '../../src/store/etcd.js';
import { MemoryStore } from '../../src/store/memory.js';
import type { Store } from '../../src/store/port.js';
import type { Clock } from '../../src/util/clock.js';
import { systemClock } from '../../src/util/clock.js';
import { type EtcdCluster, sharedEndpoints, startEtcd } from './etcd.js';

export type StoreName = 'memory' | 'etcd';

export interface TestStore {
  readonly name: StoreName;
  readonly store: Store;
  /** The clock the store (and so the test's sessions) run on. */
  readonly clock: Clock;
  /** Closes the store (and stops an own etcd member). Safe to call twice. */
  close(): Promise<void>;
}

export interface IsolatedTestStore extends TestStore {
  /** The connection drops: memory `setUnavailable(true)`; etcd: the member is killed (SIGKILL). */
  cut(): Promise<void>;
  /** The store answers again: memory `setUnavailable(false)`; etcd: the member restarts, same data. */
  restore(): Promise<void>;
  /** The own etcd member (etcd only), e.g. to `pause()` it. */
  readonly etcd?: EtcdCluster;
}

export interface StoreFactory {
  readonly name: StoreName;
  /** A store for one test: the shared etcd, or a fresh memory store on `clock` (default system clock). */
  create(options?: { clock?: Clock }): Promise<TestStore>;
  /** A store whose connection the test may cut (etcd: a member of its own, on the system clock). */
  createIsolated(options?: { clock?: Clock; callTimeout?: number }): Promise<IsolatedTestStore>;
}

const memoryFactory: StoreFactory = {
  name: 'memory',
  async create(options = {}) {
    return memoryStore(options.clock ?? systemClock);
  },
  async createIsolated(options = {}) {
    return memoryStore(options.clock ?? systemClock);
  },
};

function memoryStore(clock: Clock): IsolatedTestStore {
  const store = new MemoryStore({ clock });
  return {
    name: 'memory',
    store,
    clock,
    async cut() {
      store.setUnavailable(true);
    },
    async restore() {
      store.setUnavailable(false);
    },
    close: () => store.close(),
  };
}

const etcdFactory: StoreFactory = {
  name: 'etcd',
  async create() {
    const store = new EtcdStore({ hosts: sharedEndpoints() });
    return { name: 'etcd', store, clock: systemClock, close: () => store.close() };
  },
  async createIsolated(options = {}) {
    const etcd = await startEtcd();
    const store = new EtcdStore({ hosts: etcd.endpoints, callTimeout: options.callTimeout });
    const member = etcd.members[0];
    let closed = false;
    return {
      name: 'etcd',
      store,
      clock: systemClock,
      etcd,
      async cut() {
        await member.stop('SIGKILL');
      },
      async restore() {
        member.start();
        await etcd.ready();
      },
      async close() {
        if (closed) return;
        closed = true;
        await store.close();
        await etcd.destroy();
      },
    };
  },
};

/** The adapters to test, both unless `ESCHEDULER_TEST_STORES` names some. */
export function storeFactories(): StoreFactory[] {
  const only = (process.env.ESCHEDULER_TEST_STORES ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const all = [memoryFactory, etcdFactory];
  return only.length === 0 ? all : all.filter((f) => only.includes(f.name));
}

/** The memory store factory alone (for tests that need a `ManualClock`). */
export const memoryStores: StoreFactory = memoryFactory;
/** The etcd factory alone (for tests that need a real process). */
export const etcdStores: StoreFactory = etcdFactory;
