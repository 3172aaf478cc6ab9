/**
 * TypedEmitter (src/util/emitter.ts): on / once / off, including `off` of a once-listener before it fires
 * (the old `once()` registered a wrapper that `off(original)` could not find), and that a listener that
 * throws neither breaks `emit` nor the other listeners.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TypedEmitter } from '../src/util/emitter.js';

interface Events {
  tick: { n: number };
  other: { s: string };
}

class Ticker extends TypedEmitter<Events> {
  readonly errors: Array<{ event: string; err: unknown }> = [];
  constructor() {
    super((event, err) => this.errors.push({ event, err }));
  }
  tick(n: number): boolean {
    return this.emit('tick', { n });
  }
  other(s: string): boolean {
    return this.emit('other', { s });
  }
}

describe('TypedEmitter', () => {
  it('on: every emit reaches the listener with its payload until off', () => {
    const e = new Ticker();
    const seen: number[] = [];
    const l = ({ n }: { n: number }) => seen.push(n);
    assert.equal(e.tick(0), false, 'no listener yet');
    e.on('tick', l);
    assert.equal(e.tick(1), true);
    assert.equal(e.tick(2), true);
    assert.equal(e.other('x'), false, 'other events are separate');
    e.off('tick', l);
    assert.equal(e.tick(3), false);
    assert.deepEqual(seen, [1, 2]);
  });

  it('once: the listener runs on the next emit only', () => {
    const e = new Ticker();
    const seen: number[] = [];
    e.once('tick', ({ n }) => seen.push(n));
    e.tick(1);
    e.tick(2);
    assert.deepEqual(seen, [1]);
    assert.equal(e.tick(3), false, 'the once-listener is gone after it fired');
  });

  it('off removes a once-listener before it fires', () => {
    const e = new Ticker();
    const seen: number[] = [];
    const l = ({ n }: { n: number }) => seen.push(n);
    e.once('tick', l);
    e.off('tick', l);
    assert.equal(e.tick(1), false, 'no listener left after off');
    assert.deepEqual(seen, []);
  });

  it('a listener that throws does not break emit: the others run and the error goes to the callback', () => {
    const e = new Ticker();
    const seen: string[] = [];
    const boom = new Error('listener bug');
    e.on('tick', () => seen.push('first'));
    e.on('tick', () => {
      throw boom;
    });
    e.once('tick', () => {
      throw boom;
    });
    e.on('tick', () => seen.push('last'));
    assert.doesNotThrow(() => e.tick(1));
    assert.deepEqual(seen, ['first', 'last']);
    assert.deepEqual(e.errors, [
      { event: 'tick', err: boom },
      { event: 'tick', err: boom },
    ]);
    e.tick(2);
    assert.equal(e.errors.length, 3, 'the throwing once-listener was removed anyway');
  });

  it('without an error callback, a throwing listener is dropped silently and emit goes on', () => {
    class Plain extends TypedEmitter<Events> {
      fire(): boolean {
        return this.emit('tick', { n: 1 });
      }
    }
    const e = new Plain();
    let after = 0;
    e.on('tick', () => {
      throw new Error('x');
    });
    e.on('tick', () => after++);
    assert.equal(e.fire(), true);
    assert.equal(after, 1);
  });
});
