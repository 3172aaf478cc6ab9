import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { collectStatus, renderStatus } from '../src/cli/status.js';
import { keys } from '../src/scheduler/keys.js';
import { encodeMarker } from '../src/scheduler/restart.js';
import { MemoryStore } from '../src/store/memory.js';

describe('escheduler status', () => {
  it('says so when /<root>/status/master was written by a master that no longer leads (a Go master took over)', async () => {
    const store = new MemoryStore({ seed: 7 });
    const k = keys('stale');
    const report = {
      leader: 'ts-master',
      time: '2026-12-01T00:00:00Z',
      reason: 'interval',
      result: 'ok',
      workers: 1,
      tasks: 1,
      assigned: 0,
      revoked: 0,
      moves: 0,
      txns: 0,
      durationMs: 1,
      errors: [],
    };
    await store.put(k.masterStatus, JSON.stringify(report));
    // The TS master is gone; a Go master leads (its election key, which never writes status/master).
    const lease = await store.grantLease(10);
    await store.put(`${k.election}/${lease.id}`, 'go-master', { lease: lease.id });
    const s = await collectStatus(store, 'stale');
    assert.equal(s.leader, 'go-master');
    assert.equal(s.lastSchedule?.leader, 'ts-master');
    assert.match(s.lastScheduleStale ?? '', /ts-master, which no longer leads; the leader go-master/);
    assert.match(renderStatus(s), /stale: written by ts-master/);

    // Written by the leader itself: not stale.
    await store.put(k.masterStatus, JSON.stringify({ ...report, leader: 'go-master' }));
    const fresh = await collectStatus(store, 'stale');
    assert.equal(fresh.lastScheduleStale, null);
    assert.doesNotMatch(renderStatus(fresh), /\(stale:/);
    await store.close();
  });

  it('shows a restarting worker with its held tasks and the time left of its grace, not as orphaned', async () => {
    const store = new MemoryStore({ seed: 15 });
    const k = keys('restarting');
    const live = await store.grantLease(10);
    await store.put(k.worker('w1'), 'running', { lease: live.id });
    await store.put(k.task('w1', 'a'), '{}');
    await store.put(k.task('w2', 'b'), '{}');
    await store.put(k.task('w2', 'c'), '{}');
    await store.put(k.task('w3', 'd'), '{}');
    const grace = await store.grantLease(30);
    await store.put(
      k.restarting('w2'),
      encodeMarker({ at: Date.parse('2026-12-01T10:00:00Z'), graceMs: 30_000 }),
      {
        lease: grace.id,
      },
    );
    const s = await collectStatus(store, 'restarting');
    assert.equal(s.restarting.length, 1);
    const r = s.restarting[0];
    assert.deepEqual(
      [r.name, r.held.sort(), r.graceMs, r.since],
      ['w2', ['b', 'c'], 30_000, '2026-12-01T10:00:00.000Z'],
    );
    assert.ok(r.ttl > 0 && r.ttl <= 30, `ttl ${r.ttl}`);
    assert.deepEqual(s.orphaned, [{ worker: 'w3', id: 'd' }], 'held tasks are not orphaned');
    assert.match(renderStatus(s), /restarting: w2 · 2 tasks held \(not running\) · \d+s left of its grace/);
    await store.close();
  });
  it('lists the standbys first in line first, with their pid and host, and two other candidates as candidates', async () => {
    const store = new MemoryStore({ seed: 19 });
    const k = keys('standbys');
    const lease = await store.grantLease(10);
    for (const [name, pid] of [
      ['s2', 22],
      ['s1', 11],
    ] as const) {
      await store.put(
        k.standby(name),
        JSON.stringify({ since: '2026-12-01T10:00:00.000Z', pid, host: 'h' }),
        { lease: lease.id },
      );
    }
    await store.put(k.standby('odd'), 'not json', { lease: lease.id });
    for (const m of ['m1', 'm2', 'm3']) await store.put(`${k.election}/${m}`, m, { lease: lease.id });
    const s = await collectStatus(store, 'standbys');
    assert.deepEqual(
      s.standbys.map((b) => [b.name, b.pid, b.host, b.since]),
      [
        ['s2', 22, 'h', '2026-12-01T10:00:00.000Z'],
        ['s1', 11, 'h', '2026-12-01T10:00:00.000Z'],
        ['odd', null, null, null],
      ],
      'in arrival (create) order, not by name',
    );
    const text = renderStatus(s);
    assert.match(text, /leader m1 \(\+2 candidates\)/);
    assert.match(
      text,
      /standby \(fleet full, waiting for a slot, first in line first\): 3\n {2}s2 since 2026-12-01T10:00:00.000Z \(h pid 22\)\n {2}s1 /,
    );
    await store.close();
  });
});
