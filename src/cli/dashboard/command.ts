/**
 * `escheduler dashboard`: a live web page of the fleet under one root, served on `--listen` (default
 * {@link DEFAULT_LISTEN}); read-only unless `--allow-control`.
 */
import { createServer, type Server } from 'node:http';
import { keys, rootPath } from '../../scheduler/keys.js';
import type { Store } from '../../store/port.js';
import { CliError, type ConnectionFlags, etcdEndpoints, openStore } from '../common.js';
import { closeHttp, parseListen } from '../http.js';
import { adminControl } from './admin-control.js';
import { assetsBuilt, DEFAULT_ASSETS } from './assets.js';
import type { ControlHandler } from './control.js';
import { DashboardServer } from './server.js';

/** Where `escheduler dashboard` listens by default: loopback only. */
export const DEFAULT_LISTEN = '127.0.0.1:7483';

export interface DashboardFlags extends ConnectionFlags {
  root?: string;
  listen: string;
  allowControl?: boolean;
}

/** Builds the control handler of `--allow-control` (the CLI's `Admin`; tests may give another). */
export type ControlFactory = (store: Store, root: string) => ControlHandler;

/** Starts an HTTP server on `listen` that serves only the dashboard. */
export async function listenDashboard(
  listen: string,
  dashboard: DashboardServer,
  flag = '--listen',
): Promise<Server> {
  const { host, port } = parseListen(listen, flag);
  const server = createServer((req, res) => {
    if (dashboard.handle(req, res)) return;
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found: the dashboard is at /\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(new CliError(`${flag} ${listen}: cannot listen: ${err.code ?? err.message}`, 1)),
    );
    server.listen(port, host, () => resolve());
  });
  return server;
}

/** The address a browser can open for a server listening on `listen`. */
export function pageUrl(server: Server): string {
  const a = server.address();
  if (a === null || typeof a === 'string') return String(a);
  const host = a.address === '0.0.0.0' || a.address === '::' ? '127.0.0.1' : a.address;
  return `http://${host.includes(':') ? `[${host}]` : host}:${a.port}/`;
}

export async function dashboardCommand(
  flags: DashboardFlags,
  control: ControlFactory = adminControl,
): Promise<number> {
  if (!flags.root) throw new CliError('dashboard: --root <name> is required');
  try {
    rootPath(flags.root);
  } catch (err) {
    throw new CliError((err as Error).message);
  }
  if (!etcdEndpoints(flags)) {
    throw new CliError(
      'dashboard: --etcd <endpoints> (or ESCHEDULER_ETCD) is required; for a fleet without etcd try npm run demo -- --http 127.0.0.1:7483',
    );
  }
  parseListen(flags.listen, '--listen');
  if (!assetsBuilt()) {
    throw new CliError(`dashboard: the page is not built (${DEFAULT_ASSETS} is empty): run npm run build`, 1);
  }
  const root = flags.root;
  const { store, describe } = await openStore(flags, keys(root).masterStatus);
  const dashboard = new DashboardServer({
    store,
    root,
    mode: 'dashboard',
    control: flags.allowControl ? control(store, root) : undefined,
    onError: (err) => process.stderr.write(`dashboard: ${(err as Error)?.message ?? err}\n`),
  });
  let server: Server | undefined;
  try {
    server = await listenDashboard(flags.listen, dashboard);
    dashboard.start();
    process.stdout.write(
      `dashboard of ${keys(root).root} (${describe}) on ${pageUrl(server)} — control ${
        dashboard.controlEnabled ? 'ON' : 'off'
      }; Ctrl-C stops\n`,
    );
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    return 0;
  } finally {
    await dashboard.close();
    if (server) await closeHttp(server);
    await store.close().catch(() => undefined);
  }
}
