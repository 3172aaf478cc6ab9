/**
 * Self-fencing (issue 4, must-show 4): a worker whose etcd connection is cut stops all its runs before
 * its lease can expire, then re-registers and resumes when the store is back.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { EtcdStore } from '../src/store/etcd.js';
import { type EtcdCluster, startEtcd } from './helpers/etcd.js';
import { Fleet } from './helpers/fleet.js';
import { waitFor } from './helpers/wait.js';

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
    const fencedAt = await fenced;
    await waitFor('every run stopped', () => fleet!.runningOn('w1').length === 0, 10_000);
    const safeUntil = w.leaseSafeUntil!;
    const lastStop = Math.max(...fleet.runs.map((r) => r.stop ?? Number.POSITIVE_INFINITY));
    assert.ok(fencedAt < safeUntil, `fenced ${safeUntil - fencedAt} ms before the lease could expire`);
    assert.ok(
      lastStop < safeUntil,
      `last run stopped ${safeUntil - lastStop} ms before the lease could expire`,
    );
    assert.ok(fencedAt - pausedAt < 3_000, `fenced ${fencedAt - pausedAt} ms after the cut (ttl 3 s)`);

    etcd.members[0].resume();
    await waitFor('runs resumed after re-registration', () => fleet!.runningOn('w1').length === 4, 20_000);
    assert.ok(w.leaseId, 'registered again with a new lease');
    assert.equal(w.status, 'left_barrier', 'a barrier passed before the loss stays passed');
  });
});
