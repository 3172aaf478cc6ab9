import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { collectStatus, renderStatus } from '../src/cli/status.js';
import { keys } from '../src/scheduler/keys.js';
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
});
