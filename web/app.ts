/**
 * The dashboard page: one EventSource on /api/events (the browser reconnects by itself; a closed stream
 * is reopened after a second), the fleet state applied change by change, and at most one render per
 * animation frame, whatever the number of events. Render times are recorded as `performance` measures
 * named `render` (read by bench/dashboard.ts).
 */
import { FleetState } from '../src/cli/dashboard/fleet.js';
import type { ServerEvents } from '../src/cli/dashboard/protocol.js';
import type { Page } from './page.js';
import { render } from './render.js';

const page: Page = {
  fleet: new FleetState(),
  history: [],
  connected: false,
  ready: false,
  store: { ok: true },
  query: '',
  expanded: new Set(),
  post,
};

let scheduled = false;
function schedule(): void {
  if (scheduled) return;
  scheduled = true;
  const run = () => {
    scheduled = false;
    performance.mark('render-start');
    render(page);
    performance.measure('render', 'render-start');
  };
  if (document.hidden) setTimeout(run, 100);
  else requestAnimationFrame(run);
}

function on<E extends keyof ServerEvents>(
  es: EventSource,
  event: E,
  fn: (data: ServerEvents[E]) => void,
): void {
  es.addEventListener(event, (e) => {
    fn(JSON.parse((e as MessageEvent<string>).data) as ServerEvents[E]);
    schedule();
  });
}

function connect(): void {
  const es = new EventSource('/api/events');
  es.onopen = () => {
    page.connected = true;
    schedule();
  };
  es.onerror = () => {
    page.connected = false;
    schedule();
    if (es.readyState === EventSource.CLOSED) setTimeout(connect, 1000);
  };
  on(es, 'hello', (hello) => {
    page.hello = hello;
  });
  on(es, 'snapshot', (s) => {
    page.fleet.load(s.kvs);
    page.history = s.history;
    page.ready = true;
  });
  on(es, 'changes', (c) => {
    for (const op of c.ops) {
      if (typeof op === 'string') page.fleet.delete(op);
      else page.fleet.put(op);
    }
  });
  on(es, 'history', (entry) => {
    page.history = [...page.history, entry].slice(-20);
  });
  on(es, 'leases', (l) => {
    page.fleet.ttl.clear();
    for (const [id, ttl] of Object.entries(l.ttl)) page.fleet.ttl.set(id, ttl);
  });
  on(es, 'store', (s) => {
    page.store = s;
  });
}

async function post(action: Record<string, string>): Promise<void> {
  const notice = document.getElementById('notice');
  const say = (text: string) => {
    if (notice) notice.textContent = text;
  };
  say(`${action.action}…`);
  try {
    const res = await fetch('/api/control', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(action),
    });
    const body = (await res.json().catch(() => ({}))) as { error?: string };
    say(res.ok ? `${action.action}: done` : `${action.action} refused: ${body.error ?? res.status}`);
  } catch (err) {
    say(`${action.action} failed: ${(err as Error).message}`);
  }
}

const search = document.getElementById('search') as HTMLInputElement;
search.addEventListener('input', () => {
  page.query = search.value;
  schedule();
});
document.addEventListener('visibilitychange', schedule);
schedule();
connect();
