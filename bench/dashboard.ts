/**
 * Dashboard figures, in headless Chromium against a real etcd (its own member, fsync on, unless
 * ETCD_ENDPOINTS names one), on a synthetic fleet written straight into etcd (worker keys on leases,
 * assignments, claims, a leader, a schedule report):
 *
 * - change → page: from just before an etcd put (a worker joining or leaving) to the page's DOM showing
 *   it (a MutationObserver in the page stamps the time; same machine clock), p50/max over 20 changes, on a
 *   small fleet (4 workers, 24 tasks) and on 100 workers holding 10,000 tasks. Baseline in the same run:
 *   the same puts seen by a plain etcd watch in this process (the floor any page could reach), as a ratio.
 * - the page's load with 10,000 tasks on 100 workers (navigation → every row drawn) and its render time
 *   (the `render` performance measures the page records: fold the state into the view, draw).
 * - a burst: 500 tasks moved in 8 txns, until the page shows the final counts; renders and the longest.
 *
 * Usage: npm run bench:dashboard [-- --no-fsync]     One JSON object on stdout; progress on stderr.
 */
import type { Server } from 'node:http';
import type { Page } from 'playwright-core';
import { buildWeb } from '../scripts/build-web.js';
import { listenDashboard, pageUrl } from '../src/cli/dashboard/command.js';
import { DashboardServer } from '../src/cli/dashboard/server.js';
import { closeHttp } from '../src/cli/http.js';
import { keys } from '../src/scheduler/keys.js';
import type { Op, Store } from '../src/store/port.js';
import { encodeTask } from '../src/task.js';
import { launchBrowser } from '../test/helpers/browser.js';
import { type EtcdCluster, startEtcd } from '../test/helpers/etcd.js';
import { benchRoot, cleanRoot, etcdStore, note, quantile, round } from './lib.js';

const GROUPS = ['spot', 'futures', 'options', 'swap'];
const CHANGES = 20;

/** Writes a fleet of `workers` workers holding `tasks` tasks (all claimed), a leader and a report. */
async function writeFleet(store: Store, root: string, workers: number, tasks: number): Promise<string[]> {
  const k = keys(root);
  const names = Array.from({ length: workers }, (_, i) => `worker-${String(i).padStart(3, '0')}`);
  const leases = await Promise.all(names.map(() => store.grantLease(600)));
  const ops: Op[] = names.map((n, i) => ({
    type: 'put',
    key: k.worker(n),
    value: 'running',
    lease: leases[i].id,
  }));
  for (let t = 0; t < tasks; t++) {
    const id = `pair-${String(t).padStart(5, '0')}`;
    const w = t % workers;
    ops.push({
      type: 'put',
      key: k.task(names[w], id),
      value: encodeTask({ id, group: GROUPS[t % GROUPS.length] }),
    });
    ops.push({ type: 'put', key: k.claim(id), value: names[w], lease: leases[w].id });
  }
  ops.push({ type: 'put', key: `${k.election}/694d1`, value: 'master-a' });
  ops.push({ type: 'put', key: k.barrierLeft, value: new Date().toISOString() });
  ops.push({
    type: 'put',
    key: k.masterStatus,
    value: JSON.stringify({
      leader: 'master-a',
      time: new Date().toISOString(),
      reason: 'first schedule',
      reasons: [],
      result: 'ok',
      workers,
      tasks,
      assigned: tasks,
      revoked: 0,
      moves: 0,
      txns: Math.ceil(tasks / 128),
      durationMs: 120,
      errors: [],
    }),
  });
  for (let i = 0; i < ops.length; i += 128) await store.txn({ compare: [], success: ops.slice(i, i + 128) });
  return names;
}

/** Installs an observer stamping the time `selector` appears (or disappears) in `window.seen`. */
const OBSERVE = `([sel, present]) => {
  window.seen = 0;
  const done = () => (document.querySelector(sel) !== null) === present;
  if (done()) { window.seen = Date.now(); return; }
  const mo = new MutationObserver(() => { if (done()) { window.seen = Date.now(); mo.disconnect(); } });
  mo.observe(document.body, { subtree: true, childList: true });
}`;

/** Joins and leaves of a worker: change → page latency, and the same puts seen by a plain etcd watch. */
async function latency(store: Store, root: string, page: Page) {
  const k = keys(root);
  const pageMs: number[] = [];
  const watchMs: number[] = [];
  const lease = await store.grantLease(600);
  const controller = new AbortController();
  const watched = new Map<string, number>();
  const watch = (async () => {
    for await (const batch of store.watch(`${k.workerPrefix}probe-`, {
      prefix: true,
      signal: controller.signal,
    })) {
      for (const e of batch.events) watched.set(`${e.type} ${e.kv.key}`, Date.now());
    }
  })().catch(() => undefined);
  await page.evaluate('performance.clearMeasures("render")');
  for (let i = 0; i < CHANGES; i++) {
    const name = `probe-${Math.floor(i / 2)}`;
    const join = i % 2 === 0;
    await page.evaluate(`(${OBSERVE})(${JSON.stringify([`tr[data-worker="${name}"]`, join])})`);
    const t0 = Date.now();
    if (join) await store.put(k.worker(name), 'running', { lease: lease.id });
    else await store.delete(k.worker(name));
    await page.waitForFunction('window.seen > 0', null, { timeout: 10_000, polling: 5 });
    pageMs.push(((await page.evaluate('window.seen')) as number) - t0);
    const key = `${join ? 'put' : 'delete'} ${k.worker(name)}`;
    const deadline = Date.now() + 10_000;
    while (!watched.has(key) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 2));
    watchMs.push((watched.get(key) ?? Number.NaN) - t0);
  }
  controller.abort();
  await watch;
  await store.revokeLease(lease.id);
  const renders = (await page.evaluate(
    'performance.getEntriesByName("render").map((e) => e.duration)',
  )) as number[];
  const p50 = quantile(pageMs, 0.5);
  const watchP50 = quantile(watchMs, 0.5);
  return {
    changes: CHANGES,
    pageP50Ms: round(p50),
    pageMaxMs: round(Math.max(...pageMs)),
    etcdWatchP50Ms: round(watchP50),
    etcdWatchMaxMs: round(Math.max(...watchMs)),
    pageOverWatchP50: round(p50 / Math.max(1, watchP50), 2),
    renderP50Ms: round(quantile(renders, 0.5), 2),
    renderMaxMs: round(Math.max(...renders), 2),
  };
}

async function openPage(page: Page, url: string, workers: number, tasks: number) {
  const t0 = Date.now();
  await page.goto(url);
  await page.waitForFunction(
    `document.querySelectorAll('tr[data-worker]').length === ${workers} && document.querySelector('#task-count')?.textContent?.startsWith('${tasks} assigned')`,
    null,
    { timeout: 60_000, polling: 10 },
  );
  const loadMs = Date.now() - t0;
  const renders = (await page.evaluate(
    'performance.getEntriesByName("render").map((e) => e.duration)',
  )) as number[];
  return {
    loadMs,
    firstRenderMs: round(Math.max(...renders), 1),
    domNodes: await page.evaluate('document.getElementsByTagName("*").length'),
  };
}

/** Moves 500 tasks (50 from each of the first 10 workers to the next 10) in 8 txns; until the page shows it. */
async function burst(store: Store, root: string, names: string[], page: Page, tasks: number) {
  const k = keys(root);
  const ops: Op[] = [];
  const per = tasks / names.length;
  for (let t = 0; ops.length < 1000; t++) {
    const w = t % names.length;
    if (w >= 10) continue;
    const id = `pair-${String(t).padStart(5, '0')}`;
    ops.push({ type: 'delete', key: k.task(names[w], id) });
    ops.push({
      type: 'put',
      key: k.task(names[w + 10], id),
      value: encodeTask({ id, group: GROUPS[t % GROUPS.length] }),
    });
  }
  await page.evaluate('performance.clearMeasures("render")');
  const t0 = Date.now();
  for (let i = 0; i < ops.length; i += 128) await store.txn({ compare: [], success: ops.slice(i, i + 128) });
  const want = `${per - 50}`;
  await page.waitForFunction(
    `document.querySelectorAll('tr[data-worker="${names[0]}"] td.num')[1]?.textContent?.endsWith('/${want}')`,
    null,
    { timeout: 30_000, polling: 5 },
  );
  const ms = Date.now() - t0;
  const renders = (await page.evaluate(
    'performance.getEntriesByName("render").map((e) => e.duration)',
  )) as number[];
  return {
    moved: ops.length / 2,
    txns: Math.ceil(ops.length / 128),
    pageShowsAllMs: ms,
    renders: renders.length,
    renderMaxMs: round(Math.max(...renders), 1),
  };
}

async function main(): Promise<void> {
  const fsync = !process.argv.includes('--no-fsync');
  await buildWeb();
  let etcd: EtcdCluster | undefined;
  let endpoints = process.env.ETCD_ENDPOINTS?.split(',');
  if (!endpoints) {
    etcd = await startEtcd({ fsync });
    endpoints = etcd.endpoints;
    note(`etcd pid ${etcd.members[0].pid} at ${endpoints.join(',')} (fsync ${fsync ? 'on' : 'off'})`);
  }
  const store = etcdStore(endpoints);
  const browser = await launchBrowser();
  const servers: { dashboard: DashboardServer; server: Server }[] = [];
  const roots: string[] = [];
  const fleet = async (workers: number, tasks: number) => {
    const root = benchRoot('dashboard');
    roots.push(root);
    const names = await writeFleet(store, root, workers, tasks);
    const dashboard = new DashboardServer({ store, root, mode: 'bench' });
    const server = await listenDashboard('127.0.0.1:0', dashboard);
    dashboard.start();
    servers.push({ dashboard, server });
    // bypassCSP: the bench's string predicates are evaluated in the page (the page's own code is unchanged).
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 }, bypassCSP: true });
    return { root, names, page, url: pageUrl(server) };
  };
  try {
    note('small fleet: 4 workers, 24 tasks');
    const small = await fleet(4, 24);
    const smallLoad = await openPage(small.page, small.url, 4, 24);
    const smallLatency = await latency(store, small.root, small.page);
    note('large fleet: 100 workers, 10,000 tasks');
    const large = await fleet(100, 10_000);
    const largeLoad = await openPage(large.page, large.url, 100, 10_000);
    const largeLatency = await latency(store, large.root, large.page);
    const largeBurst = await burst(store, large.root, large.names, large.page, 10_000);
    const result = {
      bench: 'dashboard',
      etcd: { fsync: etcd ? fsync : 'external' },
      small: { workers: 4, tasks: 24, ...smallLoad, ...smallLatency },
      large: { workers: 100, tasks: 10_000, ...largeLoad, ...largeLatency, burst: largeBurst },
      largeOverSmallPageP50: round(largeLatency.pageP50Ms / Math.max(1, smallLatency.pageP50Ms), 2),
    };
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  } finally {
    await browser.close();
    for (const s of servers) {
      await s.dashboard.close();
      await closeHttp(s.server);
    }
    for (const r of roots) await cleanRoot(store, r);
    await store.close();
    await etcd?.destroy();
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
