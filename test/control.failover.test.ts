/**
 * Every control survives a SIGKILL of the leading master (issue 13): masters are `escheduler run
 * --no-worker` processes on a real etcd, workers run in this process. After the leader is killed, the next
 * leader — which never saw the control change happen — honours the cordon, the drain and the pin through a
 * join and a task-set change, then the pause through another kill and a leave. "Never happened" is read
 * back from etcd's history.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Admin } from '../src/scheduler/control/admin.js';
import type { ScheduleReport } from '../src/scheduler/master.js';
import { EtcdStore } from '../src/store/etcd.js';
import { CliProcess, killAll } from './fixtures/cli-process.js';
import { waitFor } from './helpers/async.js';
import { sharedEndpoints } from './helpers/etcd.js';
import { exactlyOnce, Fleet, spread } from './helpers/fleet.js';
import { eventsSince } from './helpers/history.js';

const dir = mkdtempSync(join(tmpdir(), 'escheduler-control-failover-'));
const tasksFile = join(dir, 'tasks.json');
const writeTasks = (n: number) => {
  const tasks = Fleet.tasks(n);
  writeFileSync(tasksFile, JSON.stringify(tasks));
  return tasks;
};

describe('control survives a SIGKILL of the leading master', () => {
  let store: EtcdStore;
  let f: Fleet;
  const masters = new Map<string, CliProcess>();
  before(() => {
    store = new EtcdStore({ hosts: sharedEndpoints() });
    f = new Fleet(store, 'control-failover', 10, 10); // workers: ttl 10 (masters run with --ttl 2)
  });
  after(async () => {
    killAll();
    await f?.close();
    await store?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const startMaster = (name: string) =>
    masters.set(
      name,
      new CliProcess([
        'run',
        '--no-worker',
        '--etcd',
        sharedEndpoints().join(','),
        '--root',
        f.root,
        '--name',
        name,
        '--max-nodes',
        '10',
        '--ttl',
        '2',
        '--rebalance-wait',
        '200ms',
        '--generator',
        tasksFile,
        '--log-level',
        'warn',
      ]),
    );
  const leader = async () =>
    (await store.range(`${f.k.election}/`, { prefix: true, sortBy: 'create', sortOrder: 'ascend' })).kvs[0]
      ?.value;
  const lastReport = async (): Promise<ScheduleReport | undefined> => {
    const kv = await store.get(f.k.masterStatus);
    return kv ? (JSON.parse(kv.value) as ScheduleReport) : undefined;
  };
  /** SIGKILLs the leading master process and returns its name. */
  const killLeader = async () => {
    const name = await waitFor('a leader', leader);
    const p = masters.get(name);
    assert.ok(p, `the leader ${name} is one of ours`);
    p.kill('SIGKILL');
    await p.wait(10_000);
    masters.delete(name);
    return name;
  };
  const revisionOf = async (key: string) => (await store.get(key))?.modRevision ?? 0;
  const logs = () => [...masters].map(([n, p]) => `--- ${n}:\n${p.stderr.slice(-2000)}`).join('\n');

  it('cordon, drain and pin through a kill, a join and a task-set change; pause through a kill and a leave', async () => {
    try {
      f.tasks = writeTasks(16);
      await store.put(f.k.barrierLeft, new Date().toISOString());
      startMaster('m1');
      startMaster('m2');
      const ws = ['w1', 'w2', 'w3', 'w4'].map((n) => f.worker(n));
      await Promise.all(ws.map((w) => w.start()));
      const a0 = await f.balanced(['w1', 'w2', 'w3', 'w4'], 30_000);
      const admin = new Admin({ store, rootName: f.root, by: 'test' });

      const held = a0.get('w1')!;
      const p = a0.get('w3')![0];
      await admin.cordon('w1');
      await admin.drain('w2');
      await admin.pin(p, 'w4');
      const cordonRev = await revisionOf(f.k.controlWorker('w1'));
      const drainRev = await revisionOf(f.k.controlWorker('w2'));
      await f.until('cordon, drain and pin in effect', async () => {
        const a = await f.assignment();
        return (
          sameSet(a.get('w1'), held) && !a.has('w2') && a.get('w4')?.includes(p) && exactlyOnce(a, f.tasks)
        );
      });

      const killed = await killLeader();
      const w5 = f.worker('w5');
      await w5.start();
      f.tasks = writeTasks(20);
      await f.until(
        'the next leader placed the new tasks and the joiner, honouring every control',
        async () => {
          const r = await lastReport();
          const a = await f.assignment();
          return (
            r?.leader !== killed &&
            r?.control.cordoned.includes('w1') &&
            sameSet(a.get('w1'), held) &&
            !a.has('w2') &&
            a.get('w4')?.includes(p) &&
            (a.get('w5')?.length ?? 0) > 0 &&
            exactlyOnce(a, f.tasks) &&
            spread(a, ['w3', 'w4', 'w5']) <= 1
          );
        },
        30_000,
      );
      const onW1 = await eventsSince(store, f.k.root, f.k.workerTasks('w1'), cordonRev);
      assert.deepEqual(
        onW1.filter((e) => e.type === 'put').map((e) => e.kv.key),
        [],
      );
      const onW2 = await eventsSince(store, f.k.root, f.k.workerTasks('w2'), drainRev);
      assert.deepEqual(
        onW2.filter((e) => e.type === 'put').map((e) => e.kv.key),
        [],
      );

      // Pause, then kill the leader that saw it: the third master honours it through a leave.
      startMaster('m3');
      await admin.pause({ reason: 'incident' });
      const pauseRev = await revisionOf(f.k.controlPause);
      await f.until('a schedule under the pause', async () => (await lastReport())?.control.paused, 30_000);
      const before = await f.assignment();
      const killed2 = await killLeader();
      await ws[2].stop(); // w3 leaves: its tasks are orphans, placed even while paused
      await f.until(
        'the third leader placed the orphans and moved nothing else',
        async () => {
          const r = await lastReport();
          const a = await f.assignment();
          return r?.leader !== killed2 && r?.leader !== killed && !a.has('w3') && exactlyOnce(a, f.tasks);
        },
        30_000,
      );
      const after = await f.assignment();
      for (const w of ['w1', 'w4', 'w5']) {
        for (const id of before.get(w) ?? []) assert.ok(after.get(w)?.includes(id), `${id} stayed on ${w}`);
      }
      const left = (await eventsSince(store, f.k.root, f.k.taskPrefix, pauseRev)).filter(
        (e) => e.type === 'delete' && !e.kv.key.startsWith(f.k.workerTasks('w3')),
      );
      assert.deepEqual(
        left.map((e) => e.kv.key),
        [],
        'no task left a live worker while paused',
      );
      assert.equal((await lastReport())?.control.paused, true);
    } catch (err) {
      throw new Error(`${(err as Error).message}\n${logs()}`, { cause: err });
    }
  });
});

function sameSet(a: readonly string[] | undefined, b: readonly string[]): boolean {
  return [...(a ?? [])].sort().join(',') === [...b].sort().join(',');
}
