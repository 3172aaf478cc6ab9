/**
 * The corpus of tasks whose Go encodings are the test vectors (`vectors.json`): empty and nil payloads,
 * binary payloads of every base64 padding, unicode and escaped ids, keys and groups, priorities from 1e-9
 * to 1e21 and past both ends of Go's fixed-notation range, negative, fractional and -0.
 *
 * Priorities travel as text (`p`) because JSON.stringify writes -0 as 0; every text here is JavaScript's
 * shortest round-trip form, which Go's strconv.ParseFloat reads back to the same float64.
 */

export interface CorpusEntry {
  name: string;
  id: string;
  /** The priority as text (`String(n)`, `-0` for minus zero). */
  p: string;
  key: string;
  group: string;
  /** Base64 of the payload; `null` for no payload (Go nil), `''` for an empty non-nil one. */
  raw: string | null;
}

/** One entry of `vectors.json`: the corpus entry and what Go's encoding/json made of it. */
export interface Vector extends CorpusEntry {
  go: string;
}

export interface VectorFile {
  comment: string;
  vectors: Vector[];
}

const b64 = (bytes: number[] | string): string =>
  Buffer.from(typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : Uint8Array.from(bytes)).toString(
    'base64',
  );

function pText(p: number): string {
  return Object.is(p, -0) ? '-0' : String(p);
}

const base = { key: '', group: '', raw: null } as const;

const payloads: [string, string | null][] = [
  ['nil payload', null],
  ['empty payload', ''],
  ['one byte (two = padding)', b64([0])],
  ['two bytes (one = padding)', b64([0xff, 0xfe])],
  ['three bytes (no padding)', b64([1, 2, 3])],
  ['every byte value', b64(Array.from({ length: 256 }, (_, i) => i))],
  ['utf-8 text', b64('raw data for task 10')],
  ['json text', b64('{"a":[1,2],"b":null}')],
];

const priorities = [
  0,
  1,
  -1,
  10,
  0.5,
  -3.25,
  0.1,
  0.30000000000000004,
  1e-9,
  1e-8,
  1e-7,
  1.5e-7,
  -1e-7,
  9.99e-7,
  9.999999e-7,
  1e-6,
  1.5e-6,
  0.000123,
  1e-5,
  123456.789,
  2 ** 53,
  2 ** 53 + 2,
  1e15,
  1e20,
  9.999999999999999e20,
  1e21,
  1.5e21,
  -1e21,
  1e22,
  1e100,
  1e300,
  1e-100,
  Number.MAX_VALUE,
  Number.MIN_VALUE,
  -Number.MIN_VALUE,
  -0,
];

const strings: [string, Partial<Pick<CorpusEntry, 'id' | 'key' | 'group'>>][] = [
  ['ascii', { id: 'btcusdt', group: 'spot' }],
  ['with key', { id: 'ethusdt', key: 'eth', group: 'spot' }],
  ['latin-1', { id: 'café', key: 'clé', group: 'grüppe' }],
  ['cjk', { id: '任务-1', group: '现货' }],
  ['emoji (astral plane)', { id: 'rocket-🚀', key: '🔑', group: '👥' }],
  ['html-unsafe characters', { id: 'a<b>&c', key: '<script>', group: '&amp;' }],
  ['quotes and backslashes', { id: 'say "hi"', key: 'back\\slash', group: "it's" }],
  ['line and paragraph separators', { id: 'ls\u2028ps\u2029', group: '\u2028' }],
  ['control characters in key and group', { id: 'ctl', key: '\u0000\u0001\u001f', group: 'tab\tnl\ncr\r' }],
  ['DEL and C1 controls', { id: 'del', key: '\u007f\u0080\u009f', group: '\u00a0' }],
  ['byte order mark and replacement char', { id: 'bom\ufeff', group: '\ufffd' }],
  ['long id', { id: 'x'.repeat(256) }],
];

/** Every corpus entry, in a stable order. */
export function corpus(): CorpusEntry[] {
  const out: CorpusEntry[] = [];
  for (const [name, raw] of payloads) out.push({ ...base, name, id: 'payload', p: '0', raw });
  for (const p of priorities) out.push({ ...base, name: `priority ${pText(p)}`, id: 'prio', p: pText(p) });
  for (const [name, s] of strings) {
    out.push({
      ...base,
      name,
      id: s.id ?? 'id',
      p: '1',
      key: s.key ?? '',
      group: s.group ?? '',
      raw: b64('x'),
    });
  }
  out.push({
    ...base,
    name: 'everything at once',
    id: 'all-Ünïcødé-🚀',
    p: pText(-1.5e-7),
    key: 'k"\\<',
    group: 'g\u2028',
    raw: '',
  });
  return out;
}

export const VECTORS_COMMENT =
  "Go encoding/json bytes of the original's Task (github.com/stonever/escheduler v0.1.59) for the corpus of test/interop/corpus.ts. Made by `npm run test:interop` (test/interop/driver); checked byte for byte by test/task.vectors.test.ts. Do not edit by hand.";
