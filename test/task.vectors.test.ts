/**
 * The task wire format against the Go original's own bytes: test/interop/vectors.json holds what Go's
 * encoding/json makes of the original's Task for a corpus of tasks (made by `npm run test:interop`, which
 * needs Go; this test does not). Encoding must match byte for byte, so a TypeScript master never rewrites
 * a value a Go master wrote (each rewrite is a second `add` for a Go worker), and decoding then re-encoding
 * must give the same bytes back.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { decodeTask, encodeTask, type Task } from '../src/task.js';
import type { Vector, VectorFile } from './interop/corpus.js';

const file = JSON.parse(
  readFileSync(new URL('./interop/vectors.json', import.meta.url), 'utf8'),
) as VectorFile;

/** The task a vector describes: `raw` null is no payload, '' an empty one. */
function taskOf(v: Vector): Task {
  const task: Task = { id: v.id, priority: Number(v.p), key: v.key, group: v.group };
  if (v.raw !== null) task.raw = new Uint8Array(Buffer.from(v.raw, 'base64'));
  return task;
}

describe('task wire format: the Go test vectors', () => {
  it('has a corpus', () => {
    assert.ok(file.vectors.length >= 50, `${file.vectors.length} vectors`);
  });

  for (const v of file.vectors) {
    it(`encodes ${v.name} as Go does`, () => {
      assert.equal(encodeTask(taskOf(v)), v.go);
    });

    it(`decodes ${v.name} and encodes it back to the same bytes`, () => {
      const t = decodeTask(v.go);
      assert.equal(t.id, v.id);
      assert.ok(Object.is(t.priority ?? 0, Number(v.p)), `priority ${t.priority} vs ${v.p}`);
      assert.equal(t.key ?? '', v.key);
      assert.equal(t.group ?? '', v.group);
      if (v.raw === null) assert.equal(t.raw, undefined, 'no payload stays no payload');
      else assert.equal(Buffer.from(t.raw ?? new Uint8Array()).toString('base64'), v.raw);
      assert.equal(encodeTask(t), v.go);
    });

    it(`${v.name}: no weight field decodes to weight 1, and weight 1 encodes to Go's bytes`, () => {
      assert.equal(decodeTask(v.go).weight ?? 1, 1);
      assert.equal(encodeTask({ ...taskOf(v), weight: 1 }), v.go);
    });
  }
});
