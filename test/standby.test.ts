/**
 * Standby over the cap (issue 19) on both stores: with `onCapacityFull: 'wait'` a worker over
 * `maxNumNodes − 1` waits with `/<root>/standby/<name>` instead of failing, says why once, and registers
 * by itself when a slot frees — standbys in arrival order, ahead of newcomers; `'reject'` (the default)
 * keeps the original's error. And `worker.condition`: the reason a worker is not ready, for each state.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { EschedulerError, StoreUnavailableError, WorkerNumExceedMaximumError } from '../src/errors.js';
import type { Session } from '../src/recipes/session.js';
import type { StandbyRecord } from '../src/scheduler/keys.js';
import { conditionOf } from '../src/scheduler/worker/condition.js';
import type { Store } from '../src/store/port.js';
import type { Logger } from '../src/util/logger.js';
import { track, waitFor } from './helpers/async.js';
import { Fleet } from './helpers/fleet.js';
import { storeFactories, type TestStore } from './helpers/stores.js';

/** A logger that keeps the messages of each level. */
function capture(): Logger & { warns: string[] } {
  const warns: string[] = [];
  const l: Logger & { warns: string[] } = {
    warns,
    debug() {},
    info() {},
    warn(_obj, msg) {
      warns.push(msg ?? '');
    },
    error() {},
    child: () => l,
  };
  return l;
}

for (const factory of storeFactories()) {
  describe(`standby over the cap on the ${factory.name} store`, () => {
    let t: TestStore | undefined;
    let store: Store;
    const fleets: Fleet[] = [];
    before(async () => {
      t = await factory.create();
      store = t.store;
    });
    after(async () => {
      await Promise.allSettled(fleets.map((f) => f.close()));
      await t?.close();
    });

    it("'wait' queues standbys in arrival order, logs once, and registers when a slot frees", async () => {
      const f = new Fleet(store, `${factory.name}-standby`, 3);
      fleets.push(f);
      f.tasks = Fleet.tasks(6);
      await store.put(f.k.barrierLeft, new Date().toISOString());
      f.master('m1');
      const [w1, w2] = [f.worker('w1'), f.worker('w2')];
      await Promise.all([w1.start(), w2.start()]);

      const log3 = capture();
      const log4 = capture();
      const w3 = f.worker('w3', { onCapacityFull: 'wait', logger: log3 });
      const w4 = f.worker('w4', { onCapacityFull: 'wait', logger: log4 });
      let w4Standbys = 0;
      w4.on('standby', () => w4Standbys++);
      const s3 = track(w3.start());
      await waitFor('w3 on standby', () => w3.condition.state === 'standby');
      const s4 = track(w4.start());
      await waitFor('w4 on standby', () => w4.condition.state === 'standby');
      assert.deepEqual(
        { ready: w3.condition.ready, reason: w3.condition.reason, status: w3.status },
        { ready: false, reason: 'standby', status: 'new' },
      );
      assert.equal(typeof w3.condition.standbySince, 'number');
      const rec = await store.get(f.k.standby('w3'));
      assert.ok(rec, 'standby key of w3');
      assert.equal(rec.lease !== '0', true, 'bound to a lease');
      const parsed = JSON.parse(rec.value) as StandbyRecord;
      assert.equal(parsed.pid, process.pid);
      assert.equal(typeof parsed.host, 'string');
      assert.ok(!Number.isNaN(Date.parse(parsed.since)), parsed.since);
      assert.match(await f.metrics.registry.metrics(), /escheduler_worker_standby\{name="w3"\} 1/);

      // 'reject' (the default) keeps the original's error, and names the standbys in line first.
      const w5 = f.worker('w5');
      await assert.rejects(w5.start(), (err: Error) => {
        assert.ok(err instanceof WorkerNumExceedMaximumError);
        assert.match(err.message, /2 workers online \(2 standby workers waiting first\)/);
        return true;
      });

      // A slot frees: the first in line (w3) takes it, w4 stays on standby.
      await w1.stop();
      await waitFor('w3 registered', () => s3.state() === 'resolved', 15_000);
      assert.equal(w3.condition.state, 'serving');
      assert.equal(await store.get(f.k.standby('w3')), undefined, 'standby key deleted on registration');
      await f.balanced(['w2', 'w3']);
      assert.equal(s4.state(), 'pending');
      assert.equal(w4.condition.reason, 'standby');
      // w4 looks again when w3's standby key goes; that watch event may arrive after the balance.
      await waitFor(
        `w4 re-checked when w3 left the line (${w4Standbys} standby events)`,
        () => w4Standbys >= 2,
      );
      assert.match(await f.metrics.registry.metrics(), /escheduler_worker_standby\{name="w3"\} 0/);

      await w2.stop();
      await waitFor('w4 registered', () => s4.state() === 'resolved', 15_000);
      await f.balanced(['w3', 'w4']);
      assert.equal((await store.range(f.k.standbyPrefix, { prefix: true })).count, 0);
      // One line each on why it waits, however often it looked again.
      assert.equal(log3.warns.filter((m) => m.startsWith('fleet full')).length, 1, log3.warns.join('\n'));
      assert.equal(log4.warns.filter((m) => m.startsWith('fleet full')).length, 1, log4.warns.join('\n'));
    });

    it("a standby never takes a restarting worker's place; it takes it once the restart grace runs out", async () => {
      const f = new Fleet(store, `${factory.name}-standby-restart`, 3);
      fleets.push(f);
      f.tasks = Fleet.tasks(4);
      await store.put(f.k.barrierLeft, new Date().toISOString());
      f.master('m1');
      const opts = { restartGrace: 2_000 };
      const [w1, w2] = [f.worker('w1', opts), f.worker('w2', opts)];
      await Promise.all([w1.start(), w2.start()]);
      await f.balanced(['w1', 'w2']);
      const w3 = f.worker('w3', { onCapacityFull: 'wait' });
      let looks = 0;
      w3.on('standby', () => looks++);
      const s3 = track(w3.start());
      await waitFor('w3 on standby', () => w3.condition.state === 'standby');

      // w1 restarts: its key goes, its marker keeps its place. w3 looks again and stays in line...
      const before = looks;
      await w1.stop({ restart: true });
      assert.ok(await store.get(f.k.restarting('w1')), 'restart marker of w1');
      await waitFor('w3 looked again after w1 left', () => looks > before);
      assert.equal(w3.condition.state, 'standby');
      // ...and w1 coming back within its grace registers ahead of the standby.
      const w1b = f.worker('w1', opts);
      await w1b.start();
      assert.equal(w3.condition.state, 'standby');
      assert.equal(s3.state(), 'pending');

      // w2 restarts and never comes back: when its marker expires, the slot is the standby's.
      await w2.stop({ restart: true });
      await waitFor('w3 registered once w2’s grace ran out', () => s3.state() === 'resolved', 20_000);
      assert.equal(await store.get(f.k.restarting('w2')), undefined);
      await f.balanced(['w1', 'w3']);
    });

    it('a standby that stops leaves the line: its key goes, start() rejects', async () => {
      const f = new Fleet(store, `${factory.name}-standby-stop`, 2);
      fleets.push(f);
      await store.put(f.k.barrierLeft, new Date().toISOString());
      const w1 = f.worker('w1');
      await w1.start();
      const w2 = f.worker('w2', { onCapacityFull: 'wait' });
      const s2 = track(w2.start());
      await waitFor('w2 on standby', () => w2.condition.state === 'standby');
      await w2.stop();
      await assert.rejects(s2.p, EschedulerError);
      assert.equal(s2.state(), 'rejected');
      assert.equal(w2.condition.state, 'stopped');
      await waitFor('standby key gone', async () => (await store.get(f.k.standby('w2'))) === undefined);
    });
  });
}

describe('worker.condition', () => {
  const session = {} as Session;
  const base = {
    barrier: 'none' as const,
    lastAttemptError: undefined,
    keepAliveOverdue: false,
    allRunning: true,
    failure: undefined,
  };
  const reason = (
    i: Partial<Parameters<typeof conditionOf>[0]> & Pick<Parameters<typeof conditionOf>[0], 'state'>,
  ) => conditionOf({ ...base, ...i }).reason;

  it('gives the reason a worker is not ready, for each state', () => {
    const unreachable = new StoreUnavailableError('etcd down');
    assert.equal(reason({ state: { kind: 'new' } }), 'not started');
    assert.equal(reason({ state: { kind: 'registering' } }), 'registering');
    assert.equal(
      reason({ state: { kind: 'registering' }, lastAttemptError: unreachable }),
      'etcd unreachable',
    );
    assert.equal(reason({ state: { kind: 'standby', since: 1, rejoining: false } }), 'standby');
    assert.equal(reason({ state: { kind: 'refused', error: new Error('x') } }), 'refused');
    assert.equal(reason({ state: { kind: 'fenced', session, reason: 'lost' } }), 'fenced');
    assert.equal(reason({ state: { kind: 're-registering', previous: session } }), 'fenced');
    assert.equal(
      reason({ state: { kind: 're-registering', previous: session }, lastAttemptError: unreachable }),
      'etcd unreachable',
    );
    const serving = { kind: 'serving' as const, session };
    assert.equal(reason({ state: serving, keepAliveOverdue: true }), 'etcd unreachable');
    assert.equal(reason({ state: serving, barrier: 'in' }), 'barrier');
    assert.equal(reason({ state: serving, allRunning: false }), 'starting tasks');
    assert.deepEqual(conditionOf({ ...base, state: serving }), { state: 'serving', ready: true });
    assert.equal(reason({ state: serving, failure: new Error('bug') }), 'failed');
    assert.equal(reason({ state: { kind: 'draining', status: 'left_barrier' } }), 'stopping');
    assert.equal(reason({ state: { kind: 'stopped' } }), 'stopped');
  });
});
