import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Metrics } from './metrics.js';

export interface PrometheusMetricsOptions {
  /** Where the metrics register. @default a new `Registry` of this instance (never prom-client's global one) */
  registry?: Registry;
}

/**
 * The {@link Metrics} port on prom-client: every instrument prefixed `escheduler_` and labelled with the
 * node name, in a registry of its own (`registry`), which the CLI serves on `/metrics`. Masters and
 * workers of one process may share one instance (`metrics: m` in each) as the names label their samples.
 */
export class PrometheusMetrics implements Metrics {
  readonly registry: Registry;
  // master
  readonly isLeader: Gauge<'name'>;
  readonly schedules: Counter<'name' | 'reason' | 'result'>;
  readonly scheduleDuration: Histogram<'name'>;
  readonly moves: Counter<'name'>;
  readonly tasksAssigned: Gauge<'name'>;
  readonly workersOnline: Gauge<'name'>;
  readonly generatorErrors: Counter<'name'>;
  readonly fenceRejections: Counter<'name'>;
  readonly invalidTasks: Counter<'name'>;
  readonly heldTasks: Gauge<'name'>;
  readonly restarts: Counter<'name' | 'result'>;
  readonly controlWorkers: Gauge<'name' | 'state'>;
  readonly pinnedTasks: Gauge<'name'>;
  readonly paused: Gauge<'name'>;
  readonly deferredMoves: Gauge<'name'>;
  // worker
  readonly workerTasksAssigned: Gauge<'name'>;
  readonly workerTasksRunning: Gauge<'name'>;
  readonly taskRestarts: Counter<'name'>;
  readonly workerTasksFailing: Gauge<'name'>;
  readonly claimWait: Histogram<'name'>;
  readonly keepAliveFailures: Counter<'name'>;
  readonly workerStatus: Gauge<'name' | 'status'>;
  readonly selfFences: Counter<'name'>;
  readonly workerStandby: Gauge<'name'>;

  constructor(options: PrometheusMetricsOptions = {}) {
    const registry = options.registry ?? new Registry();
    this.registry = registry;
    const r = [registry];
    this.isLeader = new Gauge({
      name: 'escheduler_master_is_leader',
      help: '1 while this master leads',
      labelNames: ['name'],
      registers: r,
    });
    this.schedules = new Counter({
      name: 'escheduler_master_schedules_total',
      help: 'Schedules run, by reason and result (ok, no_workers, generator_error, not_leader, error)',
      labelNames: ['name', 'reason', 'result'],
      registers: r,
    });
    this.scheduleDuration = new Histogram({
      name: 'escheduler_master_schedule_duration_seconds',
      help: 'Duration of a schedule: read, generate, plan, write',
      labelNames: ['name'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: r,
    });
    this.moves = new Counter({
      name: 'escheduler_master_moves_total',
      help: 'Tasks moved from one live worker to another',
      labelNames: ['name'],
      registers: r,
    });
    this.tasksAssigned = new Gauge({
      name: 'escheduler_master_tasks_assigned',
      help: 'Tasks assigned after the last schedule',
      labelNames: ['name'],
      registers: r,
    });
    this.workersOnline = new Gauge({
      name: 'escheduler_master_workers_online',
      help: 'Workers online at the last schedule',
      labelNames: ['name'],
      registers: r,
    });
    this.generatorErrors = new Counter({
      name: 'escheduler_master_generator_errors_total',
      help: 'Generator calls that threw or timed out',
      labelNames: ['name'],
      registers: r,
    });
    this.fenceRejections = new Counter({
      name: 'escheduler_master_fence_rejections_total',
      help: 'Writes refused because this master no longer leads',
      labelNames: ['name'],
      registers: r,
    });
    this.invalidTasks = new Counter({
      name: 'escheduler_master_invalid_tasks_total',
      help: 'Tasks from the generator skipped as invalid',
      labelNames: ['name'],
      registers: r,
    });
    this.heldTasks = new Gauge({
      name: 'escheduler_master_held_tasks',
      help: 'Tasks held where they are for workers restarting within their grace, at the last schedule',
      labelNames: ['name'],
      registers: r,
    });
    this.restarts = new Counter({
      name: 'escheduler_master_restarts_total',
      help: 'Restart markers that ended: returned (back within the grace) or expired (tasks moved)',
      labelNames: ['name', 'result'],
      registers: r,
    });
    this.controlWorkers = new Gauge({
      name: 'escheduler_master_control_workers',
      help: 'Online workers cordoned or draining at the last schedule, by state',
      labelNames: ['name', 'state'],
      registers: r,
    });
    this.pinnedTasks = new Gauge({
      name: 'escheduler_master_pinned_tasks',
      help: 'Pins in effect at the last schedule',
      labelNames: ['name'],
      registers: r,
    });
    this.paused = new Gauge({
      name: 'escheduler_master_paused',
      help: '1 while the fleet is paused (no moves between live workers), as of the last schedule',
      labelNames: ['name'],
      registers: r,
    });
    this.deferredMoves = new Gauge({
      name: 'escheduler_master_deferred_moves',
      help: 'Moves the maxMoves budget deferred at the last schedule',
      labelNames: ['name'],
      registers: r,
    });
    this.workerTasksAssigned = new Gauge({
      name: 'escheduler_worker_tasks_assigned',
      help: 'Tasks assigned to this worker',
      labelNames: ['name'],
      registers: r,
    });
    this.workerTasksRunning = new Gauge({
      name: 'escheduler_worker_tasks_running',
      help: 'Tasks whose run has started and not settled',
      labelNames: ['name'],
      registers: r,
    });
    this.taskRestarts = new Counter({
      name: 'escheduler_worker_task_restarts_total',
      help: 'Runs restarted after they threw or returned while still assigned',
      labelNames: ['name'],
      registers: r,
    });
    this.workerTasksFailing = new Gauge({
      name: 'escheduler_worker_tasks_failing',
      help: 'Tasks whose last run ended while still assigned (restarting with backoff)',
      labelNames: ['name'],
      registers: r,
    });
    this.claimWait = new Histogram({
      name: 'escheduler_worker_claim_wait_seconds',
      help: 'Time from assignment to holding the task claim',
      labelNames: ['name'],
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60],
      registers: r,
    });
    this.keepAliveFailures = new Counter({
      name: 'escheduler_worker_keepalive_failures_total',
      help: 'Lease keep-alives that failed',
      labelNames: ['name'],
      registers: r,
    });
    this.workerStatus = new Gauge({
      name: 'escheduler_worker_status',
      help: '1 for the current status of this worker',
      labelNames: ['name', 'status'],
      registers: r,
    });
    this.selfFences = new Counter({
      name: 'escheduler_worker_self_fences_total',
      help: 'Times this worker stopped all its tasks because it could not renew its lease',
      labelNames: ['name'],
      registers: r,
    });
    this.workerStandby = new Gauge({
      name: 'escheduler_worker_standby',
      help: '1 while this worker waits for a free slot over the cap (standby); sum over the fleet to count them',
      labelNames: ['name'],
      registers: r,
    });
  }
}
