/**
 * The one push-to-pull stream (src/util/queue.ts): what the reader gets after end / fail / stop, that
 * `break` runs onClose once, and the lazy `pull` hook the memory store's cursor uses.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AsyncQueue } from '../src/util/queue.js';

async function drain<T>(q: AsyncIterable<T>): Promise<{ items: T[]; error?: unknown }> {
  const items: T[] = [];
  try {
    for await (const x of q) items.push(x);
  } catch (error) {
    return { items, error };
  }
  return { items };
}

describe('AsyncQueue', () => {
  it('delivers the initial items and pushes in order; end() lets the reader finish what is queued', async () => {
    let closed = 0;
    const q = new AsyncQueue([1, 2], () => closed++);
    q.push(3);
    q.end();
    q.push(4); // after end: ignored
    assert.deepEqual(await drain(q), { items: [1, 2, 3] });
    assert.equal(closed, 1);
    assert.deepEqual(await q.next(), { value: undefined, done: true });
    assert.equal(closed, 1);
  });

  it('wakes a waiting reader on push and on end', async () => {
    const q = new AsyncQueue<string>();
    const read = drain(q);
    await Promise.resolve();
    assert.equal(q.waiting, true);
    q.push('a');
    await new Promise((r) => setImmediate(r));
    q.push('b');
    q.end();
    assert.deepEqual(await read, { items: ['a', 'b'] });
  });

  it('fail(): the reader gets the queued items, then the error once, then done', async () => {
    let closed = 0;
    const q = new AsyncQueue<number>([], () => closed++);
    q.push(1);
    q.push(2);
    const boom = new Error('broken stream');
    q.fail(boom);
    q.fail(new Error('second failure is ignored'));
    q.push(3);
    assert.deepEqual(await drain(q), { items: [1, 2], error: boom });
    assert.equal(closed, 1);
    assert.deepEqual(await q.next(), { value: undefined, done: true });
  });

  it('break out of for-await runs onClose once and closes the queue to pushes', async () => {
    let closed = 0;
    const q = new AsyncQueue([1, 2, 3], () => closed++);
    for await (const x of q) {
      if (x === 2) break;
    }
    assert.equal(closed, 1);
    assert.equal(q.closed, true);
    q.push(9);
    assert.equal(q.pending, 0);
    await q.return();
    q.stop();
    assert.equal(closed, 1);
  });

  it('stop() drops what is queued and ends a waiting reader at once', async () => {
    let closed = 0;
    const q = new AsyncQueue<number>([], () => closed++);
    const read = drain(q);
    await Promise.resolve();
    q.push(1);
    q.push(2);
    q.stop();
    const got = await read;
    assert.equal(got.error, undefined);
    assert.deepEqual(got.items, [], 'stop() drops what is queued');
    assert.equal(closed, 1);
  });

  it('stop() before the first read: onClose runs even though nobody iterates', () => {
    let closed = 0;
    const q = new AsyncQueue([1], () => closed++);
    q.stop();
    assert.equal(closed, 1);
  });

  it('pull: called when the reader finds the queue empty; may push, end or throw', async () => {
    let source = [10, 20];
    let pulls = 0;
    const q: AsyncQueue<number> = new AsyncQueue([], undefined, {
      pull: () => {
        pulls++;
        for (const x of source) q.push(x);
        source = [];
      },
    });
    assert.deepEqual(await q.next(), { value: 10, done: false });
    assert.deepEqual(await q.next(), { value: 20, done: false });
    assert.equal(pulls, 1);
    const waiting = q.next();
    await Promise.resolve();
    assert.equal(q.waiting, true);
    assert.equal(pulls, 2);
    q.push(30);
    assert.deepEqual(await waiting, { value: 30, done: false });

    const boom = new Error('compacted');
    const failing = new AsyncQueue<number>([], undefined, {
      pull: () => {
        throw boom;
      },
    });
    assert.deepEqual(await drain(failing), { items: [], error: boom });
  });
});
