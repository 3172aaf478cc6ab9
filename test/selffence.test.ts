/**
 * Self-fencing (issue 4, must-show 4): a worker whose etcd connection is cut stops all its runs before
 * its lease can expire, then re-registers and resumes when the store is back. The order of those events
 * is shown deterministically on the memory store and a ManualClock (the worker cut off through its own
 * `FaultyStore`, the lease expiring on the store's clock), and on a real etcd whose member is paused.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { EtcdStore } from '../src/store/etcd.js';
import { MemoryStore } from '../src/store/memory.js';
import { ManualClock } from '../src/util/clock.js';
import { waitFor, within } from './helpers/async.js';
import { type EtcdCluster, startEtcd } from './helpers/etcd.js';
import { Fleet } from './helpers/fleet.js';
import { FaultyStore } from './helpers/sim.js';
import { storeFactories } from './helpers/stores.js';

// Registered only when the memory store is in the run (`ESCHEDULER_TEST_STORES`): a ManualClock needs it.
if (storeFactories().some((f) => f.name === 'memory')) {
  describe('self-fencing on the memory store and a ManualClock', () => {
    it('cut off: fenced, every run stopped, and only then the lease expires; back: resumes', async () => {
      const ttl = 3;
      const clock = new ManualClock();
      const mem = new MemoryStore({ clock, seed: 5 });
      const cut = new FaultyStore(mem);
      const fleet = new Fleet(mem, 'selffence-clock', 10, ttl, {
        clock,
        storeFor: (node) => (node === 'w1' ? cut : mem),
      });
      try {
        fleet.tasks = Fleet.tasks(4);
        for (const t of fleet.tasks) fleet.stopDelay.set(t.id, 100); // a clean-up after the abort
        await mem.put(fleet.k.barrierLeft, 'established');
        fleet.master('m1');
        const w = fleet.worker('w1');
        let fencedAt: number | undefined;
        w.once('fenced', () => {
          fencedAt = clock.now();
        });
        await w.start();
        await fleet.settled(['w1']);
        await fleet.until('4 runs', () => fleet.runningOn('w1').length === 4);
        const lease = w.leaseId!;

        cut.setCut(true);
        const cutAt = clock.now();
        // Step the clock until the store lets the lease go, noting when the worker fenced and stopped.
        let stoppedAt: number | undefined;
        const expiredAt = await fleet.until(
          'the lease to expire',
          async () => {
            if (stoppedAt === undefined && fleet.runningOn('w1').length === 0) stoppedAt = clock.now();
            return (await mem.leaseTimeToLive(lease)).ttl === -1 ? clock.now() : undefined;
          },
          ttl * 1000 + 1_000,
        );
        assert.ok(fencedAt !== undefined, 'fenced before the lease expired');
        assert.ok(stoppedAt !== undefined, 'every run stopped before the lease expired');
        assert.ok(fencedAt >= cutAt && stoppedAt >= fencedAt, 'cut, then fenced, then stopped');
        assert.ok(
          stoppedAt < expiredAt,
          `runs stopped at ${stoppedAt - cutAt} ms, lease gone at ${expiredAt - cutAt} ms`,
        );
        assert.ok(stoppedAt <= w.leaseSafeUntil!, 'stopped by the worker’s own safe time');
        assert.ok(
          fleet.runs.every((r) => r.stop !== undefined && r.stop < expiredAt),
          'no run outlived the lease',
        );

        cut.setCut(false);
        await fleet.until(
          'runs resumed after re-registration',
          () => fleet.runningOn('w1').length === 4,
          30_000,
          50,
        );
        assert.notEqual(w.leaseId, lease, 'registered again with a new lease');
        assert.equal(w.status, 'left_barrier', 'a barrier passed before the loss stays passed');
      } finally {
        await fleet.close();
        await mem.close();
      }
    });
  });
}

describe('self-fencing on a real etcd', () => {
  let etcd: EtcdCluster | undefined;
  let store: EtcdStore | undefined;
  let fleet: Fleet | undefined;
  after(async () => {
    etcd?.members.forEach((m) => {
      m.resume();
    });
    await fleet?.close();
    await store?.close();
    await etcd?.destroy();
  });

  it('a worker cut off from etcd stops every run before its lease can expire, then resumes', async () => {
    etcd = await startEtcd();
    store = new EtcdStore({ hosts: etcd.endpoints, callTimeout: 1_000 });
    fleet = new Fleet(store, 'selffence', 10, 3);
    fleet.tasks = Fleet.tasks(4);
    await store.put(fleet.k.barrierLeft, new Date().toISOString());
    fleet.master('m1');
    const w = fleet.worker('w1');
    const fenced = new Promise<number>((resolve) => w.once('fenced', () => resolve(Date.now())));
    await w.start();
    await fleet.settled(['w1']);
    await waitFor('4 runs', () => fleet!.runningOn('w1').length === 4);

    const pausedAt = Date.now();
    etcd.members[0].pause();
    const fencedAt = await within(fenced, 10_000, 'the worker to fence itself');
    await waitFor('every run stopped', () => fleet!.runningOn('w1').length === 0, 10_000);
    const safeUntil = w.leaseSafeUntil!;
    const lastStop = Math.max(...fleet.runs.map((r) => r.stop ?? Number.POSITIVE_INFINITY));
    assert.ok(fencedAt < safeUntil, `fenced ${safeUntil - fencedAt} ms before the lease could expire`);
    assert.ok(
      lastStop < safeUntil,
      `last run stopped ${safeUntil - lastStop} ms before the lease could expire`,
    );
    assert.ok(fencedAt >= pausedAt, 'fenced after the cut');

    etcd.members[0].resume();
    await waitFor('runs resumed after re-registration', () => fleet!.runningOn('w1').length === 4, 20_000);
    assert.ok(w.leaseId, 'registered again with a new lease');
    assert.equal(w.status, 'left_barrier', 'a barrier passed before the loss stays passed');
  });
});
