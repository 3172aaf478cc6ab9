/**
 * The dashboard's one write endpoint, `POST /api/control`, answered only when the server was given a
 * {@link ControlHandler} (`escheduler dashboard --allow-control`; never `run --http`). Every request must
 * come from the page itself: an `Origin` equal to the address the browser used (`Host`), no cross-site
 * `Sec-Fetch-Site`, and a JSON body (which a cross-site form cannot send without a preflight this server
 * never grants). The handler runs the same code as the CLI's control commands.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { SECURITY_HEADERS } from './assets.js';

export type ControlAction =
  | { action: 'cordon' | 'uncordon' | 'drain'; worker: string; reason?: string }
  | { action: 'pin'; task: string; worker: string; reason?: string }
  | { action: 'unpin'; task: string }
  | { action: 'pause' | 'resume'; reason?: string };

/** Carries out one action; rejects with a message for the operator. */
export type ControlHandler = (action: ControlAction) => Promise<void>;

const MAX_BODY = 16 * 1024;

/** Checks a control request body; returns the action or an error message naming the bad field. */
export function parseAction(body: unknown): ControlAction | string {
  if (typeof body !== 'object' || body === null) return 'body must be a JSON object';
  const o = body as Record<string, unknown>;
  const text = (name: string, required: boolean): string | undefined | Error => {
    const v = o[name];
    if (v === undefined || v === '') return required ? new Error(`"${name}" is required`) : undefined;
    if (typeof v !== 'string' || v.length > 1024) return new Error(`"${name}" must be a string`);
    return v;
  };
  const reason = text('reason', false);
  if (reason instanceof Error) return reason.message;
  const extra = reason === undefined ? {} : { reason };
  switch (o.action) {
    case 'cordon':
    case 'uncordon':
    case 'drain': {
      const worker = text('worker', true);
      if (worker instanceof Error || worker === undefined) return `"worker" is required`;
      return { action: o.action, worker, ...extra };
    }
    case 'pin': {
      const task = text('task', true);
      const worker = text('worker', true);
      if (typeof task !== 'string') return `"task" is required`;
      if (typeof worker !== 'string') return `"worker" is required`;
      return { action: 'pin', task, worker, ...extra };
    }
    case 'unpin': {
      const task = text('task', true);
      if (typeof task !== 'string') return `"task" is required`;
      return { action: 'unpin', task };
    }
    case 'pause':
    case 'resume':
      return { action: o.action, ...extra };
    default:
      return `"action" must be one of cordon, uncordon, drain, pin, unpin, pause, resume; got ${JSON.stringify(o.action)}`;
  }
}

/** Why a request does not come from the page itself, or undefined when it does. */
export function crossOrigin(req: IncomingMessage): string | undefined {
  const origin = req.headers.origin;
  const host = req.headers.host;
  if (!origin || !host) return 'missing Origin or Host header';
  let originHost: string;
  try {
    originHost = new URL(origin).host;
  } catch {
    return `bad Origin ${JSON.stringify(origin)}`;
  }
  if (originHost !== host) return `Origin ${origin} is not this server (${host})`;
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin') return `Sec-Fetch-Site ${site}`;
  const type = req.headers['content-type'] ?? '';
  if (!type.startsWith('application/json')) return 'content-type must be application/json';
  return undefined;
}

export function handleControl(
  req: IncomingMessage,
  res: ServerResponse,
  handler: ControlHandler,
  onError?: (err: unknown) => void,
): void {
  const reply = (status: number, body: Record<string, unknown>) => {
    res.writeHead(status, {
      'content-type': 'application/json',
      'cache-control': 'no-store',
      ...SECURITY_HEADERS,
    });
    res.end(`${JSON.stringify(body)}\n`);
  };
  if (req.method !== 'POST') {
    res.setHeader('allow', 'POST');
    reply(405, { ok: false, error: 'POST only' });
    return;
  }
  const refused = crossOrigin(req);
  if (refused) {
    req.resume();
    reply(403, { ok: false, error: `refused: ${refused}` });
    return;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  req.on('data', (c: Buffer) => {
    size += c.length;
    if (size <= MAX_BODY) chunks.push(c);
  });
  req.on('end', () => {
    if (size > MAX_BODY) return reply(413, { ok: false, error: 'body too large' });
    let body: unknown;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      return reply(400, { ok: false, error: 'body is not JSON' });
    }
    const action = parseAction(body);
    if (typeof action === 'string') return reply(400, { ok: false, error: action });
    handler(action).then(
      () => reply(200, { ok: true }),
      (err: unknown) => {
        onError?.(err);
        reply(409, { ok: false, error: (err as Error)?.message ?? String(err) });
      },
    );
  });
}
