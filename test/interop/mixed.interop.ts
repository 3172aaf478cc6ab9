/**
 * Mixed fleets of the Go original (github.com/stonever/escheduler v0.1.59, through test/interop/driver)
 * and TypeScript `escheduler run --handoff none` processes on one etcd, as issue 11 lists them. After each
 * step, `Fleet.converged()` checks: every task on exactly one live worker, each process runs exactly what
 * etcd assigns it, every barrier participant left, no duplicate add without a del.
 *
 * Run with `npm run test:interop` (it builds the driver and starts etcd); not part of `npm test`.
 * Worker names are never prefixes of one another: the original's master deletes a dead worker's task
 * folder by a prefix without a trailing slash, so killing `w1` would also wipe `w10`'s tasks.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { uniqueRoot } from '../helpers/etcd.js';
import { Fleet, type FleetProc, GO_AS_TS, type Lang, runTs, sleep, type TaskSpec } from './fleet.js';

if (GO_AS_TS)
  console.log('# INTEROP_GO_AS=ts: TypeScript processes stand in for Go ones (a harness check only)');

function tasks(n: number, raw = ''): TaskSpec[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `t${String(i).padStart(2, '0')}`,
    group: i % 2 === 0 ? 'even' : 'odd',
    priority: n - i,
    ...(raw ? { raw: `${raw}-${i}` } : {}),
  }));
}

/** A fresh fleet whose processes are killed and whose keys are deleted when the test ends. */
function fleet(
  t: { after: (fn: () => Promise<void>) => void },
  name: string,
  maxNodes: number,
  list: TaskSpec[],
) {
  const f = new Fleet(uniqueRoot(`interop-${name}`), maxNodes, list);
  t.after(() => f.destroy());
  return f;
}

/** Starts a master of `lang` and waits until it holds the election. */
async function startMaster(f: Fleet, lang: Lang, name: string): Promise<FleetProc> {
  const m = await f.start(lang, 'master', name);
  await f.until(`${name} leads`, async () => (await f.leader()) === name, 20_000);
  return m;
}

/** Starts workers named `go-…` (Go) or `ts-…` (TypeScript). */
function workers(f: Fleet, names: string[]): Promise<FleetProc[]> {
  return Promise.all(names.map((n) => f.start(n.slice(0, 2) as Lang, 'worker', n)));
}

describe('mixed fleets with the Go original', () => {
  test('baseline: Go master + Go workers', async (t) => {
    const f = fleet(t, 'baseline', 3, tasks(6));
    await startMaster(f, 'go', 'm-go');
    const ws = [await f.start('go', 'worker', 'go-a'), await f.start('go', 'worker', 'go-b')];
    await f.converged('baseline', { barrier: ws });
  });

  for (const master of ['ts', 'go'] as Lang[]) {
    test(`${master} master + Go and TS workers`, async (t) => {
      const f = fleet(t, `${master}-mixed`, 5, tasks(8, 'p'));
      await startMaster(f, master, `m-${master}`);
      const ws = await workers(f, ['go-a', 'go-b', 'ts-a', 'ts-b']);
      await f.converged(`${master} master, 2 Go + 2 TS workers`, { barrier: ws, payload: 'stored' });
    });
  }

  for (const master of ['ts', 'go'] as Lang[]) {
    test(`churn under a ${master} master: SIGKILL a Go worker, a TS worker, add each back`, async (t) => {
      // The barrier waits for max-nodes participants: 4 workers + the master. Each one added back fits once
      // the killed one's key expired (converged() waits for that).
      const f = fleet(t, `${master}-churn`, 5, tasks(10));
      await startMaster(f, master, `m-${master}`);
      const ws = await workers(f, ['go-a', 'go-b', 'ts-a', 'ts-b']);
      await f.converged('start', { barrier: ws });
      await f.proc('go-a').crash();
      await f.converged('after SIGKILL of Go worker go-a');
      await f.start('go', 'worker', 'go-c');
      await f.converged('after Go worker go-c joined');
      await f.proc('ts-a').crash();
      await f.converged('after SIGKILL of TS worker ts-a');
      await f.start('ts', 'worker', 'ts-c');
      await f.converged('after TS worker ts-c joined');
    });
  }

  test('the worker cap holds across languages', async (t) => {
    const f = fleet(t, 'cap', 3, tasks(4));
    await startMaster(f, 'ts', 'm-ts');
    const ws = [await f.start('go', 'worker', 'go-a'), await f.start('ts', 'worker', 'ts-a')];
    await f.converged('two workers, the cap', { barrier: ws });

    // A TypeScript worker over the cap exits with WorkerNumExceedMaximumError.
    const tsOver = await f.start('ts', 'worker', 'ts-over');
    const exit = await tsOver.waitExit(20_000);
    assert.notEqual(exit.code, 0, 'a TS worker over the cap fails');
    assert.match(tsOver.stderr, /maximum|exceed/i, 'and says why');

    // A Go worker over the cap retries forever (the original's behaviour): it never registers.
    const goOver = await f.start('go', 'worker', 'go-over');
    await sleep(6_000);
    const kv = await f.keys();
    assert.equal(kv.has(`/${f.root}/worker/go-over`), false, 'no worker key for the Go worker over the cap');
    assert.equal(goOver.adds, 0, 'it runs nothing');
    if (!GO_AS_TS) {
      assert.ok(!goOver.statuses.includes('registered'), `never registered: ${goOver.statuses.join(',')}`);
      goOver.kill('SIGTERM');
      await goOver.waitExit(10_000);
    }
    await f.converged('the fleet is unchanged');
  });

  test('the registration mutex serializes Go and TS workers racing for the last places', async (t) => {
    const f = fleet(t, 'mutex', 4, tasks(6)); // 3 places for 4 workers
    const ws = await workers(f, ['go-a', 'go-b', 'ts-a', 'ts-b']);
    let maxSeen = 0;
    let registered: string[] = [];
    const deadline = Date.now() + 20_000;
    let stableSince = 0;
    while (Date.now() < deadline) {
      registered = [...(await f.keys()).keys()]
        .filter((k) => k.startsWith(`/${f.root}/worker/`))
        .map((k) => k.slice(`/${f.root}/worker/`.length));
      maxSeen = Math.max(maxSeen, registered.length);
      if (registered.length === 3) {
        stableSince ||= Date.now();
        if (Date.now() - stableSince > 3_000) break;
      } else stableSince = 0;
      await sleep(20);
    }
    assert.ok(maxSeen <= 3, `at most 3 worker keys at any time, saw ${maxSeen}`);
    assert.equal(registered.length, 3, `3 registered: ${registered.join(', ')}`);
    const refused = ws.filter((w) => !registered.includes(w.name));
    assert.equal(refused.length, 1);
    const r = refused[0];
    if (r.lang === 'ts' || GO_AS_TS) assert.notEqual((await r.waitExit(20_000)).code, 0, `${r.name} fails`);
    else r.kill('SIGTERM'); // the original retries forever
    await r.waitExit(10_000);
    await startMaster(f, 'ts', 'm-ts');
    await f.converged('the three registered workers share the tasks', {
      barrier: ws.filter((w) => w !== r),
    });
  });

  test('master failover TS → Go → TS', async (t) => {
    // An empty payload and a small priority: the two cases whose bytes differ between Go and us.
    const list: TaskSpec[] = [
      ...tasks(6, 'f'),
      { id: 'empty', group: 'even', raw: '' },
      { id: 'tiny', group: 'odd', priority: 1.5e-7 },
    ];
    const f = fleet(t, 'failover', 4, list);
    const ts1 = await startMaster(f, 'ts', 'm-ts1');
    const goM = await f.start('go', 'master', 'm-go'); // standby
    const ws = await workers(f, ['go-a', 'go-b', 'ts-a']);
    await f.converged('under the TS master', { barrier: ws });

    await ts1.crash();
    await f.until('m-go leads', async () => (await f.leader()) === 'm-go', 30_000);
    await sleep(4_000); // one interval of the Go master: it has scheduled at least once
    await f.converged('under the Go master');
    const status = await runTs(['status', '--etcd', f.endpoints.join(','), '--root', f.root]);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /leader m-go/);
    const statusJson = await runTs(['status', '--etcd', f.endpoints.join(','), '--root', f.root, '--json']);
    assert.equal(statusJson.code, 0, statusJson.stderr);
    const json = JSON.parse(statusJson.stdout) as {
      leader: string;
      lastSchedule: { leader?: string } | null;
    };
    // The Go master never writes status/master: the last report is still m-ts1's, and status must say so.
    assert.equal(json.lastSchedule?.leader, 'm-ts1');
    assert.match(
      status.stdout,
      /stale/i,
      `status shows the last schedule of m-ts1 while ${json.leader} leads, without saying it is stale:\n${status.stdout}`,
    );

    await f.start('ts', 'master', 'm-ts2'); // standby
    await sleep(1_000);
    await goM.crash();
    await f.until('m-ts2 leads', async () => (await f.leader()) === 'm-ts2', 30_000);
    await f.until(
      'm-ts2 scheduled',
      async () => {
        const v = (await f.keys()).get(`/${f.root}/status/master`);
        return v !== undefined && (JSON.parse(v) as { leader?: string }).leader === 'm-ts2';
      },
      30_000,
    );
    await f.converged('under the second TS master');
  });

  for (const master of ['go', 'ts'] as Lang[]) {
    test(`the barrier with fewer tasks than workers under a ${master} master`, async (t) => {
      const f = fleet(t, `${master}-barrier`, 4, tasks(1));
      await startMaster(f, master, `m-${master}`);
      const names = master === 'go' ? ['go-a', 'ts-a', 'ts-b'] : ['go-a', 'go-b', 'ts-a'];
      const ws = await workers(f, names);
      await f.converged('every participant leaves the barrier', { barrier: ws, ms: 60_000 });
    });
  }

  for (const master of ['ts', 'go'] as Lang[]) {
    test(`a payload change under a ${master} master`, async (t) => {
      const f = fleet(t, `${master}-payload`, 3, tasks(4, 'v1'));
      await startMaster(f, master, `m-${master}`);
      const ws = [await f.start('go', 'worker', 'go-a'), await f.start('ts', 'worker', 'ts-a')];
      await f.converged('before the change', { barrier: ws, payload: 'generator' });
      f.setTasks(tasks(4, 'v2'));
      if (master === 'ts' || GO_AS_TS) {
        // Ours rewrites the payload: Go workers must see it as del then add, never as a second add.
        await f.converged('after the change', { payload: 'generator' });
        return;
      }
      // The original never rewrites the stored value of a task that stays where it is.
      await sleep(5_000);
      await f.converged('after the change');
      const stored = [...(await f.keys())].filter(([k]) => k.startsWith(`/${f.root}/task/`));
      assert.ok(
        stored.every(([, v]) =>
          Buffer.from((JSON.parse(v) as { Raw: string }).Raw, 'base64')
            .toString()
            .startsWith('v1'),
        ),
        'the Go master keeps the old payloads',
      );
      t.diagnostic('the Go master keeps stored payloads of kept tasks: the change reaches no worker');
    });
  }
});
