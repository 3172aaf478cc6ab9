// A fenced resource: a tiny HTTP ledger that remembers, per task, the highest fencing token that wrote,
// and refuses a write whose token is lower — it comes from an owner older than one that already wrote
// (a process that was paused, then resumed, and does not know yet that it lost the task).
//
//   node examples/fenced-ledger/ledger.mjs [--port 8099] [--file ledger.json]
//
//   POST /write  { task, token, worker, value }  →  200 { accepted: true }
//                                                 →  409 { accepted: false, highest }   (stale token)
//   GET  /state                                   →  { highest: { [task]: token }, values: { [task]: value } }
//
// With --file, the highest tokens and values survive a restart of the ledger (written atomically after
// every accepted write). `startLedger()` is the same server for use inside another program (the tests).
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';

/**
 * Starts the ledger on `host:port` (port 0: a free one). Returns its `url`, `close()`, its `state` and
 * `log`: every write attempt in arrival order, `{ at, task, token, worker, accepted }`.
 */
export async function startLedger({ port = 0, host = '127.0.0.1', file } = {}) {
  const state = { highest: {}, values: {} };
  if (file) {
    try {
      Object.assign(state, JSON.parse(readFileSync(file, 'utf8')));
    } catch {
      // a new ledger
    }
  }
  const log = [];
  const server = createServer((req, res) => {
    const reply = (status, body) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.method === 'GET' && req.url === '/state') return reply(200, state);
    if (req.method !== 'POST' || req.url !== '/write') return reply(404, { error: 'not found' });
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk) => {
      body += chunk;
    });
    req.on('end', () => {
      let w;
      try {
        w = JSON.parse(body);
      } catch {
        return reply(400, { error: 'body must be JSON' });
      }
      if (typeof w?.task !== 'string' || !Number.isSafeInteger(w.token) || w.token <= 0) {
        return reply(400, { error: 'expected { task: string, token: positive integer, worker, value }' });
      }
      // The one rule: a token lower than the highest seen for this task is from an older owner.
      const highest = state.highest[w.task] ?? 0;
      const accepted = w.token >= highest;
      log.push({ at: Date.now(), task: w.task, token: w.token, worker: w.worker, accepted });
      if (!accepted) return reply(409, { accepted: false, highest });
      state.highest[w.task] = w.token;
      state.values[w.task] = w.value;
      if (file) {
        writeFileSync(`${file}.tmp`, JSON.stringify(state));
        renameSync(`${file}.tmp`, file);
      }
      return reply(200, { accepted: true });
    });
  });
  server.keepAliveTimeout = 60_000; // writers keep their connection across pauses
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  const address = server.address();
  return {
    url: `http://${host}:${address.port}`,
    state,
    log,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const arg = (name) => {
    const i = process.argv.indexOf(name);
    return i > 0 ? process.argv[i + 1] : undefined;
  };
  const ledger = await startLedger({ port: Number(arg('--port') ?? 8099), file: arg('--file') });
  console.error(`fenced ledger on ${ledger.url} (POST /write, GET /state)`);
  const stop = () => ledger.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
