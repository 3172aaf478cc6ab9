/**
 * Seeded simulation (issue 6): masters and workers in one process on one `MemoryStore` and a
 * `ManualClock`. Every node reaches the store through its own {@link FaultyStore}, so one node can be cut
 * off (a partition, or a crash when it never comes back) while the others go on. A PRNG seeded by `seed`
 * drives joins, graceful leaves, crashes, pauses shorter and longer than the TTL, lost leases, master
 * crashes and pauses, generator changes, errors and hangs, and compactions; after every step of the clock
 * the invariants are checked (at most one owner, runs follow the assignment within the fencing bound),
 * and after every quiet period liveness (every desired task runs within ttl + rebalanceWait + bound).
 * At the end the whole run history goes through the same checker as the process fault suite.
 */
import { createHash } from 'node:crypto';
import pino from 'pino';
import { StoreUnavailableError } from '../../src/errors.js';
import { fnv1a } from '../../src/planner/hash.js';
import { DEFAULT_RETRY_DELAY, PrefixWatcher } from '../../src/recipes/watcher.js';
import { keys } from '../../src/scheduler/keys.js';
import { Master } from '../../src/scheduler/master.js';
import { PrometheusMetrics } from '../../src/scheduler/prometheus.js';
import { Worker } from '../../src/scheduler/worker.js';
import { MemoryStore } from '../../src/store/memory.js';
import type {
  KeyValue,
  LeaseGrant,
  LeaseId,
  LeaseInfo,
  RangeOptions,
  RangeResult,
  Store,
  TxnRequest,
  TxnResult,
  WatchBatch,
  WatchOptions,
  WatchStream,
} from '../../src/store/port.js';
import type { Task } from '../../src/task.js';
import { DEFAULT_MAX_RETRY_DELAY } from '../../src/util/backoff.js';
import { ManualClock } from '../../src/util/clock.js';
import { mulberry32 } from '../../src/util/random.js';
import {
  type AssignInterval,
  type CheckReport,
  checkInvariants,
  type FrozenWindow,
  type RunInterval,
} from './checker.js';

/**
 * The store port as one node sees it: while `cut`, every call rejects with `StoreUnavailableError` and
 * open watches break, as when the node is partitioned from etcd. The server (the shared memory store) goes
 * on: leases expire on the clock.
 */
export class FaultyStore implements Store {
  readonly kind = 'memory' as const;
  private cutState = false;
  private readonly breakers = new Set<AbortController>();

  constructor(private readonly inner: Store) {}

  get cut(): boolean {
    return this.cutState;
  }

  setCut(cut: boolean): void {
    this.cutState = cut;
    if (cut) for (const b of [...this.breakers]) b.abort();
  }

  private gate<T>(what: string, call: () => Promise<T>): Promise<T> {
    if (this.cutState) return Promise.reject(new StoreUnavailableError(`sim: node cut off (${what})`));
    return call().then((v) => {
      // A reply that would arrive after the cut is lost too (the request may have been applied).
      if (this.cutState) throw new StoreUnavailableError(`sim: node cut off (${what} reply lost)`);
      return v;
    });
  }

  get(key: string): Promise<KeyValue | undefined> {
    return this.gate('get', () => this.inner.get(key));
  }
  range(key: string, options?: RangeOptions): Promise<RangeResult> {
    return this.gate('range', () => this.inner.range(key, options));
  }
  put(key: string, value: string, options?: { lease?: LeaseId }): Promise<{ revision: number }> {
    return this.gate('put', () => this.inner.put(key, value, options));
  }
  delete(key: string, options?: { prefix?: boolean }): Promise<{ revision: number; deleted: number }> {
    return this.gate('delete', () => this.inner.delete(key, options));
  }
  txn(request: TxnRequest): Promise<TxnResult> {
    return this.gate('txn', () => this.inner.txn(request));
  }
  grantLease(ttl: number): Promise<LeaseGrant> {
    return this.gate('grant', () => this.inner.grantLease(ttl));
  }
  keepAliveOnce(id: LeaseId): Promise<{ ttl: number }> {
    return this.gate('keepalive', () => this.inner.keepAliveOnce(id));
  }
  revokeLease(id: LeaseId): Promise<void> {
    return this.gate('revoke', () => this.inner.revokeLease(id));
  }
  leaseTimeToLive(id: LeaseId, options?: { keys?: boolean }): Promise<LeaseInfo> {
    return this.gate('ttl', () => this.inner.leaseTimeToLive(id, options));
  }
  compact(revision: number): Promise<void> {
    return this.gate('compact', () => this.inner.compact(revision));
  }
  close(): Promise<void> {
    return Promise.resolve();
  }

  watch(key: string, options: WatchOptions = {}): WatchStream {
    const self = this;
    return {
      async *[Symbol.asyncIterator](): AsyncGenerator<WatchBatch, void, undefined> {
        if (self.cutState) throw new StoreUnavailableError('sim: node cut off (watch)');
        const breaker = new AbortController();
        self.breakers.add(breaker);
        const signal = options.signal ? AbortSignal.any([options.signal, breaker.signal]) : breaker.signal;
        try {
          for await (const batch of self.inner.watch(key, { ...options, signal })) {
            if (breaker.signal.aborted) break;
            yield batch;
          }
          if (breaker.signal.aborted && !options.signal?.aborted) {
            throw new StoreUnavailableError('sim: node cut off (watch broken)');
          }
        } finally {
          self.breakers.delete(breaker);
        }
      },
    };
  }
}

export interface SimOptions {
  seed: number;
  /** Clock steps of `stepMs`. @default 2_000 */
  steps?: number;
  /** @default 100 (ms) */
  stepMs?: number;
  /** Worker handoff; 'none' is the deliberately broken build. @default 'claim' */
  handoff?: 'claim' | 'none';
  /** Faults per step, on average. @default 0.08 */
  faultRate?: number;
  /** Steps between quiet periods (liveness checks). @default 300 */
  quietEvery?: number;
  /** Record a trace (every fault and every run) and return its hash. @default true */
  trace?: boolean;
  /** Return the trace lines too (for debugging a seed). @default false */
  keepTrace?: boolean;
}

export interface SimResult {
  seed: number;
  steps: number;
  faults: Record<string, number>;
  /** Invariant checks made (per-step checks + the final interval check's comparisons). */
  checks: number;
  livenessChecks: number;
  /** Overlaps tolerated because a connected worker's lease was revoked behind its back (see docs). */
  tolerated: number;
  /** Longest measured time from the end of the faults until every task ran again (ms). */
  maxRecoveryMs: number;
  violations: string[];
  final: CheckReport;
  /** sha256 of the trace: the same seed gives the same hash when the run is deterministic. */
  traceHash: string;
  /** The trace lines, with `keepTrace`. */
  trace: string[];
  runs: number;
}

/** SIM_LOG=debug (or info...) shows the library's logs on stderr, with simulated times. */
const simLogger = (clock: ManualClock) =>
  process.env.SIM_LOG
    ? pino(
        { level: process.env.SIM_LOG, timestamp: () => `,"t":${clock.now() - 1_700_000_000_000}`, base: {} },
        pino.destination(2),
      )
    : undefined;

const TTL = 3;
const REBALANCE_WAIT = 500;
const MAX_NUM_NODES = 7;
/** Longest clean-up of a run after its signal aborts (the handler's stop delay). */
const MAX_CLEANUP = 300;
/** A revoked run on a connected worker stops within this (clean-up + two steps of the simulation clock). */
const REVOKE_BOUND = MAX_CLEANUP + 200;
/** Worker self-fencing margin: the default, min(1_000, ttl * 1000 / 4). */
const MARGIN = Math.min(1_000, (TTL * 1000) / 4);
/**
 * The self-fencing bound: a worker cut off from the store does not see its revocation and keeps running
 * until it fences itself, `ttl - margin` after its last keep-alive, plus the clean-up. That keep-alive may
 * come after the revocation when the worker was back only briefly: its watch resumes DEFAULT_RETRY_DELAY
 * after the store is back.
 */
const FENCE_BOUND = TTL * 1000 - MARGIN + DEFAULT_RETRY_DELAY + MAX_CLEANUP + 200;
/** The nodes' `maxRetryDelay` (the default): every store-retry wait is drawn below it (full jitter). */
const MAX_RETRY_DELAY = DEFAULT_MAX_RETRY_DELAY;
/** A node that was cut for long waits at most one retry delay after the heal (registration, campaign). */
const RETRY_BOUND = MAX_RETRY_DELAY;
const LIVENESS_WITHIN = TTL * 1000 + REBALANCE_WAIT + RETRY_BOUND + 1_500;
/**
 * Workers' `restartGrace` (issue 15): a restart fault stops a worker with restart intent; most come back
 * under the same name within it (after their runs settled), the others never (the grace expires).
 */
const RESTART_GRACE = 2_000;

interface SimNode {
  name: string;
  store: FaultyStore;
  kind: 'worker' | 'master';
  worker?: Worker;
  master?: Master;
  crashed: boolean;
  /** Clock time the current cut ends (paused nodes). */
  healAt?: number;
  /** Clock time of the last heal (or now while cut): revocations it missed are bounded by FENCE_BOUND. */
  lastCut: number;
  /** Until then, overlaps of this node's runs are tolerated (its lease was revoked behind its back). */
  exemptUntil?: number;
}

/** Runs one seed to the end; never throws for a violation (they are in the result). */
export async function simulate(options: SimOptions): Promise<SimResult> {
  const seed = options.seed;
  const steps = options.steps ?? 2_000;
  const stepMs = options.stepMs ?? 100;
  const faultRate = options.faultRate ?? 0.08;
  const quietEvery = options.quietEvery ?? 300;
  const handoff = options.handoff ?? 'claim';
  const rand = mulberry32(seed);
  const pick = <T>(xs: readonly T[]): T | undefined =>
    xs.length === 0 ? undefined : xs[Math.floor(rand() * xs.length)];
  const between = (a: number, b: number) => a + Math.floor(rand() * (b - a + 1));

  const clock = new ManualClock(1_700_000_000_000);
  const mem = new MemoryStore({ clock, seed, autoCompact: 0 });
  const root = `sim-${seed}`;
  const k = keys(root);
  const metrics = new PrometheusMetrics();
  const logger = simLogger(clock);
  const trace = createHash('sha256');
  const lines: string[] = [];
  const log = (line: string) => {
    if (options.trace === false) return;
    const l = `${clock.now() - 1_700_000_000_000} ${line}`;
    trace.update(`${l}\n`);
    if (options.keepTrace) lines.push(l);
  };

  const faults: Record<string, number> = {};
  const fault = (kind: string, detail: string) => {
    faults[kind] = (faults[kind] ?? 0) + 1;
    log(`fault ${kind} ${detail}`);
  };
  const violations: string[] = [];
  const exempt: FrozenWindow[] = [];
  let tolerated = 0;
  let checks = 0;
  let livenessChecks = 0;
  let maxRecoveryMs = 0;

  // --- desired tasks and the generator ---
  let nextTask = 0;
  const desired: Task[] = [];
  const addTask = () => {
    const id = `t${nextTask++}`;
    desired.push({ id, priority: between(0, 3), group: pick(['a', 'b', ''])! });
  };
  for (let i = 0; i < between(6, 14); i++) addTask();
  let genMode: 'ok' | 'throw' | 'hang' = 'ok';
  let genFaultsLeft = 0;
  const generator = ({ signal }: { signal: AbortSignal }): Promise<readonly Task[]> | readonly Task[] => {
    if (genFaultsLeft > 0) {
      genFaultsLeft--;
      if (genMode === 'throw') throw new Error('sim: generator failed');
      if (genMode === 'hang') {
        return new Promise((_, reject) =>
          signal.addEventListener('abort', () => reject(signal.reason), { once: true }),
        );
      }
    }
    return desired.map((t) => ({ ...t }));
  };

  // --- runs, recorded by the handler on the manual clock ---
  const runs: (RunInterval & { node: SimNode })[] = [];
  const open = new Map<string, RunInterval & { node: SimNode }>(); // `${worker}\0${task}`

  const nodes: SimNode[] = [];
  let nodeSeq = 0;
  /** Workers stopped with restart intent that come back under their name at `at`. */
  const returns: { name: string; at: number }[] = [];
  const newWorker = async (name?: string) => {
    const node: SimNode = {
      name: name ?? `w${nodeSeq++}`,
      store: new FaultyStore(mem),
      kind: 'worker',
      crashed: false,
      lastCut: 0,
    };
    const w = new Worker({
      store: node.store,
      rootName: root,
      maxNumNodes: MAX_NUM_NODES,
      ttl: TTL,
      name: node.name,
      clock,
      metrics,
      logger,
      barrierTimeout: 2_000,
      drainTimeout: 2_000,
      restartGrace: RESTART_GRACE,
      maxRetryDelay: MAX_RETRY_DELAY,
      handoff,
      restart: { initialDelay: 100, maxDelay: 1_000 },
      run: (task, { signal, token }) => {
        if (node.crashed) {
          // a dead process runs nothing
          return new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve()));
        }
        const rec = { task: task.id, worker: node.name, start: clock.now(), token, node } as RunInterval & {
          node: SimNode;
        };
        runs.push(rec);
        open.set(`${node.name}\0${task.id}`, rec);
        log(`start ${task.id} on ${node.name}`);
        return new Promise<void>((resolve) => {
          signal.addEventListener(
            'abort',
            () => {
              const cleanup = fnv1a(`${task.id}/${node.name}/${runs.length}`) % (MAX_CLEANUP + 1);
              clock.setTimeout(() => {
                if (rec.stop === undefined) {
                  rec.stop = clock.now();
                  open.delete(`${node.name}\0${task.id}`);
                  log(`stop ${task.id} on ${node.name}`);
                }
                resolve();
              }, cleanup);
            },
            { once: true },
          );
        });
      },
    });
    node.worker = w;
    nodes.push(node);
    // Registration takes a few store round-trips and maybe the mutex: it goes on while the clock moves.
    w.start().then(
      () => log(`registered ${node.name}`),
      (err: unknown) => {
        node.crashed = true;
        log(`join refused ${node.name}: ${(err as Error).name}`);
      },
    );
    await clock.advance(0);
    return node;
  };
  const newMaster = () => {
    const node: SimNode = {
      name: `m${nodeSeq++}`,
      store: new FaultyStore(mem),
      kind: 'master',
      crashed: false,
      lastCut: 0,
    };
    node.master = new Master({
      store: node.store,
      rootName: root,
      maxNumNodes: MAX_NUM_NODES,
      ttl: TTL,
      name: node.name,
      clock,
      metrics,
      logger,
      barrierTimeout: 2_000,
      maxRetryDelay: MAX_RETRY_DELAY,
      generator,
      interval: 5_000,
      timeout: 1_000,
      rebalanceWait: REBALANCE_WAIT,
      // Small txns (2–4 ops, by seed; not drawn from `rand`, which would change every scenario): a
      // schedule of the sim's 6–24 tasks is several txns, so the pipelined writes (up to 4 in flight, a
      // txn with a delete alone) meet the faults and the checker.
      maxTxnOps: 2 + (seed % 3),
    });
    node.master.start();
    nodes.push(node);
    log(`master ${node.name}`);
    return node;
  };

  /** A process death: its runs end now, its connection is gone for good, its lease expires by itself. */
  const crash = (node: SimNode, revoke: boolean) => {
    node.crashed = true;
    const lease = node.worker?.leaseId ?? node.master?.leaseId;
    node.store.setCut(true);
    for (const r of runs) {
      if (r.node === node && r.stop === undefined) {
        r.stop = clock.now();
        open.delete(`${node.name}\0${r.task}`);
      }
    }
    if (revoke && lease) void mem.revokeLease(lease).catch(() => undefined);
    void node.worker?.stop().catch(() => undefined);
    void node.master?.stop().catch(() => undefined);
  };

  const live = (kind: 'worker' | 'master') => nodes.filter((n) => n.kind === kind && !n.crashed);

  // --- per-step invariants ---
  const unassignedSince = new Map<string, number>();
  const assignmentLog: AssignInterval[] = [];
  const assignedNow = new Map<string, AssignInterval>();
  // The assignment history, exactly: an observer watching the task prefix on the store itself.
  const current = new Set<string>();
  const observe = (kvs: readonly KeyValue[], replace: boolean, deleted: readonly string[] = []) => {
    const now = clock.now();
    const seen = new Set<string>();
    for (const kv of kvs) {
      const [worker, task] = kv.key.slice(k.taskPrefix.length).split('/');
      const key = `${worker}\0${task}`;
      seen.add(key);
      if (!assignedNow.has(key)) {
        const a: AssignInterval = { task, worker, from: now };
        assignedNow.set(key, a);
        assignmentLog.push(a);
      }
    }
    const gone = replace ? [...assignedNow.keys()].filter((key) => !seen.has(key)) : deleted;
    for (const key of gone) {
      const a = assignedNow.get(key);
      if (a) a.to = now;
      assignedNow.delete(key);
    }
    current.clear();
    for (const key of assignedNow.keys()) current.add(key);
  };
  const observer = new AbortController();
  const observing = (async () => {
    for await (const u of new PrefixWatcher(mem, k.taskPrefix, { clock, signal: observer.signal })) {
      if (u.type !== 'events') observe(u.kvs, true);
      else {
        const deleted = u.events
          .filter((e) => e.type === 'delete')
          .map((e) => e.kv.key.slice(k.taskPrefix.length).replace('/', '\0'));
        observe(
          u.events.filter((e) => e.type === 'put').map((e) => e.kv),
          false,
          deleted,
        );
      }
    }
  })();
  const stepCheck = async () => {
    const now = clock.now();
    const owners = new Map<string, (RunInterval & { node: SimNode })[]>();
    for (const [key, r] of open) {
      checks++;
      owners.set(r.task, [...(owners.get(r.task) ?? []), r]);
      if (current.has(key)) {
        unassignedSince.delete(key);
        continue;
      }
      const since = unassignedSince.get(key) ?? now;
      unassignedSince.set(key, since);
      if (r.node.store.cut) r.node.lastCut = now;
      // A broken watch resumes DEFAULT_RETRY_DELAY (500 ms) after the store is back: until then a
      // revocation has not reached the worker, and self-fencing is what bounds it.
      const bound = r.node.lastCut + DEFAULT_RETRY_DELAY + stepMs >= since ? FENCE_BOUND : REVOKE_BOUND;
      if (now - since > bound) {
        violations.push(
          `t=${now - 1_700_000_000_000}: task ${r.task} still runs on ${r.worker} ${now - since} ms after it stopped being assigned there (bound ${bound} ms)`,
        );
        unassignedSince.set(key, now); // report once per bound
      }
    }
    for (const key of [...unassignedSince.keys()]) if (!open.has(key)) unassignedSince.delete(key);
    for (const [task, rs] of owners) {
      checks++;
      if (rs.length < 2) continue;
      const strict = rs.filter((r) => (r.node.exemptUntil ?? 0) < now);
      if (strict.length < 2) {
        tolerated++;
        continue;
      }
      const ws = rs.map((r) => r.worker);
      violations.push(
        `t=${now - 1_700_000_000_000}: task ${task} runs on ${ws.length} workers at once: ${ws.join(', ')}`,
      );
    }
  };

  const step = async (ms = stepMs) => {
    await clock.advance(ms);
    for (const due of returns.filter((x) => x.at <= clock.now())) {
      returns.splice(returns.indexOf(due), 1);
      log(`back ${due.name}`);
      await newWorker(due.name);
    }
    for (const n of nodes) {
      if (!n.crashed && n.healAt !== undefined && clock.now() >= n.healAt) {
        n.healAt = undefined;
        n.store.setCut(false);
        n.lastCut = clock.now();
        log(`heal ${n.name}`);
      }
    }
    await stepCheck();
  };

  // --- start: two master candidates, three workers, the start-up barrier ---
  newMaster();
  newMaster();
  for (let i = 0; i < 3; i++) await newWorker();

  const injectFault = async () => {
    const r = rand();
    const workers = live('worker');
    const masters = live('master');
    if (r < 0.14) {
      if (workers.length < MAX_NUM_NODES) {
        fault('join', '');
        await newWorker();
      }
    } else if (r < 0.19) {
      const n = pick(workers.filter((w) => !w.store.cut));
      if (n) {
        fault('leave', n.name);
        n.crashed = true; // gone for good, but through a graceful drain
        void n.worker!.stop().catch(() => undefined);
      }
    } else if (r < 0.22) {
      // A rolling restart's step: stopped with restart intent (its tasks are held), then back under the same
      // name once its runs settled and within the grace — or never (the grace expires, the tasks move).
      const n = pick(workers.filter((w) => !w.store.cut));
      if (n) {
        const back = rand() < 0.75;
        const delay = between(REVOKE_BOUND, RESTART_GRACE - 300);
        fault(back ? 'restart' : 'restart-gone', `${n.name}${back ? ` back after ${delay}` : ''}`);
        n.crashed = true;
        void n.worker!.stop({ restart: true }).catch(() => undefined);
        if (back) returns.push({ name: n.name, at: clock.now() + delay });
      }
    } else if (r < 0.34) {
      const n = pick(workers);
      if (n) {
        const revoke = rand() < 0.5;
        fault(revoke ? 'crash-revoke' : 'crash', n.name);
        crash(n, revoke);
      }
    } else if (r < 0.5) {
      const n = pick(workers.filter((w) => !w.store.cut));
      if (n) {
        const long = rand() < 0.5;
        const ms = long ? between(TTL * 1000 + 200, TTL * 3000) : between(200, TTL * 1000 - 1_000);
        fault(long ? 'pause-long' : 'pause-short', `${n.name} ${ms}`);
        n.store.setCut(true);
        n.healAt = clock.now() + ms;
      }
    } else if (r < 0.58) {
      // Revoked behind a connected worker's back (an operator, a tool). Behind a cut-off worker's back no
      // lease protocol can stop it in time: that is an assumption, not a fault (docs/RELIABILITY.md).
      // "Connected" means its watches are up too: they resume DEFAULT_RETRY_DELAY after a heal.
      const n = pick(
        workers.filter(
          (w) => w.worker?.leaseId && !w.store.cut && clock.now() - w.lastCut > DEFAULT_RETRY_DELAY + stepMs,
        ),
      );
      if (n?.worker?.leaseId) {
        fault('lost-lease', n.name);
        // Its claims went with the lease: the runs it fences now may still be cleaning up when a new owner
        // starts. The overlap is bounded by the clean-up (plus one step); counted, tolerated, documented.
        n.exemptUntil = clock.now() + REVOKE_BOUND;
        exempt.push({ worker: n.name, from: clock.now(), to: n.exemptUntil });
        await mem.revokeLease(n.worker.leaseId).catch(() => undefined);
      }
    } else if (r < 0.64) {
      const n = pick(masters.filter((m) => m.master?.isLeader));
      if (n) {
        const pause = rand() < 0.5;
        if (pause) {
          const ms = between(500, TTL * 2000);
          fault('master-pause', `${n.name} ${ms}`);
          n.store.setCut(true);
          n.healAt = clock.now() + ms;
        } else {
          fault('master-crash', n.name);
          crash(n, false);
          newMaster();
        }
      }
    } else if (r < 0.8) {
      const what = rand();
      if (what < 0.4 && desired.length < 24) addTask();
      else if (what < 0.7 && desired.length > 2) desired.splice(between(0, desired.length - 1), 1);
      else {
        const t = pick(desired);
        if (t) t.raw = new TextEncoder().encode(`v${between(0, 1000)}`);
      }
      fault('generator-change', `${desired.length} tasks`);
      pick(masters.filter((m) => m.master?.isLeader))?.master?.notifySchedule('sim: generator changed');
    } else if (r < 0.88) {
      genMode = rand() < 0.6 ? 'throw' : 'hang';
      genFaultsLeft = between(1, 3);
      fault(`generator-${genMode}`, String(genFaultsLeft));
      pick(masters.filter((m) => m.master?.isLeader))?.master?.notifySchedule('sim: generator fault');
    } else if (r < 0.93) {
      fault('compaction', String(mem.revision));
      await mem.compact(mem.revision).catch(() => undefined);
    } else {
      // a burst of joins and leaves within rebalanceWait
      fault('burst', '');
      for (let i = 0; i < 3; i++) {
        const ws = live('worker').filter((w) => !w.store.cut);
        if (rand() < 0.5 && ws.length > 1) {
          const n = pick(ws)!;
          n.crashed = true;
          void n.worker!.stop().catch(() => undefined);
        } else if (live('worker').length < MAX_NUM_NODES) await newWorker();
        await step(Math.floor(REBALANCE_WAIT / 4));
      }
    }
  };

  /** Heals every fault, keeps a worker and a master alive, and checks that every task runs in time. */
  const quiet = async () => {
    for (const n of nodes) {
      if (!n.crashed && n.store.cut) {
        n.store.setCut(false);
        n.healAt = undefined;
        n.lastCut = clock.now();
      }
    }
    genFaultsLeft = 0;
    if (live('worker').length === 0) await newWorker();
    if (live('master').length === 0) newMaster();
    const after = clock.now();
    log('quiet');
    let recovered: number | undefined;
    const want = new Set(desired.map((t) => t.id));
    while (clock.now() - after < LIVENESS_WITHIN) {
      await step();
      const running = [...open.values()].filter((r) => !r.node.crashed);
      const ids = new Set(running.map((r) => r.task));
      const ok = running.length === want.size && [...want].every((id) => ids.has(id));
      if (ok && recovered === undefined) recovered = clock.now() - after;
      if (!ok) recovered = undefined;
    }
    livenessChecks++;
    if (recovered === undefined) {
      const running = [...open.values()].map((r) => `${r.task}@${r.worker}`).sort();
      violations.push(
        `t=${clock.now() - 1_700_000_000_000}: liveness: ${want.size} desired tasks not all running exactly once ${LIVENESS_WITHIN} ms after the faults stopped; running: ${running.join(' ')}; desired: ${[...want].join(' ')}`,
      );
    } else maxRecoveryMs = Math.max(maxRecoveryMs, recovered);
  };

  try {
    for (let i = 0; i < steps; i++) {
      if (rand() < faultRate) await injectFault();
      await step();
      if ((i + 1) % quietEvery === 0 || i === steps - 1) await quiet();
    }
  } finally {
    for (const n of nodes) n.store.setCut(false);
    const stopping = Promise.allSettled(
      nodes.filter((n) => !n.crashed).flatMap((n) => [n.worker?.stop(), n.master?.stop()]),
    );
    for (let i = 0; i < 200; i++) {
      const done = await Promise.race([stopping.then(() => true), clock.advance(100).then(() => false)]);
      await stepCheck();
      if (done) break;
    }
    observer.abort();
    await observing.catch(() => undefined);
  }

  const end = clock.now();
  const final = checkInvariants({
    runs: runs.map(({ node: _node, ...r }) => r),
    end,
    fenceBound: FENCE_BOUND,
    assignments: assignmentLog,
    exempt,
  });
  for (const v of final.violations) violations.push(`final check: ${v.message}`);
  log(`end ${runs.length} runs`);
  return {
    seed,
    steps,
    faults,
    checks: checks + final.pairsCompared + final.runsChecked,
    livenessChecks,
    tolerated,
    maxRecoveryMs,
    violations,
    final,
    traceHash: trace.digest('hex').slice(0, 16),
    trace: lines,
    runs: runs.length,
  };
}
