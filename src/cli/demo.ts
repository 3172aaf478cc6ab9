/**
 * `escheduler demo`: a fleet in one process — two master candidates and `--workers` workers on the
 * memory store (or a real etcd with `--etcd`) — playing a short story: start-up barrier, first schedule,
 * a worker joins, a worker crashes (its lease revoked, no drain), the task set changes. Shown live as a
 * table on a terminal, as plain lines otherwise. Ends after `--duration` with exit code 0.
 */
import { keys, rootPath } from '../scheduler/keys.js';
import type { Store } from '../store/port.js';
import { CliError, type ConnectionFlags, openStore } from './common.js';
import { assetsBuilt, DEFAULT_ASSETS } from './dashboard/assets.js';
import { listenDashboard, pageUrl } from './dashboard/command.js';
import { DashboardServer } from './dashboard/server.js';
import { Demo, type DemoOptions } from './demo-fleet.js';
import { closeHttp } from './http.js';

export interface DemoFlags extends ConnectionFlags, DemoOptions {
  root?: string;
  /** Serve the dashboard of the demo fleet on this address, and keep the fleet running after the story. */
  http?: string;
}

const MIN_DURATION = 4_000;

export async function demoCommand(flags: DemoFlags): Promise<number> {
  if (flags.duration < MIN_DURATION) {
    throw new CliError(`--duration: at least ${MIN_DURATION / 1000}s, for the story to fit`);
  }
  const generated = flags.root === undefined;
  const root = flags.root ?? `escheduler-demo-${process.pid}-${Date.now().toString(36)}`;
  try {
    rootPath(root);
  } catch (err) {
    throw new CliError((err as Error).message);
  }
  const { store, describe } = await openStore(flags, keys(root).barrierLeft);
  const storeName = store.kind === 'memory' ? 'memory store (one process, not distributed)' : describe;
  if (store.kind === 'etcd') {
    const existing = await store.range(`${keys(root).root}/`, { prefix: true, countOnly: true });
    if (existing.count > 0) {
      await store.close();
      throw new CliError(
        `demo: root ${keys(root).root} holds ${existing.count} keys already; pick a fresh --root`,
      );
    }
  }
  const demo = new Demo(store, storeName, root, flags);
  const abort = new AbortController();
  const page = flags.http ? await serveDemoPage(store, root, flags.http) : undefined;
  let interrupted = 0;
  const onSignal = () => {
    interrupted++;
    if (interrupted > 1) process.exit(130);
    abort.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    await demo.play(abort.signal);
    if (page && !abort.signal.aborted) {
      process.stdout.write(`the story is over; the fleet keeps running for ${page.url} — Ctrl-C stops\n`);
      await new Promise((resolve) => abort.signal.addEventListener('abort', resolve, { once: true }));
    }
  } finally {
    await demo.finish();
    await page?.close();
    if (store.kind === 'etcd' && generated) {
      await store.delete(`${keys(root).root}/`, { prefix: true }).catch(() => undefined);
    }
    await store.close().catch(() => undefined);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  return 0;
}

/** The read-only dashboard of the demo fleet on `listen`. */
async function serveDemoPage(store: Store, root: string, listen: string) {
  if (!assetsBuilt()) {
    await store.close();
    throw new CliError(
      `demo --http: the page is not built (${DEFAULT_ASSETS} is empty): run npm run build`,
      1,
    );
  }
  const dashboard = new DashboardServer({ store, root, mode: 'demo' });
  let server: Awaited<ReturnType<typeof listenDashboard>>;
  try {
    server = await listenDashboard(listen, dashboard, '--http');
  } catch (err) {
    await store.close();
    throw err;
  }
  dashboard.start();
  const url = pageUrl(server);
  process.stdout.write(`dashboard of the demo fleet: ${url}\n`);
  return {
    url,
    close: async () => {
      await dashboard.close();
      await closeHttp(server);
    },
  };
}
