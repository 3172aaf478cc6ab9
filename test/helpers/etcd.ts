/**
 * Test harness: starts real etcd members on free loopback ports (never 2379) with temp data dirs and
 * `--unsafe-no-fsync` (unless `fsync: true`, as the benchmarks ask), and stops every process it started,
 * by pid, even when a test fails or the test process exits early.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const started = new Set<ChildProcess>();
process.on('exit', () => {
  for (const p of started) {
    try {
      if (p.pid) process.kill(p.pid, 'SIGKILL');
    } catch {
      // already gone: nothing to clean up
    }
  }
});

/** The etcd binary, or a clear error naming the Debian package. */
export function etcdBinary(): string {
  const candidates = [process.env.ETCD_BIN, '/usr/bin/etcd', '/usr/local/bin/etcd'].filter(
    Boolean,
  ) as string[];
  for (const c of candidates) {
    try {
      execFileSync(c, ['--version'], { stdio: 'ignore' });
      return c;
    } catch {
      // try the next candidate
    }
  }
  try {
    return execFileSync('sh', ['-c', 'command -v etcd'], { encoding: 'utf8' }).trim();
  } catch {
    throw new Error(
      "etcd is not installed: install the Debian package 'etcd-server' (apt-get install etcd-server) " +
        'or set ETCD_ENDPOINTS to an etcd you run yourself',
    );
  }
}

/**
 * The range the kernel picks source ports of outgoing connections from (Linux; 32768–60999 by default).
 * A port handed out by `listen(0)` comes from it too, so between our check and the child's bind an
 * outgoing connection (etcd clients open many) could take it: {@link freePort} stays below it.
 */
function ephemeralRange(): [number, number] {
  try {
    const [lo, hi] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8')
      .trim()
      .split(/\s+/)
      .map(Number);
    if (lo > 0 && hi >= lo) return [lo, hi];
  } catch {
    // not Linux: assume the IANA range
  }
  return [49152, 65535];
}

/** Whether a TCP server can listen on 127.0.0.1:`port` now. */
function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/**
 * A free TCP port on 127.0.0.1 for a process to bind, outside the kernel's ephemeral range (so no
 * outgoing connection takes it before the process binds it) and never 2379/2380: a random port that can
 * be listened on now, below the ephemeral range (above it when that leaves no room).
 */
export async function freePort(): Promise<number> {
  const [lo, hi] = ephemeralRange();
  const [from, to] = lo - 10_000 >= 10_000 ? [lo - 10_000, lo - 1] : [hi + 1, Math.min(65_535, hi + 10_000)];
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = from + Math.floor(Math.random() * (to - from + 1));
    if (port === 2379 || port === 2380) continue;
    if (await canListen(port)) return port;
  }
  throw new Error(`no free port found in ${from}-${to} after 200 tries`);
}

export interface MemberSpec {
  name: string;
  clientPort: number;
  peerPort: number;
}

/** One etcd member process. */
export class EtcdMember {
  proc?: ChildProcess;
  readonly dataDir: string;
  private exited?: Promise<void>;
  log = '';

  constructor(
    readonly spec: MemberSpec,
    private readonly initialCluster: string,
    private readonly extraArgs: string[] = [],
    private readonly fsync = false,
  ) {
    this.dataDir = mkdtempSync(join(tmpdir(), `escheduler-etcd-${spec.name}-`));
  }

  get endpoint(): string {
    return `127.0.0.1:${this.spec.clientPort}`;
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  /** Starts (or restarts, keeping the data dir) the member. */
  start(state: 'new' | 'existing' = 'new'): void {
    const { name, clientPort, peerPort } = this.spec;
    const args = [
      '--name',
      name,
      '--data-dir',
      this.dataDir,
      '--listen-client-urls',
      `http://127.0.0.1:${clientPort}`,
      '--advertise-client-urls',
      `http://127.0.0.1:${clientPort}`,
      '--listen-peer-urls',
      `http://127.0.0.1:${peerPort}`,
      '--initial-advertise-peer-urls',
      `http://127.0.0.1:${peerPort}`,
      '--initial-cluster',
      this.initialCluster,
      '--initial-cluster-state',
      state,
      '--initial-cluster-token',
      `escheduler-test-${process.pid}`,
      ...(this.fsync ? [] : ['--unsafe-no-fsync']),
      '--logger',
      'zap',
      '--log-level',
      'error',
      ...this.extraArgs,
    ];
    const proc = spawn(etcdBinary(), args, { stdio: ['ignore', 'ignore', 'pipe'] });
    proc.stderr?.on('data', (d: Buffer) => {
      this.log = (this.log + d.toString()).slice(-20_000);
    });
    started.add(proc);
    this.exited = new Promise((resolve) => {
      proc.once('exit', () => {
        started.delete(proc);
        resolve();
      });
    });
    this.proc = proc;
  }

  /**
   * SIGSTOP: the member freezes, connections hang. Returns once the kernel reports the process stopped
   * (state `T` in /proc, bounded to 2 s): the signal is delivered asynchronously, and a request sent in
   * between could still be served.
   */
  pause(): void {
    const pid = this.proc?.pid;
    if (!pid) return;
    process.kill(pid, 'SIGSTOP');
    const deadline = Date.now() + 2_000;
    while (Date.now() < deadline) {
      let state = '';
      try {
        // "pid (comm) S ...": the state follows the last ')'.
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
      } catch {
        return; // no /proc (not Linux) or the process is gone: nothing more to wait for
      }
      if (state === 'T' || state === 't') return;
    }
    throw new Error(`etcd member ${this.spec.name} (pid ${pid}) did not stop within 2 s of SIGSTOP`);
  }

  resume(): void {
    if (this.proc?.pid) process.kill(this.proc.pid, 'SIGCONT');
  }

  /** Stops the process (SIGKILL by default) and waits for it to exit. */
  async stop(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const proc = this.proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    try {
      if (proc.pid) process.kill(proc.pid, 'SIGCONT');
      if (proc.pid) process.kill(proc.pid, signal);
    } catch {
      // already exited
    }
    await this.exited;
  }

  async destroy(): Promise<void> {
    await this.stop();
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}

/** A running etcd (one member or a cluster). */
export class EtcdCluster {
  constructor(readonly members: EtcdMember[]) {}

  get endpoints(): string[] {
    return this.members.map((m) => m.endpoint);
  }

  /** Waits until every running member answers `/health` (or the deadline passes). */
  async ready(timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (const m of this.members) {
      if (!m.proc || m.proc.exitCode !== null) continue;
      for (;;) {
        try {
          const res = await fetch(`http://${m.endpoint}/health`, { signal: AbortSignal.timeout(1000) });
          const body = (await res.json()) as { health?: string };
          if (body.health === 'true') break;
        } catch {
          // not up yet
        }
        if (Date.now() > deadline) {
          throw new Error(
            `etcd member ${m.spec.name} at ${m.endpoint} not healthy after ${timeoutMs} ms:\n${m.log}`,
          );
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  /** Name of the member that is the raft leader now (asks each member's /metrics... via etcd's v3 maintenance status through HTTP gateway). */
  async leader(): Promise<EtcdMember | undefined> {
    for (const m of this.members) {
      try {
        const res = await fetch(`http://${m.endpoint}/v3/maintenance/status`, {
          method: 'POST',
          body: '{}',
          signal: AbortSignal.timeout(1000),
        });
        const s = (await res.json()) as { header?: { member_id?: string }; leader?: string };
        if (s.leader && s.header?.member_id === s.leader) return m;
      } catch {
        // member down or paused
      }
    }
    return undefined;
  }

  async destroy(): Promise<void> {
    await Promise.all(this.members.map((m) => m.destroy()));
  }
}

export interface StartOptions {
  /** Members (1 or 3). @default 1 */
  size?: number;
  /** Extra etcd flags for every member. */
  args?: string[];
  /** Fast raft timings (heartbeat 50 ms, election 500 ms) for fault tests. @default true for size > 1 */
  fast?: boolean;
  /** Keep etcd's fsync (as a real deployment does); tests skip it for speed. @default false */
  fsync?: boolean;
}

/** Starts a fresh etcd (one member or a cluster) and waits until it is healthy. */
export async function startEtcd(options: StartOptions = {}): Promise<EtcdCluster> {
  const size = options.size ?? 1;
  const specs: MemberSpec[] = [];
  for (let i = 0; i < size; i++) {
    specs.push({ name: `n${i + 1}`, clientPort: await freePort(), peerPort: await freePort() });
  }
  const initial = specs.map((s) => `${s.name}=http://127.0.0.1:${s.peerPort}`).join(',');
  const fast = options.fast ?? size > 1;
  const extra = [
    ...(fast ? ['--heartbeat-interval', '50', '--election-timeout', '500'] : []),
    ...(options.args ?? []),
  ];
  const members = specs.map((s) => new EtcdMember(s, initial, extra, options.fsync === true));
  const cluster = new EtcdCluster(members);
  try {
    for (const m of members) m.start();
    await cluster.ready();
  } catch (err) {
    await cluster.destroy();
    throw err;
  }
  return cluster;
}

/** Endpoints of the shared etcd for this test run (set by scripts/test.ts, or by the user). */
export function sharedEndpoints(): string[] {
  const env = process.env.ETCD_ENDPOINTS;
  if (!env) {
    throw new Error(
      'ETCD_ENDPOINTS is not set: run the tests with `npm test`, which starts an etcd for them',
    );
  }
  return env
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

let counter = 0;
/** A key prefix (root name) unique to this test. */
export function uniqueRoot(name: string): string {
  return `test-${name.replace(/[^a-zA-Z0-9_-]+/g, '-')}-${process.pid}-${Date.now().toString(36)}-${counter++}`;
}

/** One call of etcd's JSON gateway (`POST /v3/...`) on one member; throws naming the path on an error. */
export async function gateway<T = Record<string, unknown>>(
  endpoint: string,
  path: string,
  body: unknown = {},
  timeoutMs = 10_000,
): Promise<T> {
  const res = await fetch(`http://${endpoint}/v3/${path}`, {
    method: 'POST',
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const json = (await res.json()) as T & { error?: string; message?: string };
  if (!res.ok)
    throw new Error(`etcd ${path} on ${endpoint}: ${res.status} ${json.message ?? json.error ?? ''}`);
  return json;
}

export interface Alarm {
  memberID: string;
  alarm: string;
}

/** Active alarms (NOSPACE, CORRUPT) as any member reports them. */
export async function alarms(cluster: EtcdCluster): Promise<Alarm[]> {
  const res = await gateway<{ alarms?: Alarm[] }>(cluster.endpoints[0], 'maintenance/alarm', {
    action: 'GET',
  });
  return res.alarms ?? [];
}

/**
 * What an operator does after `NOSPACE` once space was freed: defragment every member, then disarm every
 * alarm (etcdctl defrag --cluster; etcdctl alarm disarm). Compaction is the caller's (it needs a revision).
 */
export async function defragAndDisarm(cluster: EtcdCluster): Promise<void> {
  for (const m of cluster.members) await gateway(m.endpoint, 'maintenance/defragment', {}, 30_000);
  for (const a of await alarms(cluster)) {
    await gateway(cluster.endpoints[0], 'maintenance/alarm', {
      action: 'DEACTIVATE',
      memberID: a.memberID,
      alarm: a.alarm,
    });
  }
}
