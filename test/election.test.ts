import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { NotLeaderError, SessionLostError } from '../src/errors.js';
import { Election, type LeaderInfo } from '../src/recipes/election.js';
import { Session } from '../src/recipes/session.js';
import type { Store } from '../src/store/port.js';
import { seeded, track, waitFor, within } from './helpers/async.js';
import { uniqueRoot } from './helpers/etcd.js';
import { storeFactories, type TestStore } from './helpers/stores.js';

async function fencedPut(store: Store, election: Election, key: string, value: string): Promise<boolean> {
  const fence = election.fence();
  const res = await store.txn({ compare: [fence.compare], success: [{ type: 'put', key, value }] });
  return res.succeeded;
}

for (const factory of storeFactories()) {
  describe(`election on ${factory.name}`, () => {
    let t: TestStore;
    const sessions: Session[] = [];
    const session = async (ttl = 2) => {
      const s = await Session.create({ store: t.store, ttl, clock: t.clock });
      sessions.push(s);
      return s;
    };
    after(async () => {
      for (const s of sessions) await s.close();
      await t?.close();
    });

    it('with 3 candidates never has two leaders at once; the observer sees every term in order', () =>
      seeded(async (random) => {
        t ??= await factory.create();
        const root = `/${uniqueRoot('election-3')}`;
        const prefix = `${root}/election`;
        const candidates = await Promise.all(
          [0, 1, 2].map(async () => new Election(await session(), prefix)),
        );
        const watcherAbort = new AbortController();
        const observed: (LeaderInfo | undefined)[] = [];
        const observer = (async () => {
          for await (const l of candidates[0].observe({ signal: watcherAbort.signal })) observed.push(l);
        })();
        await waitFor('the observer to start', () => observed.length === 1, 5_000);
        assert.equal(observed[0], undefined);

        let current: string | undefined;
        const terms: LeaderInfo[] = [];
        const rounds = 4;
        await within(
          Promise.all(
            candidates.map(async (e, i) => {
              for (let r = 0; r < rounds; r++) {
                await e.campaign(`candidate-${i}`);
                assert.equal(current, undefined, `candidate-${i} leads while ${current} still does`);
                current = `candidate-${i}`;
                terms.push({ key: e.key, value: `candidate-${i}`, createRevision: e.createRevision });
                const leader = await e.leader();
                assert.equal(leader?.key, e.key);
                assert.ok(await fencedPut(t.store, e, `${root}/data`, `${i}/${r}`), 'fenced write as leader');
                await new Promise((res) => setTimeout(res, 5 + random() * 15));
                assert.equal(current, `candidate-${i}`);
                current = undefined;
                await e.resign();
                await e.resign(); // idempotent
                assert.throws(() => e.fence(), NotLeaderError);
              }
            }),
          ),
          60_000,
          'the campaigns',
        );
        assert.equal(terms.length, 3 * rounds);
        const leaders = () => observed.filter((l) => l !== undefined);
        await waitFor(
          'the observer to see every term, then no leader',
          () => leaders().length === terms.length && observed.at(-1) === undefined,
          10_000,
        );
        watcherAbort.abort();
        await within(observer, 5_000, 'the observer to end');
        // Every term exactly once, in order (between terms there may be moments without any candidate).
        assert.deepEqual(leaders(), terms);
      }));

    it('passes on lease expiry and on resign; the deposed leader’s fenced txn fails', async () => {
      t ??= await factory.create();
      const root = `/${uniqueRoot('election-pass')}`;
      const prefix = `${root}/election`;
      const [a, b, c] = await Promise.all([0, 1, 2].map(async () => new Election(await session(), prefix)));
      await within(a.campaign('a'), 5_000, 'a');
      const fenceA = a.fence();
      assert.ok(await fencedPut(t.store, a, `${root}/data`, 'a'));
      const pb = track(b.campaign('b'));
      await waitFor('b to be a candidate', async () => (await t.store.get(b.key)) !== undefined, 5_000);
      const pc = track(c.campaign('c'));
      await waitFor('c to be a candidate', async () => (await t.store.get(c.key)) !== undefined, 5_000);

      // a stops renewing (a GC pause, a partition): its lease expires on the server, b takes over.
      await a.session.close({ revoke: false });
      await within(pb.p, a.session.ttl * 1000 + 5_000, 'b to lead after a’s lease expired');
      assert.equal(pc.state(), 'pending');
      assert.equal((await b.leader())?.value, 'b');
      const stale = await t.store.txn({
        compare: [fenceA.compare],
        success: [{ type: 'put', key: `${root}/data`, value: 'a, deposed' }],
      });
      assert.equal(stale.succeeded, false, 'a deposed leader’s fenced txn must fail');
      assert.ok(await fencedPut(t.store, b, `${root}/data`, 'b'));

      await b.resign();
      await within(pc.p, 5_000, 'c to lead after b resigned');
      assert.equal((await c.leader())?.value, 'c');
      assert.equal((await t.store.get(`${root}/data`))?.value, 'b');
      await c.proclaim('c2');
      assert.equal((await c.leader())?.value, 'c2');
      await c.resign();
      assert.equal(await c.leader(), undefined);
    });

    it('campaign() never resolves for a candidate whose lease is gone', async () => {
      t ??= await factory.create();
      const prefix = `/${uniqueRoot('election-lost')}/election`;
      const [a, b, c] = await Promise.all([0, 1, 2].map(async () => new Election(await session(5), prefix)));
      await a.campaign('a');
      const pb = track(b.campaign('b'));
      const pc = track(c.campaign('c'));
      await waitFor(
        'b and c to be candidates',
        async () => (await t.store.range(`${prefix}/`, { prefix: true, countOnly: true })).count === 3,
        5_000,
      );
      // b's lease is revoked while it waits: it must fail at once, not wait for a to go.
      await t.store.revokeLease(b.session.leaseId);
      await assert.rejects(within(pb.p, 5_000, 'b'), SessionLostError);
      // c's lease is revoked in the same breath as a resigns: c must fail, never lead.
      await Promise.all([t.store.revokeLease(c.session.leaseId), a.resign()]);
      await assert.rejects(within(pc.p, 10_000, 'c'), SessionLostError);
      assert.equal(b.isLeader || c.isLeader, false);
      assert.equal(await a.leader(), undefined);
      // A session already known lost refuses to campaign.
      await waitFor('b’s session to notice', () => b.session.isLost, 10_000);
      await assert.rejects(b.campaign('b'), SessionLostError);
      assert.equal(await a.leader(), undefined);
    });

    it('campaign() aborted by its signal removes the candidate key', async () => {
      t ??= await factory.create();
      const prefix = `/${uniqueRoot('election-abort')}/election`;
      const [a, b] = await Promise.all([0, 1].map(async () => new Election(await session(), prefix)));
      await a.campaign('a');
      const ac = new AbortController();
      const pb = b.campaign('b', { signal: ac.signal });
      await waitFor('b to be a candidate', async () => (await t.store.get(b.key)) !== undefined, 5_000);
      ac.abort();
      await assert.rejects(within(pb, 5_000, 'b'), { name: 'AbortError' });
      assert.equal(await t.store.get(b.key), undefined);
      assert.equal((await a.leader())?.key, a.key);
      await a.resign();
    });
  });
}
