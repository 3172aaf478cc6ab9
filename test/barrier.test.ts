import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { BarrierTimeoutError } from '../src/errors.js';
import { DoubleBarrier, TooManyParticipantsError } from '../src/recipes/barrier.js';
import { Session } from '../src/recipes/session.js';
import { ManualClock } from '../src/util/clock.js';
import { track, waitFor, within } from './helpers/async.js';
import { uniqueRoot } from './helpers/etcd.js';
import { storeFactories, type TestStore } from './helpers/stores.js';

for (const factory of storeFactories()) {
  describe(`double barrier on ${factory.name}`, () => {
    let t: TestStore;
    const sessions: Session[] = [];
    /** Stores a test opened itself: closed in after() too, so a failed assertion leaves nothing running. */
    const owned: TestStore[] = [];
    const barriers = async (key: string, count: number, n = count) =>
      Promise.all(
        Array.from({ length: n }, async () => {
          const s = await Session.create({ store: t.store, ttl: 5, clock: t.clock });
          sessions.push(s);
          return new DoubleBarrier(s, key, count);
        }),
      );
    const waiters = async (key: string) =>
      (await t.store.range(`${key}/waiters/`, { prefix: true, countOnly: true })).count;
    after(async () => {
      for (const s of sessions) await s.close();
      for (const o of owned) await o.close();
      await t?.close();
    });

    it('N−1 participants wait, the N-th releases all; leave returns only when all left', async () => {
      // On the memory store the barrier runs on a ManualClock: "nobody passed yet" is shown by moving
      // time to just before the waiters' timeout, with every timer and promise job on the way run. On
      // both stores, by the order of events: every release comes after the N-th arrived (and left).
      const own = await factory.create({ clock: new ManualClock() });
      owned.push(own);
      const manual = own.clock instanceof ManualClock ? own.clock : undefined;
      const key = `/${uniqueRoot('barrier')}/worker-barrier`;
      const n = 4;
      const timeoutMs = 30_000;
      const log: string[] = [];
      const mine = await Promise.all(
        Array.from({ length: n }, () => Session.create({ store: own.store, ttl: 5, clock: own.clock })),
      );
      sessions.unshift(...mine); // closed before their store in after()
      const bs = mine.map((s) => new DoubleBarrier(s, key, n));
      const count = async () =>
        (await own.store.range(`${key}/waiters/`, { prefix: true, countOnly: true })).count;
      const entering = bs
        .slice(0, n - 1)
        .map((b, i) => track(b.enter({ timeoutMs }).then(() => log.push(`entered ${i}`))));
      await waitFor('N−1 participants to enter', async () => (await count()) === n - 1, 5_000);
      await manual?.advance(timeoutMs - 1);
      assert.ok(
        entering.every((e) => !e.done()),
        'nobody may pass before the N-th arrives',
      );
      assert.equal(await own.store.get(`${key}/ready`), undefined);
      assert.match(bs[0].participantKey ?? '', new RegExp(`^${key}/waiters/\\d{19}$`));

      log.push('N-th enters');
      await within(bs[n - 1].enter(), 5_000, 'the N-th');
      await within(Promise.all(entering.map((e) => e.p)), 5_000, 'the N−1 to be released');
      assert.equal(log[0], 'N-th enters', `released before the N-th arrived: ${log.join(', ')}`);
      assert.ok(await own.store.get(`${key}/ready`));

      log.length = 0;
      const leaving = bs
        .slice(0, n - 1)
        .map((b, i) => track(b.leave({ timeoutMs }).then(() => log.push(`left ${i}`))));
      // The non-lowest leave at once (their keys go); the lowest waits; none may return yet.
      await waitFor('N−2 keys to be gone', async () => (await count()) === 2, 5_000);
      await manual?.advance(timeoutMs - 1);
      assert.ok(
        leaving.every((l) => !l.done()),
        'nobody may return from leave() before all left',
      );
      log.push('N-th leaves');
      await within(bs[n - 1].leave(), 5_000, 'the last to leave');
      await within(Promise.all(leaving.map((l) => l.p)), 5_000, 'everyone to leave');
      assert.equal(log[0], 'N-th leaves', `returned from leave() before all left: ${log.join(', ')}`);
      const rest = await own.store.range(`${key}/`, { prefix: true });
      assert.deepEqual(
        rest.kvs.map((kv) => kv.key),
        [],
      );
    });

    it('an enter timeout rejects with a clear error and removes the participant’s key', async () => {
      t ??= await factory.create();
      const key = `/${uniqueRoot('barrier-timeout')}/worker-barrier`;
      const [b] = await barriers(key, 3, 1);
      const err = await within(
        b.enter({ timeoutMs: 300 }).then(
          () => undefined,
          (e: unknown) => e,
        ),
        5_000,
        'the lone participant',
      );
      assert.ok(err instanceof BarrierTimeoutError, String(err));
      assert.match(err.message, /1 of 3 participants entered within 300 ms/);
      assert.match(err.message, new RegExp(key));
      assert.equal(await waiters(key), 0);
      assert.equal(b.participantKey, undefined);
    });

    it('a leave timeout rejects with a clear error and removes the participant’s key', async () => {
      t ??= await factory.create();
      const key = `/${uniqueRoot('barrier-leave-timeout')}/worker-barrier`;
      const bs = await barriers(key, 2);
      const first = bs[0].enter({ timeoutMs: 5_000 });
      await waitFor('the first to enter', async () => (await waiters(key)) === 1, 5_000);
      await within(Promise.all([first, bs[1].enter({ timeoutMs: 5_000 })]), 5_000, 'enter');
      // The first participant is the lowest: it waits for the other one, which never leaves.
      const err = await within(
        bs[0].leave({ timeoutMs: 300 }).then(
          () => undefined,
          (e: unknown) => e,
        ),
        5_000,
        'leave',
      );
      assert.ok(err instanceof BarrierTimeoutError, String(err));
      assert.match(err.message, /2 of 2 participants still had not left after 300 ms/);
      assert.equal(await waiters(key), 1);
      await within(bs[1].leave({ timeoutMs: 5_000 }), 5_000, 'the other one');
      assert.equal((await t.store.range(`${key}/`, { prefix: true, countOnly: true })).count, 0);
    });

    it('abort while entering removes the key; a full barrier refuses one more', async () => {
      t ??= await factory.create();
      const key = `/${uniqueRoot('barrier-abort')}/worker-barrier`;
      const bs = await barriers(key, 2, 3);
      const ac = new AbortController();
      const p = bs[0].enter({ signal: ac.signal });
      await waitFor('the first to enter', async () => (await waiters(key)) === 1, 5_000);
      ac.abort();
      await assert.rejects(within(p, 5_000, 'abort'), { name: 'AbortError' });
      assert.equal(await waiters(key), 0);

      await within(Promise.all([bs[1].enter(), bs[2].enter()]), 5_000, 'two enter');
      await assert.rejects(bs[0].enter(), TooManyParticipantsError);
      assert.equal(await waiters(key), 2);
      await within(Promise.all([bs[1].leave(), bs[2].leave()]), 5_000, 'two leave');
    });
  });
}
