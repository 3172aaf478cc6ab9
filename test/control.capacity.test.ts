import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Admin } from '../src/index.js';
import { keys } from '../src/scheduler/keys.js';
import { nodeValue } from '../src/scheduler/node.js';
import { MemoryStore } from '../src/store/memory.js';
import { encodeTask } from '../src/task.js';

describe('Admin.plan with published capacities', () => {
  it('plans with the capacities the master reads from node/, so the dry run and the schedule agree', async () => {
    const store = new MemoryStore();
    const k = keys('cap-plan');
    try {
      await store.put(k.worker('w1'), 'running');
      await store.put(k.worker('w2'), 'running');
      await store.put(k.node('w1'), nodeValue(1, 0));
      await store.put(k.node('w2'), nodeValue(3, 0));
      for (let i = 0; i < 8; i++) await store.put(k.task('w1', `t${i}`), encodeTask({ id: `t${i}` }));
      const before = (await store.range(k.root, { prefix: true })).revision;
      const plan = await new Admin({ store, rootName: 'cap-plan', by: 'test' }).plan();
      const after = Object.fromEntries(plan.workers.map((w) => [w.worker, w.after]));
      // capacity 1 and 3: 2 and 6 of 8 (with capacity 1 each, it would be 4 and 4)
      assert.deepEqual(after, { w1: 2, w2: 6 });
      assert.equal(plan.moves, 6);
      assert.deepEqual(plan.problems, []);
      assert.equal(
        (await store.range(k.root, { prefix: true })).revision,
        before,
        'a dry run writes nothing',
      );
    } finally {
      await store.close();
    }
  });
});
