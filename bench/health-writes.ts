/**
 * Health-document writes under a crash loop (issue 12): one worker on a real etcd (its own member, free
 * loopback ports, fsync off) runs N tasks whose handler throws at once, each restarting every second
 * (restart 1 s, factor 1); for `--seconds` it counts the writes to `/<root>/health/<worker>` (the key's
 * version) against the restarts. Prints one JSON line. Not a test: `test/health.test.ts` checks the bound
 * on a ManualClock; this measures it on the system clock.
 *
 * Usage: node --import tsx bench/health-writes.ts [--tasks 1000] [--seconds 20]
 */
import { keys } from '../src/scheduler/keys.js';
import { Master } from '../src/scheduler/master.js';
import { Worker } from '../src/scheduler/worker.js';
import { EtcdStore } from '../src/store/etcd.js';
import { startEtcd } from '../test/helpers/etcd.js';

const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const tasks = arg('--tasks', 1_000);
const seconds = arg('--seconds', 20);

const etcd = await startEtcd();
const store = new EtcdStore({ hosts: etcd.endpoints });
const root = `bench-health-${process.pid}`;
const k = keys(root);
let restarts = 0;
let master: Master | undefined;
let worker: Worker | undefined;
try {
  await store.put(k.barrierLeft, new Date().toISOString());
  const common = { store, rootName: root, maxNumNodes: 2, ttl: 5 };
  worker = new Worker({
    ...common,
    name: 'w1',
    restart: { initialDelay: 1_000, maxDelay: 1_000, factor: 1 },
    run: () => {
      restarts++;
      throw new Error('crash');
    },
  });
  await worker.start();
  master = new Master({
    ...common,
    name: 'm1',
    rebalanceWait: 100,
    generator: () => Array.from({ length: tasks }, (_, i) => ({ id: `t${i}` })),
  });
  master.start();
  const deadline = Date.now() + 60_000;
  while (worker.health().counts.failing < tasks) {
    if (Date.now() > deadline)
      throw new Error(`not every task failing after 60 s: ${JSON.stringify(worker.health().counts)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const v0 = (await store.get(k.health('w1')))?.version ?? 0;
  const r0 = restarts;
  const t0 = Date.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const kv = await store.get(k.health('w1'));
  const elapsed = (Date.now() - t0) / 1000;
  const writes = (kv?.version ?? 0) - v0;
  console.log(
    JSON.stringify({
      bench: 'health-writes',
      tasks,
      seconds: Math.round(elapsed * 10) / 10,
      restarts: restarts - r0,
      restartsPerSecond: Math.round((restarts - r0) / elapsed),
      writes,
      writesPerSecond: Math.round((writes / elapsed) * 100) / 100,
      documentBytes: kv?.value.length ?? 0,
    }),
  );
} finally {
  await master?.stop().catch(() => undefined);
  await worker?.stop().catch(() => undefined);
  await store.close();
  await etcd.destroy();
}
