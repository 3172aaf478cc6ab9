/**
 * The dashboard's fleet model (pure): the counts it keeps up to date put by put equal those of a model
 * loaded from scratch with the final keys (fast-check, random puts and deletes); the records it shows are
 * read defensively; the search finds tasks; the control endpoint's request checks.
 */
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { crossOrigin, parseAction } from '../src/cli/dashboard/control.js';
import { FleetState } from '../src/cli/dashboard/fleet.js';
import type { WireKv } from '../src/cli/dashboard/protocol.js';
import { compactTask, readHealth, readTask } from '../src/cli/dashboard/records.js';
import { encodeTask } from '../src/task.js';

const workers = ['w1', 'w2', 'w3'];
const ids = ['a', 'b', 'c', 'd', 'e'];
const groups = ['', 'spot', 'swap'];
/** A task's group is part of the task: the same on every assignment of its id. */
const groupOf = (id: string) => groups[ids.indexOf(id) % groups.length];

const op = fc.oneof(
  fc.record({ kind: fc.constant('worker' as const), w: fc.constantFrom(...workers), del: fc.boolean() }),
  fc.record({
    kind: fc.constant('task' as const),
    w: fc.constantFrom(...workers, 'gone'),
    id: fc.constantFrom(...ids),
    weight: fc.constantFrom(1, 2, 3),
    del: fc.boolean(),
  }),
  fc.record({
    kind: fc.constant('claim' as const),
    w: fc.constantFrom(...workers, 'gone'),
    id: fc.constantFrom(...ids),
    del: fc.boolean(),
  }),
);
type Op = typeof op extends fc.Arbitrary<infer T> ? T : never;

function toKv(o: Op): [string, WireKv | undefined] {
  if (o.kind === 'worker')
    return [`worker/${o.w}`, o.del ? undefined : [`worker/${o.w}`, 'running', 'l1', 1, 0]];
  if (o.kind === 'task') {
    const key = `task/${o.w}/${o.id}`;
    const value = JSON.stringify({
      P: 0,
      Key: '',
      Group: groupOf(o.id),
      ID: o.id,
      Raw: null,
      W: o.weight,
    });
    return [key, o.del ? undefined : [key, value, '0', 1, 0]];
  }
  const key = `claim/${o.id}`;
  return [key, o.del ? undefined : [key, o.w, 'l1', 1, 0]];
}

/** The per-worker counts of the final keys, counted the plain way. */
function reference(keys: Map<string, WireKv>) {
  const v = new FleetState().view();
  const online = [...keys.keys()]
    .filter((k) => k.startsWith('worker/'))
    .map((k) => k.slice(7))
    .sort();
  const tasks = [...keys.values()]
    .filter(([k]) => k.startsWith('task/'))
    .map(([k, value]) => {
      const [, worker, id] = k.split('/');
      return { worker, id, group: groupOf(id), weight: (JSON.parse(value) as { W: number }).W };
    });
  const claims = [...keys.values()]
    .filter(([k]) => k.startsWith('claim/'))
    .map(([k, worker]) => ({ id: k.slice(6), worker }));
  const workers = online.map((name) => {
    const mine = tasks.filter((t) => t.worker === name);
    const held = claims.filter((c) => c.worker === name);
    const groups: Record<string, { assigned: number; claimed: number }> = {};
    for (const t of mine) {
      groups[t.group] ??= { assigned: 0, claimed: 0 };
      groups[t.group].assigned++;
    }
    for (const c of held) {
      const g = tasks.some((t) => t.id === c.id) ? groupOf(c.id) : '';
      groups[g] ??= { assigned: 0, claimed: 0 };
      groups[g].claimed++;
    }
    return {
      name,
      online: true,
      lease: 'l1',
      ttl: undefined,
      assigned: mine.length,
      claimed: held.length,
      load: mine.reduce((s, t) => s + t.weight, 0),
      groups,
      node: undefined,
      health: undefined,
      control: undefined,
      restarting: undefined,
    };
  });
  const groupList = [...new Set(tasks.map((t) => t.group))].sort();
  const groupSpread: Record<string, { min: number; max: number }> = {};
  for (const g of groupList) {
    const c = workers.map((w) => w.groups[g]?.assigned ?? 0);
    groupSpread[g] = { min: Math.min(...c), max: Math.max(...c) };
  }
  const totals = workers.map((w) => w.assigned);
  const min = totals.length ? Math.min(...totals) : 0;
  const max = totals.length ? Math.max(...totals) : 0;
  return {
    ...v,
    workers,
    groups: groupList,
    tasks: new Set(tasks.map((t) => t.id)).size,
    claims: claims.length,
    orphaned: tasks.filter((t) => !online.includes(t.worker)).length,
    strayClaims: claims.filter((c) => !online.includes(c.worker)).length,
    groupSpread,
    balance: { min, max, spread: max - min },
  };
}

describe('dashboard fleet model', () => {
  test('counts kept put by put equal a fresh load of the final keys (in any order) and a plain count', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        const live = new FleetState();
        const keys = new Map<string, WireKv>();
        for (const o of ops) {
          const [key, kv] = toKv(o);
          if (kv) {
            live.put(kv);
            keys.set(key, kv);
          } else {
            live.delete(key);
            keys.delete(key);
          }
        }
        // A snapshot comes in key order (claims before tasks); the reverse order too must give the same.
        const sorted = [...keys.values()].sort((x, y) => (x[0] < y[0] ? -1 : 1));
        for (const order of [sorted, [...sorted].reverse()]) {
          const fresh = new FleetState();
          fresh.load(order);
          assert.deepEqual(live.view(), fresh.view());
        }
        assert.deepEqual(live.view(), reference(keys));
      }),
      { numRuns: 300 },
    );
  });

  test('view: leader by election order, barrier, per-group counts, load with weights, control records', () => {
    const f = new FleetState();
    f.load([
      ['election/2', 'm2', '2', 12, 0],
      ['election/1', 'm1', '1', 10, 0],
      ['worker/w1', 'running', 'aa', 3, 0],
      ['worker/w2', 'running', 'bb', 4, 0],
      ['task/w1/x', encodeTask({ id: 'x', group: 'spot' }), '0', 5, 0],
      ['task/w1/y', '{"ID":"y","Group":"swap","W":3}', '0', 5, 0],
      ['claim/x', 'w1', 'aa', 6, 0],
      ['worker_barrier_left', '2026-01-01T00:00:00Z', '0', 7, 0],
      ['control/worker/w2', '{"state":"cordoned","by":"ops","reason":"disk"}', '0', 8, 0],
      ['control/pause', '{"by":"ops"}', '0', 9, 0],
      ['node/w1', '{"capacity":10,"version":"0.1.0"}', 'aa', 9, 0],
      [
        'health/w1',
        '{"counts":{"running":1,"failing":1},"failing":[{"id":"y","state":"failing","attempts":4,"lastError":"boom"}]}',
        'aa',
        9,
        0,
      ],
      ['status/master', 'not json', '0', 9, 0],
    ]);
    f.ttl.set('aa', 7);
    const v = f.view();
    assert.equal(v.leader, 'm1');
    assert.deepEqual(v.standbyMasters, ['m2']);
    assert.equal(v.barrier.passed, true);
    const w1 = v.workers.find((w) => w.name === 'w1')!;
    assert.deepEqual(
      { assigned: w1.assigned, claimed: w1.claimed, load: w1.load, ttl: w1.ttl, cap: w1.node?.capacity },
      { assigned: 2, claimed: 1, load: 4, ttl: 7, cap: 10 },
    );
    assert.deepEqual(w1.groups, { spot: { assigned: 1, claimed: 1 }, swap: { assigned: 1, claimed: 0 } });
    assert.equal(v.workers.find((w) => w.name === 'w2')!.control?.state, 'cordoned');
    assert.equal(v.paused?.by, 'ops');
    assert.deepEqual(
      v.failing.map((x) => [x.worker, x.id, x.attempts, x.lastError]),
      [['w1', 'y', 4, 'boom']],
    );
    assert.equal(v.lastSchedule, undefined, 'an unreadable report is no report');
    assert.deepEqual(v.groups, ['spot', 'swap']);
    assert.deepEqual(v.balance, { min: 0, max: 2, spread: 2 });
  });

  test('a worker away for a restart (issue 15) keeps its row and its held tasks; they are not orphaned', () => {
    const f = new FleetState();
    f.load([
      ['worker/w1', 'running', 'aa', 1, 0],
      ['restarting/w2', '{"at":1764600000000,"graceMs":30000,"by":"host:1"}', 'cc', 2, 0],
      ['restarting/w3', 'garbage', 'dd', 2, 0],
      ['task/w2/x', encodeTask({ id: 'x' }), '0', 3, 0],
      ['task/w9/y', encodeTask({ id: 'y' }), '0', 3, 0],
    ]);
    f.ttl.set('cc', 12);
    const v = f.view();
    assert.deepEqual(
      v.workers.map((w) => [w.name, w.online, w.assigned, w.lease, w.ttl]),
      [
        ['w1', true, 0, 'aa', undefined],
        ['w2', false, 1, 'cc', 12],
        ['w3', false, 0, 'dd', undefined],
      ],
    );
    assert.deepEqual(v.workers[1].restarting, {
      at: 1764600000000,
      graceMs: 30000,
      by: 'host:1',
      lease: 'cc',
    });
    assert.deepEqual(v.workers[2].restarting, { lease: 'dd' }, 'an unreadable marker still means a restart');
    assert.equal(v.orphaned, 1, 'only the task of w9, which is gone');
    f.delete('restarting/w2');
    assert.equal(f.view().orphaned, 2);
  });

  test('search: exact id first, then ids containing the query; where it runs and since when', () => {
    const f = new FleetState();
    f.load([
      ['worker/w1', 'running', 'aa', 1, 0],
      ['task/w1/btc', encodeTask({ id: 'btc', group: 'spot' }), '0', 2, 0],
      ['task/w1/btc-usd', encodeTask({ id: 'btc-usd' }), '0', 2, 0],
      ['task/w1/eth', encodeTask({ id: 'eth' }), '0', 2, 0],
    ]);
    f.put(['claim/btc', 'w1', 'aa', 3, 1234]);
    const hits = f.search('BTC');
    assert.deepEqual(
      hits.map((h) => [h.id, h.group, h.assigned, h.claimedBy, h.since]),
      [
        ['btc', 'spot', ['w1'], 'w1', 1234],
        ['btc-usd', '', ['w1'], undefined, 0],
      ],
    );
    assert.deepEqual(f.search('  '), []);
  });

  test('records are read defensively: wrong types and garbage never throw', () => {
    assert.deepEqual(readTask('[1]'), {
      group: '?',
      weight: 1,
      priority: 0,
      key: '',
      bad: 'not a JSON object',
    });
    assert.deepEqual(readTask('{"group":"g","W":-2,"p":5}'), {
      group: 'g',
      weight: 1,
      priority: 5,
      key: '',
    });
    assert.equal(readHealth('{"counts":"x","failing":[null,{"id":3}]}')?.failing[0].id, '?');
    const big = encodeTask({ id: 'x', group: 'g', raw: new Uint8Array(10_000) });
    assert.equal(compactTask(big), '{"P":0,"Key":"","Group":"g"}', 'the payload is not sent to the page');
  });

  test('control requests: actions checked by name and field; cross-origin writes refused', () => {
    assert.deepEqual(parseAction({ action: 'cordon', worker: 'w1' }), { action: 'cordon', worker: 'w1' });
    assert.match(String(parseAction({ action: 'cordon' })), /"worker" is required/);
    assert.match(String(parseAction({ action: 'nuke' })), /"action" must be one of/);
    assert.match(String(parseAction({ action: 'pin', task: 't' })), /"worker" is required/);
    const req = (headers: Record<string, string>) => ({ headers }) as unknown as IncomingMessage;
    const same = {
      host: '127.0.0.1:7483',
      origin: 'http://127.0.0.1:7483',
      'content-type': 'application/json',
    };
    assert.equal(crossOrigin(req(same)), undefined);
    assert.match(String(crossOrigin(req({ ...same, origin: 'http://evil.example' }))), /not this server/);
    assert.match(
      String(crossOrigin(req({ host: same.host, 'content-type': 'application/json' }))),
      /missing Origin/,
    );
    assert.match(String(crossOrigin(req({ ...same, 'sec-fetch-site': 'cross-site' }))), /Sec-Fetch-Site/);
    assert.match(String(crossOrigin(req({ ...same, 'content-type': 'text/plain' }))), /content-type/);
  });
});
