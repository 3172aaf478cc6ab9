/**
 * Shared pieces of the end-to-end benchmarks (`npm run bench`): flags, JSON output, statistics, a store
 * wrapper that timestamps txns, child processes stopped by pid, and fixtures (tasks, fake workers).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { keys } from '../src/scheduler/keys.js';
import { EtcdStore } from '../src/store/etcd.js';
import type { Store, TxnRequest, TxnResult } from '../src/store/port.js';
import type { Task } from '../src/task.js';

export const BENCH_DIR = dirname(fileURLToPath(import.meta.url));

export interface BenchConfig {
  endpoints: string[];
  quick: boolean;
  fsync: boolean;
}

/** Prints one measurement as one JSON line on stdout. */
export function emit(bench: string, fields: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify({ bench, ...fields })}\n`);
}

/** Progress for humans, on stderr (stdout is JSON lines and the summary only). */
export function note(msg: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 23)}] ${msg}\n`);
}

export function median(xs: number[]): number {
  return quantile(xs, 0.5);
}

/** Nearest-rank quantile (q in [0, 1]) of the values. */
export function quantile(xs: number[], q: number): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const rank = Math.min(s.length, Math.max(1, Math.ceil(q * s.length)));
  return s[rank - 1];
}

export function round(x: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** `n` tasks named like trading pairs, priorities 0..9, two groups (as the original's wire format carries). */
export function makeTasks(n: number, prefix = 'pair'): Task[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `${prefix}-${String(i).padStart(6, '0')}`,
    priority: i % 10,
    group: i % 2 === 0 ? 'spot' : 'swap',
  }));
}

let rootCounter = 0;
/** A root name unique to this run and measurement. */
export function benchRoot(name: string): string {
  return `bench-${name}-${process.pid}-${Date.now().toString(36)}-${rootCounter++}`;
}

export function etcdStore(endpoints: string[]): EtcdStore {
  return new EtcdStore({ hosts: endpoints, callTimeout: 30_000 });
}

/** One timed txn, as seen from outside the library (wall clock, ms). */
export interface TxnTiming {
  start: number;
  end: number;
  request: TxnRequest;
  succeeded: boolean;
}

/** The store with every txn timestamped (start and end, see {@link now}); everything else passed through. */
export function timedStore(store: Store, onTxn: (t: TxnTiming) => void): Store {
  return new Proxy(store, {
    get(target, prop, receiver) {
      if (prop === 'txn') {
        return async (request: TxnRequest): Promise<TxnResult> => {
          const start = now();
          const res = await target.txn(request);
          onTxn({ start, end: now(), request, succeeded: res.succeeded });
          return res;
        };
      }
      const v: unknown = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}

/** Wall time in ms with sub-ms resolution, comparable across processes (epoch based). */
export function now(): number {
  return performance.timeOrigin + performance.now();
}

/**
 * Registers `names` as online workers (their keys under one lease) without running Worker objects: the
 * master only reads the keys. Returns a function that revokes the lease.
 */
export async function fakeWorkers(store: Store, root: string, names: string[]): Promise<() => Promise<void>> {
  const k = keys(root);
  const lease = await store.grantLease(600);
  for (const n of names) await store.put(k.worker(n), 'running', { lease: lease.id });
  return () => store.revokeLease(lease.id);
}

/** Marks the start-up barrier as passed, so master and workers skip it (as on a root that has run before). */
export async function skipBarrier(store: Store, root: string): Promise<void> {
  await store.put(keys(root).barrierLeft, new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'));
}

/** Deletes everything under the root (leases of abandoned workers expire by themselves). */
export async function cleanRoot(store: Store, root: string): Promise<void> {
  await store.delete(`${keys(root).root}/`, { prefix: true }).catch(() => undefined);
}

/**
 * Deletes everything under `prefix` folder by folder (keys listed 20k at a time, then one delete per
 * folder, 8 at once): etcd times out a single delete of a million keys ("request timed out").
 */
export async function deleteLarge(store: Store, prefix: string): Promise<void> {
  for (;;) {
    const res = await store.range(prefix, { prefix: true, keysOnly: true, limit: 20_000 });
    if (res.kvs.length === 0) return;
    const folders = new Set<string>();
    const single: string[] = [];
    for (const { key } of res.kvs) {
      const folder = key.slice(0, key.lastIndexOf('/') + 1);
      if (folder.length > prefix.length) folders.add(folder);
      else single.push(key);
    }
    const work = [
      ...[...folders].map((f) => () => store.delete(f, { prefix: true })),
      ...single.map((key) => () => store.delete(key)),
    ];
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        for (let job = work.shift(); job; job = work.shift()) await job();
      }),
    );
  }
}

/** Polls `cond` every `everyMs` until it is truthy or `timeoutMs` passes (then throws, naming `what`). */
export async function waitUntil<T>(
  what: string,
  cond: () => T | Promise<T>,
  timeoutMs: number,
  everyMs = 5,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await cond();
    if (v) return v as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

// ---- child processes -------------------------------------------------------------------------------

const children = new Set<ChildProcess>();

/** SIGKILLs every child still running (by pid). Called on exit, on signals and on failure. */
export function killChildren(): void {
  for (const c of children) {
    try {
      if (c.pid && c.exitCode === null && c.signalCode === null) process.kill(c.pid, 'SIGKILL');
    } catch {
      // already gone: nothing to stop
    }
  }
  children.clear();
}
process.on('exit', killChildren);

let childBundle: string | undefined;

/**
 * Bundles bench/child.ts (and the library) into plain JavaScript once, so children run on plain `node`
 * without the tsx loader (which adds ~35 MB of RSS of its own to every process it runs).
 */
export async function bundleChild(): Promise<string> {
  if (childBundle) return childBundle;
  const { build } = await import('esbuild');
  const outfile = join(BENCH_DIR, '..', 'node_modules', '.cache', 'escheduler-bench', 'child.mjs');
  await build({
    entryPoints: [join(BENCH_DIR, 'child.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    logLevel: 'error',
  });
  childBundle = outfile;
  return outfile;
}

/** A message a child sends over IPC. */
export type ChildMessage = { type: string } & Record<string, unknown>;

/**
 * A benchmark child process (`bench/child.ts <role> <json>`, bundled by {@link bundleChild} when that ran),
 * talking JSON messages over IPC.
 */
export class Child {
  readonly proc: ChildProcess;
  readonly exited: Promise<void>;
  private readonly messages: ChildMessage[] = [];
  private readonly latest = new Map<string, ChildMessage>();
  private waiters: Array<() => void> = [];
  stderr = '';

  constructor(role: string, args: Record<string, unknown>, nodeArgs: string[] = []) {
    const entry = childBundle ? [childBundle] : ['--import', 'tsx', join(BENCH_DIR, 'child.ts')];
    this.proc = spawn(process.execPath, [...nodeArgs, '--expose-gc', ...entry, role, JSON.stringify(args)], {
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    children.add(this.proc);
    this.proc.stderr?.on('data', (d: Buffer) => {
      this.stderr = (this.stderr + d.toString()).slice(-10_000);
    });
    this.proc.on('message', (m) => {
      this.messages.push(m as ChildMessage);
      this.latest.set((m as ChildMessage).type, m as ChildMessage);
      for (const w of this.waiters.splice(0)) w();
    });
    this.exited = new Promise((resolve) => {
      this.proc.once('exit', () => {
        children.delete(this.proc);
        for (const w of this.waiters.splice(0)) w();
        resolve();
      });
    });
  }

  get pid(): number {
    return this.proc.pid ?? -1;
  }

  /** Waits for the first message of `type` (not consumed before), or throws after `timeoutMs`. */
  async next(type: string, timeoutMs: number): Promise<ChildMessage> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.messages.findIndex((m) => m.type === type);
      if (i >= 0) return this.messages.splice(i, 1)[0];
      if (this.proc.exitCode !== null || this.proc.signalCode !== null) {
        throw new Error(`bench child ${this.pid} exited before sending '${type}':\n${this.stderr}`);
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`bench child ${this.pid}: no '${type}' within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** The latest message of `type` received so far (consumed or not). */
  last(type: string): ChildMessage | undefined {
    return this.latest.get(type);
  }

  send(msg: ChildMessage): void {
    this.proc.send(msg);
  }

  /** SIGKILL by pid; resolves when it exited. */
  async kill(): Promise<void> {
    if (this.proc.exitCode === null && this.proc.signalCode === null && this.proc.pid) {
      process.kill(this.proc.pid, 'SIGKILL');
    }
    await this.exited;
  }
}
