/**
 * A benchmark child process: one master or one worker on its own etcd connection, so that a SIGKILL is a
 * real crash (no drain, no revoke: its lease expires after its TTL) and its RSS and CPU time are its alone.
 *
 * Usage (spawned by bench/*.ts with an IPC channel): `node --import tsx bench/child.ts <role> <json args>`
 * - `master`: args `{ endpoints, root, name, tasks, maxNumNodes, ttl, rebalanceWait, io }`; sends `ready`
 *   (baseline footprint), then `elected` and `schedule` (report + footprint, and with `io` the reads and
 *   task-writing txns since the previous schedule) for every schedule; on a `schedule` message it asks
 *   for one more schedule.
 * - `worker`: args `{ endpoints, root, name, maxNumNodes, ttl }`; sends `ready`, `registered`, then
 *   `running` (count) whenever the number of running tasks changes (at most every 20 ms); on a
 *   `footprint` message it answers with `footprint`.
 * The child exits when its parent goes away (the IPC channel closes).
 */

import { keys } from '../src/scheduler/keys.js';
import { Master } from '../src/scheduler/master.js';
import { PrometheusMetrics } from '../src/scheduler/prometheus.js';
import { Worker } from '../src/scheduler/worker.js';
import type { Store } from '../src/store/port.js';
import { etcdStore, makeTasks, timedStore } from './lib.js';

/** The store with every range and get reported (by key) before it is forwarded. */
function countReads(store: Store, onRead: (key: string) => void): Store {
  return new Proxy(store, {
    get(target, prop, receiver) {
      if (prop === 'range' || prop === 'get') {
        return (key: string, ...rest: unknown[]) => {
          onRead(key);
          return (target[prop] as (k: string, ...r: unknown[]) => unknown)(key, ...rest);
        };
      }
      const v: unknown = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}

interface Args {
  endpoints: string[];
  root: string;
  name: string;
  tasks?: number;
  maxNumNodes: number;
  ttl: number;
  rebalanceWait?: number;
  /** Count the reads under the task prefix and time the txns that write task keys (bench/scale.ts). */
  io?: boolean;
}

/** Reads and task writes of the master since the last schedule message (with `io`). */
interface Io {
  reads: number;
  taskReads: number;
  txns: number;
  firstTxnStart: number;
  lastTxnEnd: number;
}
const newIo = (): Io => ({ reads: 0, taskReads: 0, txns: 0, firstTxnStart: 0, lastTxnEnd: 0 });

const cpuAtStart = process.cpuUsage();

/** Memory and CPU time now; then, when run with --expose-gc, memory again after a full collection. */
function footprint(): Record<string, number> {
  const m = process.memoryUsage();
  const cpu = process.cpuUsage(cpuAtStart);
  const out: Record<string, number> = {
    rssMB: mb(m.rss),
    heapUsedMB: mb(m.heapUsed),
    externalMB: mb(m.external),
    maxRssMB: Math.round(process.resourceUsage().maxRSS / 102.4) / 10,
    cpuUserMs: Math.round(cpu.user / 1000),
    cpuSystemMs: Math.round(cpu.system / 1000),
  };
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc) {
    gc();
    const after = process.memoryUsage();
    out.rssAfterGcMB = mb(after.rss);
    out.heapUsedAfterGcMB = mb(after.heapUsed);
  }
  return out;
}

function mb(bytes: number): number {
  return Math.round(bytes / 1024 / 102.4) / 10;
}

function send(msg: Record<string, unknown>): void {
  process.send?.(msg);
}

async function master(a: Args): Promise<void> {
  const tasks = makeTasks(a.tasks ?? 0);
  let io = newIo();
  const taskPrefix = keys(a.root).taskPrefix;
  const store = a.io
    ? countReads(
        timedStore(etcdStore(a.endpoints), (t) => {
          if (!t.request.success.some((op) => op.key.startsWith(taskPrefix))) return;
          io.txns++;
          if (io.firstTxnStart === 0) io.firstTxnStart = t.start;
          io.lastTxnEnd = t.end;
        }),
        (key) => {
          io.reads++;
          if (key.startsWith(taskPrefix)) io.taskReads++;
        },
      )
    : etcdStore(a.endpoints);
  const m = new Master({
    store,
    rootName: a.root,
    name: a.name,
    maxNumNodes: a.maxNumNodes,
    ttl: a.ttl,
    rebalanceWait: a.rebalanceWait ?? 2_000,
    interval: 3_600_000,
    timeout: 60_000,
    barrierTimeout: 60_000,
    metrics: new PrometheusMetrics(),
    generator: () => tasks,
  });
  m.on('elected', ({ revision }) => send({ type: 'elected', revision, at: Date.now() }));
  m.on('schedule', (report) => {
    // Footprint right after the schedule, with what the schedule allocated still live or collectable.
    const writeMs = io.txns > 0 ? io.lastTxnEnd - io.firstTxnStart : 0;
    send({ type: 'schedule', report, at: Date.now(), footprint: footprint(), io: { ...io, writeMs } });
    io = newIo();
  });
  process.on('message', (msg: { type?: string }) => {
    if (msg?.type === 'schedule') m.notifySchedule('bench');
    if (msg?.type === 'footprint') send({ type: 'footprint', footprint: footprint() });
  });
  m.start();
}

async function worker(a: Args): Promise<void> {
  const store = etcdStore(a.endpoints);
  let running = 0;
  let reported = -1;
  let pending = false;
  const report = () => {
    pending = false;
    if (running !== reported) {
      reported = running;
      send({ type: 'running', n: running, at: Date.now() });
    }
  };
  const w = new Worker({
    store,
    rootName: a.root,
    name: a.name,
    maxNumNodes: a.maxNumNodes,
    ttl: a.ttl,
    barrierTimeout: 60_000,
    metrics: new PrometheusMetrics(),
    run: (_task, { signal }) =>
      new Promise<void>((resolve) => {
        running++;
        if (!pending) pending = Boolean(setTimeout(report, 20));
        signal.addEventListener(
          'abort',
          () => {
            running--;
            if (!pending) pending = Boolean(setTimeout(report, 20));
            resolve();
          },
          { once: true },
        );
      }),
  });
  process.on('message', (msg: { type?: string }) => {
    if (msg?.type === 'footprint') send({ type: 'footprint', footprint: footprint(), running });
  });
  await w.start();
  send({ type: 'registered', at: Date.now() });
}

const [role, json] = process.argv.slice(2);
process.on('disconnect', () => process.exit(0));
send({ type: 'ready', footprint: footprint() });
const args = JSON.parse(json ?? '{}') as Args;
const main = role === 'master' ? master : role === 'worker' ? worker : undefined;
if (!main) {
  process.stderr.write(`bench child: unknown role ${JSON.stringify(role)} (expected master or worker)\n`);
  process.exit(2);
}
main(args).catch((err: unknown) => {
  process.stderr.write(`bench child ${role} failed: ${String((err as Error)?.stack ?? err)}\n`);
  process.exit(1);
});
