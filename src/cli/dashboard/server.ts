/**
 * The dashboard's server side: one resilient watch on `/<root>/` (a `PrefixWatcher`: resumes after a cut,
 * re-lists after a compaction), the current keys kept in memory, and every page connected over
 * Server-Sent Events (`GET /api/events`): a snapshot first (again after every reconnect), then the
 * changes as they arrive, the worker leases' time left once a second and whether the store answers.
 * {@link DashboardServer.handle} serves the page, its assets and the event stream; it is mounted by
 * `escheduler dashboard`, beside /metrics by `escheduler run --http` (read-only) and by the demo.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { PrefixWatcher } from '../../recipes/watcher.js';
import { keys } from '../../scheduler/keys.js';
import type { KeyValue, Store } from '../../store/port.js';
import { Backoff } from '../../util/backoff.js';
import { sleep, systemClock } from '../../util/clock.js';
import { serveAsset } from './assets.js';
import type { ControlHandler } from './control.js';
import { handleControl } from './control.js';
import { FleetState } from './fleet.js';
import type { ScheduleEntry, ServerEvents, WireKv } from './protocol.js';
import { compactTask, readSchedule } from './records.js';

export interface DashboardOptions {
  store: Store;
  root: string;
  /** Shown on the page: `dashboard`, `run` or `demo`. */
  mode: string;
  /** Control requests go here; absent = read-only (no write endpoint answers). */
  control?: ControlHandler;
  /** Folder of the built page (index.html, app.js, app.css). @default the package's dist/web */
  assets?: string;
  /** How often the worker leases' time left is read. @default 1000 (ms) */
  leaseEvery?: number;
  onError?: (err: unknown) => void;
  /**
   * Watch only while a page is open (from the first page until `idleMs` after the last one left), so a
   * process that serves the page beside its work (`run --http`) holds no copy of the root otherwise.
   * @default false (watch from start() to close())
   */
  lazy?: boolean;
  /** With `lazy`: how long the watch outlives the last page. @default 30000 (ms) */
  idleMs?: number;
}

/** Schedule reports kept for the timeline. */
export const HISTORY = 20;

export class DashboardServer {
  private readonly prefix: string;
  private readonly kvs = new Map<string, WireKv>();
  private readonly fleet = new FleetState();
  private readonly history: ScheduleEntry[] = [];
  private readonly clients = new Set<ServerResponse>();
  private stop = new AbortController();
  private idleTimer?: ReturnType<typeof setTimeout>;
  private started = false;
  private closed = false;
  private readonly startedAt = Date.now();
  private revision = 0;
  private ready = false;
  private pending: (WireKv | string)[] = [];
  private pendingAt = 0;
  private flushScheduled = false;
  private storeOk = true;
  private loops: Promise<void>[] = [];

  constructor(private readonly o: DashboardOptions) {
    this.prefix = `${keys(o.root).root}/`;
  }

  /** Starts the watch and the lease reads (with `lazy`, when the first page connects). */
  start(): this {
    this.started = true;
    if (!this.o.lazy) this.run();
    return this;
  }

  private run(): void {
    if (this.loops.length > 0 || this.closed) return;
    this.stop = new AbortController();
    this.loops = [this.watchLoop(this.stop.signal), this.leaseLoop(this.stop.signal)];
  }

  /** Stops watching and forgets the state (lazy mode, no page for `idleMs`). */
  private async idle(): Promise<void> {
    this.stop.abort();
    const loops = this.loops;
    this.loops = [];
    await Promise.allSettled(loops);
    if (this.loops.length > 0) return; // a page came back meanwhile
    this.ready = false;
    this.kvs.clear();
    this.fleet.clear();
    this.history.length = 0;
    this.pending = [];
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.idleTimer);
    this.stop.abort();
    for (const res of this.clients) res.end();
    this.clients.clear();
    await Promise.allSettled(this.loops);
  }

  /** True while the root is watched. */
  get watching(): boolean {
    return this.loops.length > 0;
  }

  /** Serves the request when it is the dashboard's (true), else leaves it alone (false). */
  handle(req: IncomingMessage, res: ServerResponse): boolean {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/api/events') {
      if (req.method !== 'GET') return methodNotAllowed(res);
      this.subscribe(req, res);
      return true;
    }
    if (path.startsWith('/api/control')) {
      if (!this.o.control) {
        res.writeHead(404, { 'content-type': 'text/plain' });
        res.end('not found: control is off (start the dashboard with --allow-control)\n');
        return true;
      }
      handleControl(req, res, this.o.control, this.o.onError);
      return true;
    }
    if (path === '/' || path === '/index.html' || path.startsWith('/assets/')) {
      if (req.method !== 'GET' && req.method !== 'HEAD') return methodNotAllowed(res);
      serveAsset(path, req, res, this.o.assets);
      return true;
    }
    return false;
  }

  get controlEnabled(): boolean {
    return this.o.control !== undefined;
  }

  /** Number of pages connected now. */
  get connected(): number {
    return this.clients.size;
  }

  private subscribe(req: IncomingMessage, res: ServerResponse): void {
    res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    res.write('retry: 1000\n\n');
    this.send(res, 'hello', {
      root: keys(this.o.root).root,
      control: this.o.control !== undefined,
      startedAt: this.startedAt,
      mode: this.o.mode,
    });
    this.send(res, 'store', { ok: this.storeOk });
    if (this.ready) this.send(res, 'snapshot', this.snapshot());
    this.clients.add(res);
    clearTimeout(this.idleTimer);
    if (this.started) this.run();
    const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), 15_000);
    heartbeat.unref();
    req.on('close', () => {
      clearInterval(heartbeat);
      this.clients.delete(res);
      if (this.o.lazy && this.clients.size === 0) {
        this.idleTimer = setTimeout(() => void this.idle(), this.o.idleMs ?? 30_000);
        this.idleTimer.unref();
      }
    });
  }

  private snapshot(): ServerEvents['snapshot'] {
    return { revision: this.revision, kvs: [...this.kvs.values()], history: this.history };
  }

  private send<E extends keyof ServerEvents>(res: ServerResponse, event: E, data: ServerEvents[E]): void {
    res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  }

  private broadcast<E extends keyof ServerEvents>(event: E, data: ServerEvents[E]): void {
    if (this.clients.size === 0) return;
    const text = `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
    for (const res of this.clients) res.write(text);
  }

  private wire(kv: KeyValue, seenAt: number): WireKv {
    const rel = kv.key.slice(this.prefix.length);
    const value = rel.startsWith('task/') ? compactTask(kv.value) : kv.value;
    return [rel, value, kv.lease, kv.createRevision, seenAt];
  }

  private load(kvs: KeyValue[], revision: number): void {
    const before = new Map(this.kvs);
    this.kvs.clear();
    for (const kv of kvs) {
      const rel = kv.key.slice(this.prefix.length);
      const old = before.get(rel);
      this.kvs.set(rel, this.wire(kv, old && old[3] === kv.createRevision ? old[4] : 0));
    }
    this.fleet.load([...this.kvs.values()]);
    this.revision = revision;
    if (this.history.length === 0) this.record();
    this.ready = true;
    this.broadcast('snapshot', this.snapshot());
  }

  private apply(kv: KeyValue, type: 'put' | 'delete', now: number): void {
    const rel = kv.key.slice(this.prefix.length);
    if (type === 'delete') {
      this.kvs.delete(rel);
      this.fleet.delete(rel);
      this.pending.push(rel);
      return;
    }
    const old = this.kvs.get(rel);
    const w = this.wire(kv, old && old[3] === kv.createRevision ? old[4] : now);
    this.kvs.set(rel, w);
    this.fleet.put(w);
    this.pending.push(w);
    if (rel === 'status/master') this.record();
  }

  /** Keeps the master's report with the balance the fleet has now, and tells the pages. */
  private record(): void {
    const value = this.kvs.get('status/master')?.[1];
    const report = value === undefined ? undefined : readSchedule(value);
    if (!report) return;
    const last = this.history[this.history.length - 1];
    if (last && last.report.time === report.time && last.report.leader === report.leader) return;
    const entry: ScheduleEntry = { report, balance: this.fleet.view().balance };
    this.history.push(entry);
    if (this.history.length > HISTORY) this.history.shift();
    if (this.ready) this.broadcast('history', entry);
  }

  private flush(): void {
    this.flushScheduled = false;
    if (this.pending.length === 0) return;
    const ops = this.pending;
    this.pending = [];
    this.broadcast('changes', { revision: this.revision, ops, at: this.pendingAt });
  }

  private async watchLoop(signal: AbortSignal): Promise<void> {
    const backoff = new Backoff({ initialDelay: 250, maxDelay: 5_000 });
    while (!signal.aborted) {
      try {
        const watcher = new PrefixWatcher(this.o.store, this.prefix, { signal: signal });
        for await (const u of watcher) {
          backoff.reset();
          if (u.type !== 'events') {
            this.load(u.kvs, u.revision);
            continue;
          }
          const now = Date.now();
          if (this.pending.length === 0) this.pendingAt = now;
          for (const e of u.events) this.apply(e.kv, e.type, now);
          this.revision = u.revision;
          if (!this.flushScheduled) {
            this.flushScheduled = true;
            setImmediate(() => this.flush());
          }
        }
      } catch (err) {
        this.o.onError?.(err);
        this.setStore(false, (err as Error)?.message ?? String(err));
      }
      await sleep(systemClock, backoff.next(), signal).catch(() => undefined);
    }
  }

  private setStore(ok: boolean, error?: string): void {
    if (ok === this.storeOk) return;
    this.storeOk = ok;
    this.broadcast('store', ok ? { ok } : { ok, error });
  }

  /** Reads the time left of each worker lease and restart marker (and so notices when the store does not answer). */
  private async leaseLoop(signal: AbortSignal): Promise<void> {
    const every = this.o.leaseEvery ?? 1_000;
    const probe = keys(this.o.root).masterStatus;
    while (!signal.aborted) {
      if (this.clients.size > 0 || !this.storeOk) {
        const leases = new Set<string>();
        for (const [rel, , lease] of this.kvs.values()) {
          if (rel.startsWith('worker/') || rel.startsWith('restarting/')) leases.add(lease);
        }
        try {
          const ttl: Record<string, number> = {};
          await this.o.store.get(probe);
          await Promise.all(
            [...leases].map(async (id) => {
              ttl[id] = (await this.o.store.leaseTimeToLive(id)).ttl;
            }),
          );
          this.setStore(true);
          this.broadcast('leases', { ttl });
        } catch (err) {
          this.setStore(false, (err as Error)?.message ?? String(err));
        }
      }
      await sleep(systemClock, every, signal).catch(() => undefined);
    }
  }
}

function methodNotAllowed(res: ServerResponse): true {
  res.writeHead(405, { 'content-type': 'text/plain', allow: 'GET, HEAD' });
  res.end('method not allowed\n');
  return true;
}
