/**
 * Fencing tokens (issue 12) on both stores and both handoff modes: `RunContext.token` is the create
 * revision of the task's claim (handoff 'none': of its assignment key), a restart keeps it, a new owner's
 * is greater, and `RunContext.fence` holds only while the run's claim (or assignment) is the live one.
 * Across SIGKILL, SIGSTOP, master failover and compaction on real processes: test/faults.test.ts.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { RunContext } from '../src/scheduler/worker.js';
import { Fleet } from './helpers/fleet.js';
import { storeFactories, type TestStore } from './helpers/stores.js';
import { waitFor } from './helpers/wait.js';

for (const factory of storeFactories()) {
  for (const handoff of ['claim', 'none'] as const) {
    describe(`fencing tokens on ${factory.name}, handoff '${handoff}'`, () => {
      const opened: TestStore[] = [];
      const fleets: Fleet[] = [];
      after(async () => {
        await Promise.allSettled(fleets.map((f) => f.close()));
        await Promise.allSettled(opened.map((s) => s.close()));
      });

      it('token = create revision of the claim (or assignment); restarts keep it; a drain gives the next owner a greater one; the fence holds only for the live owner', async () => {
        const ts = await factory.create();
        opened.push(ts);
        const { store } = ts;
        const f = new Fleet(store, `token-${handoff}`);
        fleets.push(f);
        await store.put(f.k.barrierLeft, 'x');
        f.tasks = [{ id: 'a' }, { id: 'b' }];
        const seen: (RunContext & { id: string; worker: string })[] = [];
        const handler = (worker: string) => async (task: { id: string }, ctx: RunContext) => {
          seen.push({ ...ctx, id: task.id, worker });
          // Task 'a' throws on its first two attempts: restarts of one run.
          if (task.id === 'a' && ctx.attempt < 3) throw new Error(`boom ${ctx.attempt}`);
          await new Promise((r) => ctx.signal.addEventListener('abort', r, { once: true }));
        };
        const restart = { initialDelay: 10, maxDelay: 20 };
        const w1 = f.worker('w1', { handoff, restart, run: handler('w1') });
        await w1.start();
        f.master('m1');
        await waitFor('both tasks running on w1', () => w1.runningTasks().length === 2);

        const key = (id: string, worker: string) =>
          handoff === 'claim' ? f.k.claim(id) : f.k.task(worker, id);
        for (const id of ['a', 'b']) {
          const runs = seen.filter((s) => s.id === id);
          const kv = await store.get(key(id, 'w1'));
          assert.ok(kv, `${key(id, 'w1')} exists`);
          for (const r of runs) assert.equal(r.token, kv.createRevision, `${id}: token = create revision`);
          assert.deepEqual(r0(runs).fence, {
            key: key(id, 'w1'),
            target: 'create',
            op: '=',
            value: kv.createRevision,
          });
        }
        assert.deepEqual(
          seen.filter((s) => s.id === 'a').map((s) => s.attempt),
          [1, 2, 3],
          'a restarted twice, keeping its token',
        );

        // The fence of a live run lets a txn of the handler through.
        const live = seen.find((s) => s.id === 'b')!;
        const ok = await store.txn({
          compare: [live.fence],
          success: [{ type: 'put', key: `${f.k.root}/app/b`, value: 'w1' }],
        });
        assert.equal(ok.succeeded, true, 'the fence of the live run holds');

        // Drain w1: w2 takes over with greater tokens; w1's fences no longer hold.
        const w2 = f.worker('w2', { handoff, restart, run: handler('w2') });
        await w2.start();
        await w1.stop();
        await waitFor('both tasks running on w2', () => w2.runningTasks().length === 2);
        for (const id of ['a', 'b']) {
          const old = seen.filter((s) => s.id === id && s.worker === 'w1');
          const next = seen.filter((s) => s.id === id && s.worker === 'w2');
          assert.ok(next.length > 0);
          for (const n of next)
            assert.ok(n.token > Math.max(...old.map((o) => o.token)), `${id}: ${n.token} > ${old[0].token}`);
          const kv = await store.get(key(id, 'w2'));
          assert.equal(next[0].token, kv?.createRevision);
          const stale = await store.txn({
            compare: [r0(old).fence],
            success: [{ type: 'put', key: `${f.k.root}/app/${id}`, value: 'w1' }],
          });
          assert.equal(stale.succeeded, false, `${id}: the old owner's fence fails`);
          const fresh = await store.txn({
            compare: [next[0].fence],
            success: [{ type: 'put', key: `${f.k.root}/app/${id}`, value: 'w2' }],
          });
          assert.equal(fresh.succeeded, true, `${id}: the new owner's fence holds`);
        }
        // Two runs (owners) of one task never share a token.
        for (const id of ['a', 'b']) {
          const byWorker = new Map<string, Set<number>>();
          for (const s of seen.filter((x) => x.id === id)) {
            byWorker.set(s.worker, (byWorker.get(s.worker) ?? new Set()).add(s.token));
          }
          assert.equal(byWorker.get('w1')?.size, 1);
          assert.equal(byWorker.get('w2')?.size, 1);
          assert.notEqual([...byWorker.get('w1')!][0], [...byWorker.get('w2')!][0]);
        }
      });
    });
  }
}

function r0<T>(runs: T[]): T {
  assert.ok(runs.length > 0, 'at least one run');
  return runs[0];
}
