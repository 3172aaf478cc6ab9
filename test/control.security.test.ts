/**
 * Who may steer the fleet (issue 13), on an etcd with authentication on and the roles of
 * docs/RELIABILITY.md: a fleet process's role reads `control/` but cannot write it — while its master
 * schedules under the control state — and an operator's role can cordon and pause but cannot touch the
 * assignment.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { Admin } from '../src/scheduler/control/admin.js';
import { keys } from '../src/scheduler/keys.js';
import { Master } from '../src/scheduler/master.js';
import { Worker } from '../src/scheduler/worker.js';
import { EtcdStore } from '../src/store/etcd.js';
import { waitFor } from './helpers/async.js';
import { type EtcdCluster, startEtcd, uniqueRoot } from './helpers/etcd.js';

describe('etcd roles: fleet processes cannot change the control state, operators can', () => {
  let etcd: EtcdCluster;
  let endpoint: string;
  const root = uniqueRoot('control-auth');
  const k = keys(root);
  const stores: EtcdStore[] = [];
  const storeAs = (username: string, password: string) => {
    const s = new EtcdStore({ hosts: [endpoint], auth: { username, password } });
    stores.push(s);
    return s;
  };
  const ctl = (...args: string[]) =>
    execFileSync('etcdctl', ['--endpoints', endpoint, ...args], {
      encoding: 'utf8',
      env: { ...process.env, ETCDCTL_API: '3' },
      timeout: 15_000,
    });

  before(async () => {
    etcd = await startEtcd();
    endpoint = etcd.endpoints[0];
    ctl('user', 'add', 'root:rootpw');
    ctl('user', 'grant-role', 'root', 'root');
    // exactly the roles docs/RELIABILITY.md shows
    ctl('role', 'add', 'escheduler-fleet');
    ctl('role', 'grant-permission', 'escheduler-fleet', 'readwrite', `${k.root}/`, `${k.root}/control/`);
    ctl('role', 'grant-permission', 'escheduler-fleet', 'readwrite', `${k.root}/control0`, `${k.root}0`);
    ctl('role', 'grant-permission', 'escheduler-fleet', 'read', k.controlPrefix, '--prefix=true');
    ctl('role', 'add', 'escheduler-operator');
    ctl('role', 'grant-permission', 'escheduler-operator', 'readwrite', k.controlPrefix, '--prefix=true');
    ctl('role', 'grant-permission', 'escheduler-operator', 'read', `${k.root}/`, '--prefix=true');
    ctl('user', 'add', 'fleet:fleetpw');
    ctl('user', 'grant-role', 'fleet', 'escheduler-fleet');
    ctl('user', 'add', 'oper:operpw');
    ctl('user', 'grant-role', 'oper', 'escheduler-operator');
    ctl('auth', 'enable');
  });
  after(async () => {
    await Promise.allSettled(stores.map((s) => s.close()));
    await etcd?.destroy();
  });

  it('a fleet user schedules under the control state but cannot write it; an operator can', async () => {
    const fleetStore = storeAs('fleet', 'fleetpw');
    const common = { store: fleetStore, rootName: root, maxNumNodes: 3, ttl: 2, barrierTimeout: 2_000 };
    const master = new Master({
      ...common,
      name: 'm1',
      generator: () => [{ id: 'a' }, { id: 'b' }, { id: 'c' }],
      rebalanceWait: 100,
    });
    const worker = new Worker({
      ...common,
      name: 'w1',
      run: (_task, { signal }) => new Promise((resolve) => signal.addEventListener('abort', () => resolve())),
    });
    try {
      master.start();
      await worker.start();
      await waitFor('three tasks assigned as the fleet user', async () => {
        return (await fleetStore.range(k.workerTasks('w1'), { prefix: true })).count === 3;
      });

      // The fleet user reads the control state but may not change it.
      const asFleet = new Admin({ store: fleetStore, rootName: root, by: 'fleet' });
      assert.deepEqual((await asFleet.state()).workers, []);
      await assert.rejects(asFleet.cordon('w1'), /permission denied/);
      await assert.rejects(asFleet.pause(), /permission denied/);
      await assert.rejects(fleetStore.put(k.controlPin('a'), '{"worker":"w1"}'), /permission denied/);

      // The operator can, and the fleet's master honours it; the operator cannot touch the assignment.
      const operStore = storeAs('oper', 'operpw');
      const asOperator = new Admin({ store: operStore, rootName: root, by: 'oper' });
      await asOperator.cordon('w1', { reason: 'maintenance' });
      await asOperator.pause({ reason: 'incident' });
      await waitFor('a schedule under the operator’s control state', () => {
        const c = master.lastSchedule?.control;
        return c?.paused && c.cordoned.includes('w1');
      });
      const state = await asFleet.state();
      assert.deepEqual(
        state.workers.map((w) => [w.worker, w.state, w.by, w.reason]),
        [['w1', 'cordoned', 'oper', 'maintenance']],
      );
      await assert.rejects(operStore.put(k.task('w1', 'x'), '{}'), /permission denied/);
      assert.equal(await asOperator.resume(), true);
      assert.equal(await asOperator.uncordon('w1'), true);
    } finally {
      await Promise.allSettled([worker.stop(), master.stop()]);
    }
  });
});
