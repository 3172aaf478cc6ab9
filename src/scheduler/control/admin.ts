/**
 * `Admin`: the operators' levers on a fleet (issue 13) — cordon, drain, pin, pause — written as control
 * keys under `/<root>/control/` that the leading master reads on every schedule (and watches), and a dry
 * run of the next schedule (`plan()`), planned by the same code as the master's schedule, writing nothing.
 */
import { hostname, userInfo } from 'node:os';
import { ControlError } from '../../errors.js';
import type { Store } from '../../store/port.js';
import { decodeTask, type Task } from '../../task.js';
import { type Clock, systemClock } from '../../util/clock.js';
import { checkName, type Keys, keys } from '../keys.js';
import { nodeCapacities } from '../master/capacities.js';
import { rfc3339, type ScheduleReport } from '../master/report.js';
import { parseAssignment } from '../master/writes.js';
import { validTasks, workersInGrace } from './inputs.js';
import { planWithControl } from './plan.js';
import { type PlanReport, summarizePlan } from './plan-report.js';
import {
  type ControlState,
  type PauseControl,
  type PinControl,
  parseControl,
  type WorkerControl,
} from './state.js';

export type { PlanReport };

export interface AdminOptions {
  store: Store;
  /** Root folder of every key, as the fleet's. */
  rootName: string;
  /** Recorded as `by` in every control written. @default '<user>@<host>' */
  by?: string;
  /** For the `at` of every control written. @default the system clock */
  clock?: Clock;
}

export interface ControlOptions {
  /** Why, for the people who read `status` later. @default '' */
  reason?: string;
  /** Record it even for a worker that is not online (about to join), or a task no generator produced. */
  force?: boolean;
}

export interface PlanOptions {
  /** The desired tasks; default: the tasks assigned now (as if the generator returned the same). */
  tasks?: readonly Task[];
  /** The move budget; default: the leading master's, from its last schedule report (else unlimited). */
  maxMoves?: number;
}

function defaultBy(): string {
  try {
    return `${userInfo().username}@${hostname()}`;
  } catch {
    return hostname();
  }
}

/** The operators' levers on the fleet under one root; see the module comment. */
export class Admin {
  private readonly store: Store;
  private readonly k: Keys;
  private readonly by: string;
  private readonly clock: Clock;

  constructor(options: AdminOptions) {
    this.store = options.store;
    this.k = keys(options.rootName);
    this.by = options.by ?? defaultBy();
    this.clock = options.clock ?? systemClock;
  }

  /** Names of the workers online now, sorted. */
  async onlineWorkers(): Promise<string[]> {
    const res = await this.store.range(this.k.workerPrefix, { prefix: true, keysOnly: true });
    return res.kvs
      .map((kv) => kv.key.slice(this.k.workerPrefix.length))
      .filter((n) => n.length > 0 && !n.includes('/'))
      .sort();
  }

  /** The control state now: cordoned and draining workers, pins, the pause, and malformed entries. */
  async state(): Promise<ControlState> {
    const res = await this.store.range(this.k.controlPrefix, { prefix: true });
    return parseControl(res.kvs, this.k);
  }

  /** Nothing new is placed on `worker` and nothing moves onto it; what it runs stays. */
  cordon(worker: string, options: ControlOptions = {}): Promise<WorkerControl> {
    return this.setWorker(worker, 'cordoned', options);
  }

  /** Cordons `worker` and moves every task it holds to the others (the process stays up and registered). */
  drain(worker: string, options: ControlOptions = {}): Promise<WorkerControl> {
    return this.setWorker(worker, 'draining', options);
  }

  /** Returns `worker` to the pool (ends a cordon or a drain); false when it was neither. */
  async uncordon(worker: string): Promise<boolean> {
    checkName('worker', worker);
    return (await this.store.delete(this.k.controlWorker(worker))).deleted > 0;
  }

  /**
   * Runs `taskId` on `worker` whenever that worker is online and neither cordoned nor draining (otherwise
   * the task is placed as usual and comes back). A keyed task's pin takes its key bundle along.
   */
  async pin(taskId: string, worker: string, options: ControlOptions = {}): Promise<PinControl> {
    checkName('task id', taskId);
    checkName('worker', worker);
    const [state, online, assigned] = await Promise.all([
      this.state(),
      this.onlineWorkers(),
      this.store.range(`${this.k.taskPrefix}`, { prefix: true, keysOnly: true }),
    ]);
    const ctl = state.workers.find((w) => w.worker === worker);
    if (ctl) {
      throw new ControlError(
        `cannot pin task ${JSON.stringify(taskId)} to worker ${JSON.stringify(worker)}: it is ${ctl.state}`,
        online,
      );
    }
    if (!options.force) {
      this.mustBeOnline(worker, online);
      const known = assigned.kvs.some((kv) => kv.key.endsWith(`/${taskId}`));
      if (!known) {
        throw new ControlError(
          `task ${JSON.stringify(taskId)} is assigned to no worker: no generator produced it (force to pin it anyway)`,
          online,
        );
      }
    }
    const pin: PinControl = { task: taskId, worker, ...this.stamp(options) };
    const { task: _t, ...value } = pin;
    await this.store.put(this.k.controlPin(taskId), JSON.stringify(value));
    return pin;
  }

  /** Removes the pin of `taskId`; false when there was none. */
  async unpin(taskId: string): Promise<boolean> {
    checkName('task id', taskId);
    return (await this.store.delete(this.k.controlPin(taskId))).deleted > 0;
  }

  /**
   * Maintenance mode: no task moves between live workers. New tasks and dead workers' tasks are still
   * placed, removed tasks still revoked.
   */
  async pause(options: Pick<ControlOptions, 'reason'> = {}): Promise<PauseControl> {
    const pause = this.stamp(options);
    await this.store.put(this.k.controlPause, JSON.stringify(pause));
    return pause;
  }

  /** Ends the pause; false when the fleet was not paused. */
  async resume(): Promise<boolean> {
    return (await this.store.delete(this.k.controlPause)).deleted > 0;
  }

  /** What `worker` still holds: assignment keys and claims (a drain is done when both are empty). */
  async holding(worker: string): Promise<{ assigned: string[]; claimed: string[] }> {
    checkName('worker', worker);
    const [tasks, claims] = await Promise.all([
      this.store.range(this.k.workerTasks(worker), { prefix: true, keysOnly: true }),
      this.store.range(this.k.claimPrefix, { prefix: true }),
    ]);
    return {
      assigned: tasks.kvs.map((kv) => kv.key.slice(this.k.workerTasks(worker).length)).sort(),
      claimed: claims.kvs
        .filter((kv) => kv.value === worker)
        .map((kv) => kv.key.slice(this.k.claimPrefix.length))
        .sort(),
    };
  }

  /**
   * A dry run of the next schedule: from the online workers, the control state and the current assignment
   * (or `options.tasks`), the plan the leading master would make — by the same code — writing nothing.
   */
  async plan(options: PlanOptions = {}): Promise<PlanReport> {
    const first = await this.store.range(this.k.workerPrefix, { prefix: true, keysOnly: true });
    const revision = first.revision;
    const at = { prefix: true, revision } as const;
    const capacityProblems: string[] = [];
    const [assigned, controlled, markers, status, capacities] = await Promise.all([
      this.store.range(this.k.taskPrefix, at),
      this.store.range(this.k.controlPrefix, at),
      this.store.range(this.k.restartingPrefix, { ...at, keysOnly: true }),
      this.store.range(this.k.masterStatus, { revision }),
      // the capacities the master plans with, so the dry run and the schedule agree
      nodeCapacities(this.store, this.k.nodePrefix, capacityProblems, revision),
    ]);
    const workers = first.kvs
      .map((kv) => kv.key.slice(this.k.workerPrefix.length))
      .filter((n) => n.length > 0 && !n.includes('/'));
    const hold = new Set(workersInGrace(markers.kvs, this.k.restartingPrefix, new Set(workers)));
    const stored = parseAssignment(assigned.kvs, this.k);
    const control = parseControl(controlled.kvs, this.k);
    const problems = [...control.problems, ...capacityProblems];
    let desired: readonly Task[];
    if (options.tasks) desired = options.tasks;
    else {
      const byId = new Map<string, Task>();
      for (const [key, value] of stored.values()) {
        const id = key.slice(key.lastIndexOf('/') + 1);
        if (byId.has(id)) continue;
        try {
          byId.set(id, decodeTask(value, id));
        } catch (err) {
          problems.push(`assignment ${JSON.stringify(key)}: ${(err as Error).message}`);
        }
      }
      desired = [...byId.values()];
    }
    const { tasks, invalid } = validTasks(desired);
    for (const err of invalid) problems.push(err.message);
    let maxMoves = options.maxMoves;
    if (maxMoves === undefined && status.kvs[0]) {
      try {
        const last = JSON.parse(status.kvs[0].value) as Partial<ScheduleReport>;
        if (typeof last.maxMoves === 'number') maxMoves = last.maxMoves;
      } catch {
        // an unreadable status: plan without a budget
      }
    }
    const current = stored.current();
    const plan = planWithControl({ workers, tasks, current, control, maxMoves, hold, capacities });
    return summarizePlan({ revision, workers, tasks, current, plan, maxMoves, problems });
  }

  private async setWorker(
    worker: string,
    state: WorkerControl['state'],
    options: ControlOptions,
  ): Promise<WorkerControl> {
    checkName('worker', worker);
    if (!options.force) this.mustBeOnline(worker, await this.onlineWorkers());
    const ctl: WorkerControl = { worker, state, ...this.stamp(options) };
    const { worker: _w, ...value } = ctl;
    await this.store.put(this.k.controlWorker(worker), JSON.stringify(value));
    return ctl;
  }

  private mustBeOnline(worker: string, online: string[]): void {
    if (online.includes(worker)) return;
    const list = online.length === 0 ? 'none' : online.join(', ');
    throw new ControlError(
      `worker ${JSON.stringify(worker)} is not online (online: ${list}); force records it for a worker about to join`,
      online,
    );
  }

  private stamp(options: Pick<ControlOptions, 'reason'>): { by: string; reason: string; at: string } {
    return { by: this.by, reason: options.reason ?? '', at: rfc3339(this.clock.now()) };
  }
}
