import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { BarrierTimeoutError } from '../src/errors.js';
import { DoubleBarrier, TooManyParticipantsError } from '../src/recipes/barrier.js';
import { Session } from '../src/recipes/session.js';
import { uniqueRoot } from './helpers/etcd.js';
import { storeFactories, type TestStore } from './helpers/stores.js';
import { waitFor } from './helpers/wait.js';

function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: not settled within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

function track<T>(p: Promise<T>): { p: Promise<T>; done: () => boolean } {
  let done = false;
  p.then(
    () => {
      done = true;
    },
    () => {
      done = true;
    },
  );
  return { p, done: () => done };
}

/** Lets the store and the waiters run a while: long enough for a wrongly released waiter to show. */
const settle = () => new Promise((r) => setTimeout(r, 150));

for (const factory of storeFactories()) {
  describe(`double barrier on ${factory.name}`, () => {
    let t: TestStore;
    const sessions: Session[] = [];
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
      await t?.close();
    });

    it('N−1 participants wait, the N-th releases all; leave returns only when all left', async () => {
      t ??= await factory.create();
      const key = `/${uniqueRoot('barrier')}/worker-barrier`;
      const n = 4;
      const bs = await barriers(key, n);
      const entering = bs.slice(0, n - 1).map((b) => track(b.enter({ timeoutMs: 30_000 })));
      await waitFor('N−1 participants to enter', async () => (await waiters(key)) === n - 1, 5_000);
      await settle();
      assert.ok(
        entering.every((e) => !e.done()),
        'nobody may pass before the N-th arrives',
      );
      assert.equal(await t.store.get(`${key}/ready`), undefined);
      assert.match(bs[0].participantKey ?? '', new RegExp(`^${key}/waiters/\\d{19}$`));

      await within(bs[n - 1].enter(), 5_000, 'the N-th');
      await within(Promise.all(entering.map((e) => e.p)), 5_000, 'the N−1 to be released');
      assert.ok(await t.store.get(`${key}/ready`));

      const leaving = bs.slice(0, n - 1).map((b) => track(b.leave({ timeoutMs: 30_000 })));
      // The non-lowest leave at once (their keys go); the lowest waits; none may return yet.
      await waitFor('N−2 keys to be gone', async () => (await waiters(key)) === 2, 5_000);
      await settle();
      assert.ok(
        leaving.every((l) => !l.done()),
        'nobody may return from leave() before all left',
      );
      await within(bs[n - 1].leave(), 5_000, 'the last to leave');
      await within(Promise.all(leaving.map((l) => l.p)), 5_000, 'everyone to leave');
      const rest = await t.store.range(`${key}/`, { prefix: true });
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
