/**
 * The operator's HTTP endpoints of `escheduler run`: `/metrics` (the library's Prometheus registry),
 * `/healthz` (200 while the process holds a live lease), `/readyz` (200 only when every task assigned
 * to this worker runs) and the read-only dashboard page at `/`.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';
import { CliError } from './common.js';

/** A probe's answer: `ok` gives 200, else 503; `detail` is sent as JSON. */
export interface ProbeResult {
  ok: boolean;
  detail: Record<string, unknown>;
}

export interface HttpOptions {
  registry: Registry;
  healthz: () => Promise<ProbeResult> | ProbeResult;
  readyz: () => Promise<ProbeResult> | ProbeResult;
  onError: (err: unknown) => void;
  /** Serves the dashboard's page and event stream (read-only: GET only). */
  dashboard?: { handle(req: IncomingMessage, res: ServerResponse): boolean };
}

/** Parses `host:port`, `:port` (every interface) or `[::1]:port`. */
export function parseListen(value: string, flag = '--http'): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(value.trim());
  const port = m ? Number(m[3]) : Number.NaN;
  if (!m || port > 65535) {
    throw new CliError(
      `${flag}: expected host:port (e.g. 127.0.0.1:9090 or :9090), got ${JSON.stringify(value)}`,
    );
  }
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port };
}

/** Starts the server; rejects with a CliError when the address cannot be bound. */
export async function serveHttp(listen: string, o: HttpOptions): Promise<Server> {
  const { host, port } = parseListen(listen);
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const send = (status: number, type: string, body: string) => {
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    const probe = async (fn: () => Promise<ProbeResult> | ProbeResult) => {
      const r = await fn();
      send(r.ok ? 200 : 503, 'application/json', `${JSON.stringify({ ok: r.ok, ...r.detail })}\n`);
    };
    const handle = async () => {
      if (req.method !== 'GET' && req.method !== 'HEAD')
        return send(405, 'text/plain', 'method not allowed\n');
      if (path === '/metrics') return send(200, o.registry.contentType, await o.registry.metrics());
      if (path === '/healthz') return probe(o.healthz);
      if (path === '/readyz') return probe(o.readyz);
      if (o.dashboard?.handle(req, res)) return;
      send(404, 'text/plain', `not found: try /metrics, /healthz or /readyz${o.dashboard ? ' or /' : ''}\n`);
    };
    handle().catch((err: unknown) => {
      o.onError(err);
      if (!res.headersSent) send(500, 'text/plain', `${(err as Error)?.message ?? err}\n`);
      else res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(new CliError(`--http ${listen}: cannot listen: ${err.code ?? err.message}`, 1)),
    );
    server.listen(port, host, () => resolve());
  });
  return server;
}

/** Closes the server, ending idle keep-alive connections. */
export function closeHttp(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
