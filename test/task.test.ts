import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidTaskError } from '../src/errors.js';
import { decodeTask, encodeTask, MAX_TASK_WEIGHT, validateTask } from '../src/task.js';

const enc = new TextEncoder();

describe('task wire format (the original Go JSON)', () => {
  it('encodes byte for byte as encoding/json does', () => {
    const task = { id: '10', raw: enc.encode('raw data for task 10') };
    assert.equal(
      encodeTask(task),
      '{"P":0,"Key":"","Group":"","ID":"10","Raw":"cmF3IGRhdGEgZm9yIHRhc2sgMTA="}',
    );
    assert.equal(
      encodeTask({ id: 'btcusdt', priority: 10, group: 'spot' }),
      '{"P":10,"Key":"","Group":"spot","ID":"btcusdt","Raw":null}',
    );
    assert.equal(
      encodeTask({ id: 'a', priority: 0.5, key: 'k<&>' }),
      '{"P":0.5,"Key":"k\\u003c\\u0026\\u003e","Group":"","ID":"a","Raw":null}',
    );
    assert.equal(
      encodeTask({ id: 'a', priority: 1e21 }),
      '{"P":1e+21,"Key":"","Group":"","ID":"a","Raw":null}',
    );
    assert.equal(
      encodeTask({ id: 'a', priority: 1e-7 }),
      '{"P":1e-7,"Key":"","Group":"","ID":"a","Raw":null}',
    );
    assert.equal(
      encodeTask({ id: 'a', priority: 1.5e-7 }),
      '{"P":1.5e-7,"Key":"","Group":"","ID":"a","Raw":null}',
    );
    // Go's empty non-nil []byte is "", nil is null
    assert.equal(
      encodeTask({ id: 'a', raw: new Uint8Array(0) }),
      '{"P":0,"Key":"","Group":"","ID":"a","Raw":""}',
    );
    assert.deepEqual(decodeTask('{"P":0,"Key":"","Group":"","ID":"a","Raw":""}'), {
      id: 'a',
      raw: new Uint8Array(0),
    });
  });

  it('reads back what the original writes into an equal task', () => {
    const t = decodeTask(
      '{"P":10,"Key":"k1","Group":"spot","ID":"btcusdt","Raw":"cmF3IGRhdGEgZm9yIHRhc2sgMTA="}',
    );
    assert.deepEqual(t, {
      id: 'btcusdt',
      priority: 10,
      key: 'k1',
      group: 'spot',
      raw: new Uint8Array(enc.encode('raw data for task 10')),
    });
    assert.deepEqual(decodeTask('{"P":0,"Key":"","Group":"","ID":"x","Raw":null}'), { id: 'x' });
    // Go matches field names case-insensitively
    assert.deepEqual(decodeTask('{"id":"y","p":2}'), { id: 'y', priority: 2 });
  });

  it('round-trips', () => {
    const t = { id: 'a-1', priority: -3.25, key: 'é"\\', group: 'g\u2028', raw: new Uint8Array([0, 255, 1]) };
    assert.deepEqual(decodeTask(encodeTask(t)), t);
  });

  it('rejects malformed values with the id', () => {
    assert.throws(
      () => decodeTask('nope', 'abc'),
      (e: unknown) => e instanceof InvalidTaskError && /abc/.test(e.message),
    );
    assert.throws(() => decodeTask('{"P":1}', 'abc'), InvalidTaskError);
  });

  it('validates ids and payload sizes', () => {
    for (const id of ['', 'a/b', '..', 'a..b', 'x\ny', 'x'.repeat(257)]) {
      assert.throws(() => validateTask({ id }), InvalidTaskError, `id ${JSON.stringify(id)}`);
    }
    assert.throws(() => validateTask({ id: 'big', raw: new Uint8Array(2 * 1024 * 1024) }), /big/);
    validateTask({ id: 'ok.name_1-2', raw: new Uint8Array(1000) });
  });

  it('writes the weight as an extra "W" field only when it is not 1, and reads it back', () => {
    const base = '{"P":0,"Key":"","Group":"","ID":"x","Raw":null}';
    assert.equal(encodeTask({ id: 'x', weight: 1 }), base);
    assert.equal(encodeTask({ id: 'x' }), base);
    assert.equal(
      encodeTask({ id: 'x', weight: 20 }),
      '{"P":0,"Key":"","Group":"","ID":"x","Raw":null,"W":20}',
    );
    assert.deepEqual(decodeTask('{"P":0,"Key":"","Group":"","ID":"x","Raw":null,"W":20}'), {
      id: 'x',
      weight: 20,
    });
    assert.deepEqual(
      decodeTask('{"ID":"x","w":7}'),
      { id: 'x', weight: 7 },
      'case-insensitive, like the rest',
    );
    assert.deepEqual(decodeTask('{"ID":"x","W":1}'), { id: 'x' }, 'weight 1 is the default');
    for (const bad of ['0', '-2', '1.5', '"3"', '1000001', 'null']) {
      assert.throws(
        () => decodeTask(`{"ID":"x","W":${bad}}`),
        (e: unknown) => e instanceof InvalidTaskError && /"W"/.test(e.message) && /x/.test(e.message),
        bad,
      );
    }
    const t = { id: 'heavy', priority: 2, key: 'k', group: 'g', raw: new Uint8Array([1]), weight: 1_000_000 };
    assert.deepEqual(decodeTask(encodeTask(t)), t);
  });

  it('validates the weight: an integer in 1..1,000,000, named in the error', () => {
    for (const weight of [0, -1, 1.5, Number.NaN, 1_000_001, '2' as unknown as number]) {
      assert.throws(
        () => validateTask({ id: 'w', weight }),
        (e: unknown) => e instanceof InvalidTaskError && /weight/.test(e.message) && /"w"/.test(e.message),
        String(weight),
      );
    }
    validateTask({ id: 'w', weight: 1 });
    validateTask({ id: 'w', weight: MAX_TASK_WEIGHT });
  });
});
