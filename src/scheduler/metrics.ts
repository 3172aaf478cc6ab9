/**
 * The metrics port of masters and workers, like the logger's: the library only calls `set`, `inc` and
 * `observe` on the instruments below, each labelled with the node `name` (and `reason`/`result` or
 * `status` where noted). The default is {@link noopMetrics}; the Prometheus adapter
 * (`escheduler/prometheus`, `PrometheusMetrics`) is what the CLI serves on `/metrics`. A custom adapter
 * (StatsD, OpenTelemetry...) implements {@link Metrics}.
 */

/** Label values of one sample (prom-client's `LabelValues`). */
export type MetricLabels<L extends string> = Partial<Record<L, string | number>>;

/** A value that goes up and down. */
export interface GaugeMetric<L extends string> {
  set(labels: MetricLabels<L>, value: number): void;
}

/** A count that only goes up; `value` defaults to 1. */
export interface CounterMetric<L extends string> {
  inc(labels: MetricLabels<L>, value?: number): void;
}

/** A distribution of observed values (seconds for durations). */
export interface HistogramMetric<L extends string> {
  observe(labels: MetricLabels<L>, value: number): void;
}

/** Every instrument a Master, a Worker and its task runners write. */
export interface Metrics {
  // master
  /** 1 while this master leads, else 0. */
  readonly isLeader: GaugeMetric<'name'>;
  /** Schedules run, by reason and result (ok, no_workers, generator_error, not_leader, error). */
  readonly schedules: CounterMetric<'name' | 'reason' | 'result'>;
  /** Duration of a schedule (read, generate, plan, write), in seconds. */
  readonly scheduleDuration: HistogramMetric<'name'>;
  /** Tasks moved from one live worker to another. */
  readonly moves: CounterMetric<'name'>;
  /** Tasks assigned after the last schedule. */
  readonly tasksAssigned: GaugeMetric<'name'>;
  /** Workers online at the last schedule. */
  readonly workersOnline: GaugeMetric<'name'>;
  /** Generator calls that threw or timed out. */
  readonly generatorErrors: CounterMetric<'name'>;
  /** Writes refused because this master no longer leads. */
  readonly fenceRejections: CounterMetric<'name'>;
  /** Tasks from the generator skipped as invalid. */
  readonly invalidTasks: CounterMetric<'name'>;
  /** Tasks held where they are for workers restarting within their grace, at the last schedule. */
  readonly heldTasks: GaugeMetric<'name'>;
  /**
   * Restart markers that ended, by result: `returned` (the worker registered again within its grace) or
   * `expired` (the grace ran out: its tasks move).
   */
  readonly restarts: CounterMetric<'name' | 'result'>;
  /** Online workers cordoned or draining at the last schedule, by `state` (cordoned, draining). */
  readonly controlWorkers: GaugeMetric<'name' | 'state'>;
  /** Pins in effect at the last schedule. */
  readonly pinnedTasks: GaugeMetric<'name'>;
  /** 1 while the fleet is paused (as of the last schedule), else 0. */
  readonly paused: GaugeMetric<'name'>;
  /** Moves the `maxMoves` budget deferred at the last schedule. */
  readonly deferredMoves: GaugeMetric<'name'>;
  // worker
  /** Tasks assigned to this worker. */
  readonly workerTasksAssigned: GaugeMetric<'name'>;
  /** Tasks whose run has started and not settled. */
  readonly workerTasksRunning: GaugeMetric<'name'>;
  /** Runs restarted after they threw or returned while still assigned. */
  readonly taskRestarts: CounterMetric<'name'>;
  /** Tasks of this worker whose last run ended while still assigned (attempts ≥ 1, see `worker.health()`). */
  readonly workerTasksFailing: GaugeMetric<'name'>;
  /** Time from assignment to holding the task claim, in seconds. */
  readonly claimWait: HistogramMetric<'name'>;
  /** Lease keep-alives that failed. */
  readonly keepAliveFailures: CounterMetric<'name'>;
  /** 1 for the current status of this worker, 0 for the others. */
  readonly workerStatus: GaugeMetric<'name' | 'status'>;
  /** Times this worker stopped all its tasks because it could not renew its lease. */
  readonly selfFences: CounterMetric<'name'>;
  /** 1 while this worker waits as a standby for a free slot over the cap, else 0. */
  readonly workerStandby: GaugeMetric<'name'>;
}

const noop = { set() {}, inc() {}, observe() {} };

/** Metrics that go nowhere: the library's default. */
export const noopMetrics: Metrics = Object.freeze({
  isLeader: noop,
  schedules: noop,
  scheduleDuration: noop,
  moves: noop,
  tasksAssigned: noop,
  workersOnline: noop,
  generatorErrors: noop,
  fenceRejections: noop,
  invalidTasks: noop,
  heldTasks: noop,
  restarts: noop,
  controlWorkers: noop,
  pinnedTasks: noop,
  paused: noop,
  deferredMoves: noop,
  workerTasksAssigned: noop,
  workerTasksRunning: noop,
  taskRestarts: noop,
  workerTasksFailing: noop,
  claimWait: noop,
  keepAliveFailures: noop,
  workerStatus: noop,
  selfFences: noop,
  workerStandby: noop,
});
