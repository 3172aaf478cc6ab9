import { InvalidTaskError } from './errors.js';

/** True when `s` holds a control character (U+0000–U+001F, U+007F). */
export function hasControlChar(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return true;
  }
  return false;
}

/** A long-running task, as the generator describes it and as a worker receives it. */
export interface Task {
  /** Short name that identifies the task; unique; no `/`, `..` or control characters. */
  id: string;
  /** Higher runs (and is assigned) first. @default 0 */
  priority?: number;
  /** Tasks sharing a non-empty key stay together on one worker. @default '' */
  key?: string;
  /** Balancing group: load is balanced per group and in total. @default '' */
  group?: string;
  /** Opaque payload. Absent encodes as Go's nil (`"Raw":null`), an empty array as `"Raw":""`. @default none */
  raw?: Uint8Array;
  /**
   * What the task costs, relative to others: an integer in 1..{@link MAX_TASK_WEIGHT}. The planner
   * balances the sum of weights (see `rebalance`). Stored as an extra field `"W"` only when ≠ 1, so a task
   * of weight 1 encodes byte-identically to the Go original, and Go workers ignore the field. @default 1
   */
  weight?: number;
}

/** Largest task weight accepted. */
export const MAX_TASK_WEIGHT = 1_000_000;

/** Longest task id accepted. */
export const MAX_TASK_ID_LENGTH = 256;
/** Largest encoded task value accepted: under etcd's 1.5 MiB request limit with room for the txn. */
export const MAX_TASK_VALUE_BYTES = 1024 * 1024;

/** Throws {@link InvalidTaskError} naming the task when it cannot be stored safely. */
export function validateTask(task: Task): void {
  const id: unknown = task?.id;
  if (typeof id !== 'string' || id.length === 0) {
    throw new InvalidTaskError(String(id), `task id must be a non-empty string, got ${JSON.stringify(id)}`);
  }
  if (id.length > MAX_TASK_ID_LENGTH) {
    throw new InvalidTaskError(
      id,
      `task ${JSON.stringify(id.slice(0, 40))}…: id longer than ${MAX_TASK_ID_LENGTH}`,
    );
  }
  if (id === '.' || id.includes('/') || id.includes('..') || hasControlChar(id)) {
    throw new InvalidTaskError(
      id,
      `task ${JSON.stringify(id)}: id must not be '.' nor contain '/', '..' or control characters`,
    );
  }
  if (task.priority !== undefined && !Number.isFinite(task.priority)) {
    throw new InvalidTaskError(id, `task ${JSON.stringify(id)}: priority must be a finite number`);
  }
  const weight: unknown = task.weight;
  if (
    weight !== undefined &&
    !(typeof weight === 'number' && Number.isInteger(weight) && weight >= 1 && weight <= MAX_TASK_WEIGHT)
  ) {
    throw new InvalidTaskError(
      id,
      `task ${JSON.stringify(id)}: weight must be an integer in 1..${MAX_TASK_WEIGHT}, got ${JSON.stringify(weight)}`,
    );
  }
  if (task.raw !== undefined && !(task.raw instanceof Uint8Array)) {
    throw new InvalidTaskError(id, `task ${JSON.stringify(id)}: raw must be a Uint8Array`);
  }
  const size = encodedTaskSize(task);
  if (size > MAX_TASK_VALUE_BYTES) {
    throw new InvalidTaskError(
      id,
      `task ${JSON.stringify(id)}: encoded value is ${size} bytes, more than ${MAX_TASK_VALUE_BYTES}`,
    );
  }
}

function encodedTaskSize(task: Task): number {
  const raw = task.raw?.length ?? 0;
  // Cheap bound first (a UTF-16 unit is at most 3 UTF-8 bytes): most tasks are far below the limit.
  const units = task.id.length + (task.key?.length ?? 0) + (task.group?.length ?? 0);
  const bound = Math.ceil(raw / 3) * 4 + units * 18 + 80;
  if (bound <= MAX_TASK_VALUE_BYTES) return bound;
  return (
    Math.ceil(raw / 3) * 4 +
    Buffer.byteLength(task.id) * 6 +
    Buffer.byteLength(task.key ?? '') * 6 +
    Buffer.byteLength(task.group ?? '') * 6 +
    80
  );
}

/** Printable ASCII but `"`, `\`, `<`, `>`, `&`: encoded as is (the common case, without a loop). */
const PLAIN = /^[\x20\x21\x23-\x25\x27-\x3b\x3d\x3f-\x5b\x5d-\x7e]*$/;

/**
 * Go's `encoding/json` string encoding: escapes `"`, `\`, control characters, and also `<`, `>`, `&`,
 * U+2028 and U+2029 (Go's HTML-safe default), so our bytes equal the original's.
 */
function goString(s: string): string {
  if (PLAIN.test(s)) return `"${s}"`;
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (c < 0x20 || ch === '<' || ch === '>' || ch === '&' || c === 0x2028 || c === 0x2029) {
      out += `\\u${c.toString(16).padStart(4, '0')}`;
    } else out += ch;
  }
  return `${out}"`;
}

/**
 * Go's float64 encoding: `strconv.AppendFloat(f, 'f' or 'e', -1, 64)`, the 'e' form for |f| < 1e-6 or
 * ≥ 1e21, and `encoding/json` then trims a negative exponent's leading zero (`1e-07` → `1e-7`). That is
 * exactly JavaScript's shortest round-trip `Number#toString` (same thresholds, `1e-7`, `1.5e-7`, `1e+21`),
 * except for negative zero, which Go writes as `-0`. Checked byte for byte against the original's
 * encodings in test/interop/vectors.json.
 */
function goFloat(f: number): string {
  return Object.is(f, -0) ? '-0' : String(f);
}

/**
 * Encodes a task exactly as the original stores it: `{"P":..,"Key":..,"Group":..,"ID":..,"Raw":..}`, plus
 * `,"W":n` at the end when the weight is not 1 (no Go field matches "W", even case-insensitively).
 */
export function encodeTask(task: Task): string {
  // Go's []byte: nil is `null`, an empty non-nil slice is `""`.
  const raw = task.raw ? `"${Buffer.from(task.raw).toString('base64')}"` : 'null';
  const weight = task.weight !== undefined && task.weight !== 1 ? `,"W":${task.weight}` : '';
  return `{"P":${goFloat(task.priority ?? 0)},"Key":${goString(task.key ?? '')},"Group":${goString(
    task.group ?? '',
  )},"ID":${goString(task.id)},"Raw":${raw}${weight}}`;
}

/** Decodes a task value written by the original or by us. Throws {@link InvalidTaskError} when malformed. */
export function decodeTask(value: string, idHint = '?'): Task {
  let o: unknown;
  try {
    o = JSON.parse(value);
  } catch (err) {
    throw new InvalidTaskError(
      idHint,
      `task ${JSON.stringify(idHint)}: value is not JSON: ${(err as Error).message}`,
    );
  }
  if (typeof o !== 'object' || o === null) {
    throw new InvalidTaskError(idHint, `task ${JSON.stringify(idHint)}: value is not a JSON object`);
  }
  // Go's encoding/json matches field names case-insensitively.
  const fields = new Map<string, unknown>();
  for (const [k, v] of Object.entries(o)) fields.set(k.toLowerCase(), v);
  const id = fields.get('id');
  if (typeof id !== 'string') {
    throw new InvalidTaskError(idHint, `task ${JSON.stringify(idHint)}: "ID" is not a string`);
  }
  const task: Task = { id };
  const p = fields.get('p');
  if (typeof p === 'number' && !Object.is(p, 0)) task.priority = p; // Go writes -0 as -0: keep it
  const key = fields.get('key');
  if (typeof key === 'string' && key !== '') task.key = key;
  const group = fields.get('group');
  if (typeof group === 'string' && group !== '') task.group = group;
  const raw = fields.get('raw');
  // `"Raw":""` is Go's empty non-nil slice: keep it empty (not absent) so it encodes back to the same bytes.
  if (typeof raw === 'string') task.raw = new Uint8Array(Buffer.from(raw, 'base64'));
  const weight = fields.get('w');
  if (weight !== undefined && weight !== 1) {
    if (
      !(typeof weight === 'number' && Number.isInteger(weight) && weight >= 1 && weight <= MAX_TASK_WEIGHT)
    ) {
      throw new InvalidTaskError(
        id,
        `task ${JSON.stringify(id)}: "W" must be an integer in 1..${MAX_TASK_WEIGHT}, got ${JSON.stringify(weight)}`,
      );
    }
    task.weight = weight;
  }
  return task;
}
