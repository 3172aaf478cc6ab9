/**
 * `escheduler status`: what the fleet under one root looks like now, read from etcd: the leader, each
 * worker with its lease time left and its assigned and claimed tasks by group, workers restarting within
 * their grace (tasks held, time left), tasks assigned to no live worker, the start-up barrier, the last
 * schedule (`/<root>/status/master`) and the failing tasks (`/<root>/health/<worker>`).
 */
import { type ControlState, parseControl } from '../scheduler/control/state.js';
import { readFleetHealth } from '../scheduler/health.js';
import { keys, rootPath, type StandbyRecord } from '../scheduler/keys.js';
import type { ScheduleReport } from '../scheduler/master.js';
import { restartingWorkers } from '../scheduler/restart.js';
import { EtcdStore } from '../store/etcd.js';
import type { Store } from '../store/port.js';
import { decodeTask } from '../task.js';
import { CliError, type ConnectionFlags, etcdEndpoints, openStore } from './common.js';
import { formatDuration } from './duration.js';
import { type FailingReport, failingReport, renderFailing } from './status-failing.js';
import * as wl from './status-load.js';

export interface WorkerStatusReport extends wl.WorkerLoad {
  name: string;
  /** Lease id (hex). */
  lease: string;
  /** Seconds left on the worker's lease (-1 when it just expired). */
  ttl: number;
  assigned: string[];
  /** Tasks whose claim this worker holds: they run (or are settling) there. */
  claimed: string[];
  /** Assigned and claimed task ids per group (`''` is the default group). */
  groups: Record<string, { assigned: string[]; claimed: string[] }>;
}

/** A worker stopped with restart intent whose grace has not run out: its assignment is held for it. */
export interface RestartingReport {
  name: string;
  /** Tasks held on it (assigned, not running until it is back). */
  held: string[];
  /** Seconds left of the grace (its marker's lease TTL), -1 when it just expired. */
  ttl: number;
  /** RFC 3339 time it stopped, and the grace in ms, from the marker (null when unreadable). */
  since: string | null;
  graceMs: number | null;
}

/** A worker waiting for a slot over the cap (`/<root>/standby/<name>`), in arrival order. */
export interface StandbyStatusReport {
  name: string;
  /** Lease id (hex). */
  lease: string;
  /** When it started waiting (RFC 3339), its pid and host, as it wrote them; null when unreadable. */
  since: string | null;
  pid: number | null;
  host: string | null;
}

export interface StatusReport extends FailingReport {
  root: string;
  /** Name of the leading master, or null. */
  leader: string | null;
  /** Every master candidate, leader first. */
  candidates: string[];
  workers: WorkerStatusReport[];
  /** Workers restarting within their grace (`/<root>/restarting/<name>`, not online). */
  restarting: RestartingReport[];
  /** Assignments whose worker is neither online nor restarting (a master will move them). */
  /** Workers waiting for a free slot over the cap, first in line first (they register in this order). */
  standbys: StandbyStatusReport[];
  orphaned: { worker: string; id: string }[];
  /** Claims held by names that are not online workers. */
  strayClaims: { worker: string; id: string }[];
  barrier: { passed: boolean; leftAt: string | null; waiting: number; ready: boolean };
  lastSchedule: ScheduleReport | null;
  /**
   * Set when the last schedule was written by a master that no longer leads: the leader has not written one
   * (yet, or ever — a Go master does not write `/<root>/status/master`), so it may be old news.
   */
  lastScheduleStale: string | null;
  /** The operators' control state (`/<root>/control/`): cordoned/draining workers, pins, pause, problems. */
  control: ControlState;
  /** Store revision the report was read at. */
  revision: number;
  /** Active etcd alarms: with `NOSPACE` etcd refuses every write (no schedule, registration or claim). */
  etcdAlarms: { member: string; alarm: string }[];
}

/** Reads the status of the fleet under `root`. */
export async function collectStatus(store: Store, root: string): Promise<StatusReport> {
  const k = keys(root);
  const [election, workers, tasks, claims, waiters, ready, left, master, markers, control, standby, health] =
    await Promise.all([
      store.range(`${k.election}/`, { prefix: true, sortBy: 'create', sortOrder: 'ascend' }),
      store.range(k.workerPrefix, { prefix: true }),
      store.range(k.taskPrefix, { prefix: true }),
      store.range(k.claimPrefix, { prefix: true }),
      store.range(`${k.barrier}/waiters/`, { prefix: true, countOnly: true }),
      store.get(`${k.barrier}/ready`),
      store.get(k.barrierLeft),
      store.get(k.masterStatus),
      store.range(k.restartingPrefix, { prefix: true }),
      store.range(k.controlPrefix, { prefix: true }),
      store.range(k.standbyPrefix, { prefix: true, sortBy: 'create', sortOrder: 'ascend' }),
      readFleetHealth(store, root),
    ]);
  const standbys = standby.kvs.map((kv): StandbyStatusReport => {
    let r: Partial<StandbyRecord> = {};
    try {
      r = JSON.parse(kv.value) as Partial<StandbyRecord>;
    } catch {
      // written by something else: list the name alone
    }
    return {
      name: kv.key.slice(k.standbyPrefix.length),
      lease: kv.lease,
      since: typeof r.since === 'string' ? r.since : null,
      pid: typeof r.pid === 'number' ? r.pid : null,
      host: typeof r.host === 'string' ? r.host : null,
    };
  });
  const loadOf = await wl.loadReader(store, k, tasks.kvs, workers.kvs);
  const groupOf = new Map<string, string>();
  const assignedBy = new Map<string, string[]>();
  const allAssignments: { worker: string; id: string }[] = [];
  for (const kv of tasks.kvs) {
    const rest = kv.key.slice(k.taskPrefix.length);
    const slash = rest.indexOf('/');
    if (slash <= 0) continue;
    const worker = rest.slice(0, slash);
    const id = rest.slice(slash + 1);
    let group = '';
    try {
      group = decodeTask(kv.value, id).group ?? '';
    } catch {
      group = '?';
    }
    groupOf.set(id, group);
    allAssignments.push({ worker, id });
    const list = assignedBy.get(worker) ?? [];
    list.push(id);
    assignedBy.set(worker, list);
  }
  const claimedBy = new Map<string, string[]>();
  const claimList: { worker: string; id: string }[] = [];
  for (const kv of claims.kvs) {
    const id = kv.key.slice(k.claimPrefix.length);
    claimList.push({ worker: kv.value, id });
    const list = claimedBy.get(kv.value) ?? [];
    list.push(id);
    claimedBy.set(kv.value, list);
  }
  const online = new Set<string>();
  const workerReports = await Promise.all(
    workers.kvs.map(async (kv): Promise<WorkerStatusReport> => {
      const name = kv.key.slice(k.workerPrefix.length);
      online.add(name);
      const info = await store.leaseTimeToLive(kv.lease).catch(() => ({ ttl: -1 }));
      const assigned = assignedBy.get(name) ?? [];
      const claimed = claimedBy.get(name) ?? [];
      const groups: WorkerStatusReport['groups'] = {};
      const slot = (id: string) => {
        const g = groupOf.get(id) ?? '';
        groups[g] ??= { assigned: [], claimed: [] };
        return groups[g];
      };
      for (const id of assigned) slot(id).assigned.push(id);
      for (const id of claimed) slot(id).claimed.push(id);
      return { name, lease: kv.lease, ttl: info.ttl, assigned, claimed, groups, ...loadOf(name, assigned) };
    }),
  );
  const leases = new Map(markers.kvs.map((kv) => [kv.key, kv.lease]));
  const restarting = await Promise.all(
    [...restartingWorkers(markers.kvs, k.restartingPrefix)]
      .filter(([name]) => !online.has(name))
      .map(async ([name, m]): Promise<RestartingReport> => {
        const lease = leases.get(k.restarting(name))!;
        const info = await store.leaseTimeToLive(lease).catch(() => ({ ttl: -1 }));
        return {
          name,
          held: assignedBy.get(name) ?? [],
          ttl: info.ttl,
          since: m ? new Date(m.at).toISOString() : null,
          graceMs: m?.graceMs ?? null,
        };
      }),
  );
  const away = new Set(restarting.map((r) => r.name));
  let lastSchedule: ScheduleReport | null = null;
  if (master) {
    try {
      lastSchedule = JSON.parse(master.value) as ScheduleReport;
    } catch {
      lastSchedule = null;
    }
  }
  const leader = election.kvs[0]?.value ?? null;
  let lastScheduleStale: string | null = null;
  if (lastSchedule && lastSchedule.leader !== leader) {
    lastScheduleStale =
      leader === null
        ? `written by ${lastSchedule.leader}, and no master leads now`
        : `written by ${lastSchedule.leader}, which no longer leads; the leader ${leader} has not written one (a Go master never does)`;
  }
  return {
    root: rootPath(root),
    leader,
    candidates: election.kvs.map((kv) => kv.value),
    workers: workerReports,
    restarting,
    standbys,
    orphaned: allAssignments.filter((a) => !online.has(a.worker) && !away.has(a.worker)),
    strayClaims: claimList.filter((c) => !online.has(c.worker)),
    barrier: { passed: !!left, leftAt: left?.value ?? null, waiting: waiters.count, ready: !!ready },
    lastSchedule,
    lastScheduleStale,
    control: parseControl(control.kvs, k),
    ...failingReport(health),
    revision: election.revision,
    // etcd may refuse the alarm list (an unreachable member, a user without the permission): none shown.
    etcdAlarms: store instanceof EtcdStore ? await store.alarms().catch(() => []) : [],
  };
}

function groupLabel(g: string): string {
  return g === '' ? '(default)' : g;
}

/** The report as text for people. */
export function renderStatus(s: StatusReport): string {
  const lines: string[] = [];
  const n = s.candidates.length - 1;
  const others = n > 0 ? ` (+${n} candidate${n > 1 ? 's' : ''})` : '';
  const pause = s.control.pause;
  if (pause) {
    lines.push(
      `PAUSED since ${pause.at} by ${pause.by}${pause.reason ? ` — ${pause.reason}` : ''}: no task moves between live workers`,
    );
  }
  lines.push(`root ${s.root} · leader ${s.leader ?? 'none'}${others}`);
  for (const a of s.etcdAlarms) {
    lines.push(
      a.alarm === 'NOSPACE'
        ? `etcd alarm NOSPACE (member ${a.member}): etcd refuses writes, nothing is scheduled, registered or claimed — free space, compact, defragment every member, then disarm (etcdctl alarm disarm)`
        : `etcd alarm ${a.alarm} (member ${a.member})`,
    );
  }
  const b = s.barrier;
  lines.push(
    b.passed
      ? `barrier: passed at ${b.leftAt}`
      : `barrier: not passed yet — ${b.waiting} waiting${b.ready ? ', ready (leaving)' : ''}`,
  );
  const ls = s.lastSchedule;
  lines.push(
    ls
      ? `last schedule: ${ls.time} by ${ls.leader} · ${ls.reason} · ${ls.result} · ${ls.workers} workers · ${ls.tasks} tasks · +${ls.assigned} -${ls.revoked} · moves ${ls.moves}${
          ls.held ? ` · held ${ls.held} for ${ls.restarting?.join(',')}` : ''
        } · ${formatDuration(ls.durationMs)}`
      : 'last schedule: none yet',
  );
  if (s.lastScheduleStale) lines.push(`  (stale: ${s.lastScheduleStale})`);
  lines.push('');
  const stateOf = new Map(s.control.workers.map((c) => [c.worker, c.state]));
  const rows = [[...wl.COLUMNS, 'TASKS BY GROUP (* = claimed)']];
  for (const w of s.workers) {
    const claimed = new Set(w.claimed);
    const groups = Object.keys(w.groups)
      .sort()
      .map((g) => {
        const ids = [...new Set([...w.groups[g].assigned, ...w.groups[g].claimed])].sort();
        return `${groupLabel(g)}: ${ids.map((id) => (claimed.has(id) ? `${id}*` : id)).join(' ')}`;
      })
      .join(' · ');
    rows.push([
      w.name,
      stateOf.get(w.name) ?? '-',
      w.ttl >= 0 ? `${w.ttl}s` : 'gone',
      ...wl.loadCells(w),
      String(w.claimed.length),
      groups,
    ]);
  }
  if (s.workers.length === 0) rows.push(['(no worker online)', ...wl.COLUMNS.map(() => '')]);
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  for (const r of rows)
    lines.push(r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  '));
  for (const r of s.restarting ?? []) {
    lines.push(
      `restarting: ${r.name} · ${r.held.length} tasks held (not running) · ${
        r.ttl >= 0 ? `${r.ttl}s left of its grace` : 'grace just ran out'
      }${r.since ? ` · stopped ${r.since}` : ''}`,
    );
  }
  if ((s.standbys ?? []).length > 0) {
    lines.push('');
    lines.push(`standby (fleet full, waiting for a slot, first in line first): ${s.standbys.length}`);
    for (const b of s.standbys) {
      const where = [b.host, b.pid !== null ? `pid ${b.pid}` : null].filter(Boolean).join(' ');
      lines.push(`  ${b.name}${b.since ? ` since ${b.since}` : ''}${where ? ` (${where})` : ''}`);
    }
  }
  lines.push('');
  lines.push(
    s.orphaned.length === 0
      ? 'tasks assigned to no live worker: none'
      : `tasks assigned to no live worker: ${s.orphaned.map((o) => `${o.id} (on ${o.worker})`).join(', ')}`,
  );
  lines.push(...renderControl(s));
  lines.push(...renderFailing(s));
  if (s.strayClaims.length > 0) {
    lines.push(
      `claims of workers no longer online: ${s.strayClaims.map((c) => `${c.id} (${c.worker})`).join(', ')}`,
    );
  }
  return lines.join('\n');
}

/** Cordoned/draining workers (with who, why, since), pins and malformed control entries. */
function renderControl(s: StatusReport): string[] {
  const lines: string[] = [];
  const online = new Set(s.workers.map((w) => w.name));
  const why = (c: { by: string; reason: string; at: string }) =>
    `by ${c.by || '?'} at ${c.at || '?'}${c.reason ? `: ${c.reason}` : ''}`;
  for (const c of s.control.workers) {
    lines.push(`${c.state} ${c.worker}${online.has(c.worker) ? '' : ' (not online)'} ${why(c)}`);
  }
  if (s.control.pins.length > 0) {
    const holder = new Map<string, string>();
    for (const w of s.workers) for (const id of w.assigned) holder.set(id, w.name);
    lines.push(
      `pins: ${s.control.pins
        .map((p) => {
          const on = holder.get(p.task);
          return `${p.task}→${p.worker}${on === p.worker ? '' : ` (now on ${on ?? 'no worker'})`}`;
        })
        .join(', ')}`,
    );
  }
  for (const problem of s.control.problems) lines.push(`control problem: ${problem}`);
  return lines;
}

export interface StatusFlags extends ConnectionFlags {
  root?: string;
  json?: boolean;
  watch?: boolean;
  every: number;
}

export async function statusCommand(flags: StatusFlags): Promise<number> {
  if (!flags.root) throw new CliError('status: --root <name> is required');
  try {
    rootPath(flags.root);
  } catch (err) {
    throw new CliError((err as Error).message);
  }
  if (!etcdEndpoints(flags)) {
    throw new CliError(
      'status: --etcd <endpoints> (or ESCHEDULER_ETCD) is required: the memory store lives inside one process',
    );
  }
  const root = flags.root;
  const { store } = await openStore(flags, keys(root).masterStatus);
  const print = (s: StatusReport) => {
    if (flags.json) process.stdout.write(`${JSON.stringify(s)}\n`);
    else if (flags.watch && process.stdout.isTTY) process.stdout.write(`\x1b[H\x1b[2J${renderStatus(s)}\n`);
    else process.stdout.write(`${renderStatus(s)}\n${flags.watch ? '\n' : ''}`);
  };
  try {
    if (!flags.watch) {
      print(await collectStatus(store, root));
      return 0;
    }
    const stop = new AbortController();
    const onSignal = () => stop.abort();
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    let last = '';
    while (!stop.signal.aborted) {
      try {
        const s = await collectStatus(store, root);
        const { revision: _rev, workers, ...rest } = s;
        // Reprint on a change (lease countdowns change every second: shown in text mode only).
        const key = JSON.stringify({ ...rest, workers: workers.map((w) => ({ ...w, ttl: 0 })) });
        if (!flags.json || key !== last) print(s);
        last = key;
      } catch (err) {
        process.stderr.write(`status: ${(err as Error).message}\n`);
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, flags.every);
        stop.signal.addEventListener('abort', () => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return 0;
  } finally {
    await store.close().catch(() => undefined);
  }
}
