/**
 * The fleet as the dashboard sees it: every key under the root (relative keys, as in `protocol.ts`),
 * applied put by put, and the aggregated picture the page draws ({@link FleetState.view}). One pass over
 * the tasks per view, per-worker and per-group counts only — never one object per task in the view — so
 * a change in a fleet of 10,000 tasks costs one pass, not a redraw of 10,000 rows. Pure: used by the
 * server (balance after a schedule) and bundled into the page.
 */
import type { WireKv } from './protocol.js';
import {
  type ControlRecord,
  type HealthRecord,
  type NodeRecord,
  type RestartingRecord,
  readControl,
  readHealth,
  readNode,
  readRestarting,
  readSchedule,
  readStandby,
  readTask,
  type ScheduleRecord,
  type StandbyRecord,
  type TaskInfo,
} from './records.js';
import { type GroupCount, Tallies } from './tally.js';

export type { GroupCount };

interface Assignment extends TaskInfo {
  worker: string;
  id: string;
  seenAt: number;
}

export interface WorkerView {
  name: string;
  /** Registered now (false: away for a restart, its marker holding its tasks). */
  online: boolean;
  /** The worker's lease, or its restart marker's while it is away. */
  lease: string;
  /** Seconds left on the lease (undefined until the server reported it). */
  ttl?: number;
  assigned: number;
  claimed: number;
  /** Sum of the assigned tasks' weights. */
  load: number;
  groups: Record<string, GroupCount>;
  node?: NodeRecord;
  health?: HealthRecord;
  control?: ControlRecord;
  restarting?: RestartingRecord;
}

export interface FailingTask {
  worker: string;
  id: string;
  state: string;
  attempts: number;
  lastError: string;
  since?: string;
}

export interface FleetView {
  leader: string | null;
  /** Master candidates after the leader. */
  standbyMasters: string[];
  /** Workers waiting over the cap (`standby/<name>`). */
  standbyWorkers: { name: string; record: StandbyRecord }[];
  barrier: { passed: boolean; leftAt: string | null; waiting: number; ready: boolean };
  workers: WorkerView[];
  /** Every group in use, sorted (`''` is the default group). */
  groups: string[];
  tasks: number;
  claims: number;
  /** Assignments to workers that are neither online nor away for a restart. */
  orphaned: number;
  /** Claims held by names that are not online workers. */
  strayClaims: number;
  lastSchedule?: ScheduleRecord;
  failing: FailingTask[];
  paused?: ControlRecord;
  pins: { id: string; record: ControlRecord }[];
  /** Per group: fewest and most tasks on one live worker. */
  groupSpread: Record<string, { min: number; max: number }>;
  balance: { min: number; max: number; spread: number };
}

export interface SearchHit {
  id: string;
  group: string;
  /** Workers the task is assigned to (two only for a moment during a move). */
  assigned: string[];
  claimedBy?: string;
  /** When the claim (else the assignment) was first seen, ms; 0 = before the dashboard started. */
  since: number;
  pin?: ControlRecord;
}

/** Applies puts and deletes of relative keys; answers views and searches. */
export class FleetState {
  private readonly workers = new Map<string, { lease: string }>();
  private readonly tasks = new Map<string, Assignment>();
  private readonly byId = new Map<string, Set<string>>();
  private readonly claims = new Map<string, { worker: string; seenAt: number; group: string }>();
  private readonly tallies = new Tallies();
  private readonly election = new Map<string, { name: string; createRevision: number }>();
  private readonly waiters = new Set<string>();
  private ready = false;
  private barrierLeft: string | null = null;
  private master?: ScheduleRecord;
  private readonly health = new Map<string, HealthRecord>();
  private readonly controlWorkers = new Map<string, ControlRecord>();
  private readonly pins = new Map<string, ControlRecord>();
  private paused?: ControlRecord;
  private readonly nodes = new Map<string, NodeRecord>();
  private readonly restarting = new Map<string, RestartingRecord & { lease: string }>();
  private readonly standby = new Map<string, StandbyRecord>();
  /** Lease hex → seconds left. */
  readonly ttl = new Map<string, number>();

  clear(): void {
    for (const m of [this.workers, this.tasks, this.byId, this.claims, this.election, this.waiters])
      m.clear();
    this.tallies.clear();
    for (const m of [this.health, this.controlWorkers, this.pins, this.nodes, this.restarting, this.standby])
      m.clear();
    this.ready = false;
    this.barrierLeft = null;
    this.master = undefined;
    this.paused = undefined;
  }

  put([key, value, lease, createRevision, seenAt]: WireKv): void {
    const slash = key.indexOf('/');
    const folder = slash < 0 ? key : key.slice(0, slash);
    const rest = slash < 0 ? '' : key.slice(slash + 1);
    switch (folder) {
      case 'worker':
        if (rest && !rest.includes('/')) this.workers.set(rest, { lease });
        return;
      case 'task': {
        const i = rest.indexOf('/');
        if (i <= 0 || i === rest.length - 1) return;
        const worker = rest.slice(0, i);
        const id = rest.slice(i + 1);
        this.dropTask(key);
        const task = { ...readTask(value), worker, id, seenAt };
        this.tasks.set(key, task);
        const set = this.byId.get(id) ?? new Set<string>();
        this.byId.set(id, set);
        set.add(worker);
        this.tallies.assign(worker, task.group, task.weight, 1);
        this.regroupClaim(id);
        return;
      }
      case 'claim':
        if (!rest) return;
        this.dropClaim(rest);
        this.claims.set(rest, { worker: value, seenAt, group: this.groupOf(rest) });
        this.tallies.claim(value, this.groupOf(rest), 1);
        return;
      case 'election':
        if (rest) this.election.set(key, { name: value, createRevision });
        return;
      case 'worker-barrier':
        if (rest === 'ready') this.ready = true;
        else if (rest.startsWith('waiters/')) this.waiters.add(key);
        return;
      case 'worker_barrier_left':
        this.barrierLeft = value;
        return;
      case 'status':
        if (rest === 'master') this.master = readSchedule(value);
        return;
      case 'control':
        this.putControl(rest, value);
        return;
      default:
        this.putRecord(folder, rest, value, lease);
    }
  }

  private putControl(rest: string, value: string): void {
    const record = readControl(value);
    if (rest === 'pause') this.paused = record ?? {};
    else if (rest.startsWith('worker/') && record) this.controlWorkers.set(rest.slice(7), record);
    else if (rest.startsWith('pin/') && record) this.pins.set(rest.slice(4), record);
  }

  private putRecord(folder: string, name: string, value: string, lease: string): void {
    if (!name || name.includes('/')) return;
    const set = <T>(map: Map<string, T>, record: T | undefined) => {
      if (record) map.set(name, record);
      else map.delete(name);
    };
    if (folder === 'health') set(this.health, readHealth(value));
    else if (folder === 'node') set(this.nodes, readNode(value));
    else if (folder === 'restarting') this.restarting.set(name, { ...readRestarting(value), lease });
    else if (folder === 'standby') set(this.standby, readStandby(value));
  }

  /** The group of a task id (from one of its assignments), `''` when not assigned. */
  private groupOf(id: string): string {
    const on = this.byId.get(id);
    const worker = on?.values().next().value;
    return worker === undefined ? '' : (this.tasks.get(`task/${worker}/${id}`)?.group ?? '');
  }

  /** A claim counts in the group of its task's assignment (`''` while none): after a change of those. */
  private regroupClaim(id: string): void {
    const claim = this.claims.get(id);
    const group = this.groupOf(id);
    if (!claim || claim.group === group) return;
    this.tallies.claim(claim.worker, claim.group, -1);
    claim.group = group;
    this.tallies.claim(claim.worker, group, 1);
  }

  private dropClaim(id: string): void {
    const c = this.claims.get(id);
    if (!c) return;
    this.claims.delete(id);
    this.tallies.claim(c.worker, c.group, -1);
  }

  private dropTask(key: string): void {
    const t = this.tasks.get(key);
    if (!t) return;
    this.tasks.delete(key);
    this.tallies.assign(t.worker, t.group, t.weight, -1);
    const set = this.byId.get(t.id);
    set?.delete(t.worker);
    if (set?.size === 0) this.byId.delete(t.id);
    this.regroupClaim(t.id);
  }

  delete(key: string): void {
    const slash = key.indexOf('/');
    const folder = slash < 0 ? key : key.slice(0, slash);
    const rest = slash < 0 ? '' : key.slice(slash + 1);
    const maps: Record<string, Map<string, unknown>> = {
      worker: this.workers,
      health: this.health,
      node: this.nodes,
      restarting: this.restarting,
      standby: this.standby,
    };
    if (folder === 'task') this.dropTask(key);
    else if (folder === 'claim') this.dropClaim(rest);
    else if (folder === 'election') this.election.delete(key);
    else if (folder === 'worker-barrier') {
      if (rest === 'ready') this.ready = false;
      else this.waiters.delete(key);
    } else if (folder === 'worker_barrier_left') this.barrierLeft = null;
    else if (key === 'status/master') this.master = undefined;
    else if (rest === 'pause' && folder === 'control') this.paused = undefined;
    else if (folder === 'control' && rest.startsWith('worker/')) this.controlWorkers.delete(rest.slice(7));
    else if (folder === 'control' && rest.startsWith('pin/')) this.pins.delete(rest.slice(4));
    else maps[folder]?.delete(rest);
  }

  /** Replaces the whole state. */
  load(kvs: readonly WireKv[]): void {
    this.clear();
    for (const kv of kvs) this.put(kv);
  }

  view(): FleetView {
    const workers: WorkerView[] = [];
    // Online workers, and workers away for a restart (issue 15): the master holds their tasks for them.
    const names = [...new Set([...this.workers.keys(), ...this.restarting.keys()])].sort((a, b) =>
      a.localeCompare(b),
    );
    for (const name of names) {
      const online = this.workers.get(name);
      const lease = online?.lease ?? this.restarting.get(name)?.lease ?? '0';
      const t = this.tallies.get(name);
      const groups: Record<string, GroupCount> = {};
      for (const [g, c] of t?.groups ?? []) groups[g] = { ...c };
      workers.push({
        name,
        online: online !== undefined,
        lease,
        ttl: this.ttl.get(lease),
        assigned: t?.assigned ?? 0,
        claimed: t?.claimed ?? 0,
        load: t?.load ?? 0,
        groups,
        node: this.nodes.get(name),
        health: this.health.get(name),
        control: this.controlWorkers.get(name),
        restarting: this.restarting.get(name),
      });
    }
    let orphaned = 0;
    let strayClaims = 0;
    for (const [name, t] of this.tallies.entries()) {
      if (this.workers.has(name) || this.restarting.has(name)) continue;
      orphaned += t.assigned;
      strayClaims += t.claimed;
    }
    const groupList = this.tallies.groups();
    const groupSpread: FleetView['groupSpread'] = {};
    for (const g of groupList) {
      const counts = workers.map((w) => w.groups[g]?.assigned ?? 0);
      groupSpread[g] = { min: Math.min(...counts), max: Math.max(...counts) };
    }
    const totals = workers.map((w) => w.assigned);
    const min = totals.length ? Math.min(...totals) : 0;
    const max = totals.length ? Math.max(...totals) : 0;
    const candidates = [...this.election.values()].sort((a, b) => a.createRevision - b.createRevision);
    const failing: FailingTask[] = [];
    for (const [worker, h] of this.health) {
      for (const f of h.failing) failing.push({ worker, ...f });
    }
    failing.sort((a, b) => b.attempts - a.attempts || a.id.localeCompare(b.id));
    return {
      leader: candidates[0]?.name ?? null,
      standbyMasters: candidates.slice(1).map((c) => c.name),
      standbyWorkers: [...this.standby].map(([name, record]) => ({ name, record })),
      barrier: {
        passed: this.barrierLeft !== null,
        leftAt: this.barrierLeft,
        waiting: this.waiters.size,
        ready: this.ready,
      },
      workers,
      groups: groupList,
      tasks: this.byId.size,
      claims: this.claims.size,
      orphaned,
      strayClaims,
      lastSchedule: this.master,
      failing,
      paused: this.paused,
      pins: [...this.pins].map(([id, record]) => ({ id, record })),
      groupSpread,
      balance: { min, max, spread: max - min },
    };
  }

  /** Tasks whose id contains `query` (case-insensitive), exact match first, at most `limit`. */
  search(query: string, limit = 20): SearchHit[] {
    const q = query.trim().toLowerCase();
    if (!q) return [];
    const ids: string[] = [];
    const exact = [...this.byId.keys()].find((id) => id.toLowerCase() === q);
    if (exact !== undefined) ids.push(exact);
    for (const id of this.byId.keys()) {
      if (ids.length >= limit) break;
      if (id !== exact && id.toLowerCase().includes(q)) ids.push(id);
    }
    for (const id of this.claims.keys()) {
      if (ids.length >= limit) break;
      if (!this.byId.has(id) && !ids.includes(id) && id.toLowerCase().includes(q)) ids.push(id);
    }
    return ids.map((id) => this.hit(id));
  }

  private hit(id: string): SearchHit {
    const assigned = [...(this.byId.get(id) ?? [])].sort();
    const first = assigned[0] === undefined ? undefined : this.tasks.get(`task/${assigned[0]}/${id}`);
    const claim = this.claims.get(id);
    return {
      id,
      group: first?.group ?? '',
      assigned,
      claimedBy: claim?.worker,
      since: claim ? claim.seenAt : (first?.seenAt ?? 0),
      pin: this.pins.get(id),
    };
  }

  /** The tasks of one worker, sorted by id, at most `limit`, and how many there are. */
  tasksOf(
    worker: string,
    limit = 500,
  ): { ids: { id: string; group: string; claimed: boolean }[]; total: number } {
    const all: { id: string; group: string; claimed: boolean }[] = [];
    for (const t of this.tasks.values()) {
      if (t.worker === worker)
        all.push({ id: t.id, group: t.group, claimed: this.claims.get(t.id)?.worker === worker });
    }
    all.sort((a, b) => a.id.localeCompare(b.id));
    return { ids: all.slice(0, limit), total: all.length };
  }
}
