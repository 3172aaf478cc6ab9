/**
 * `escheduler`: what an application uses — the two roles, the stores, tasks, options, errors, the
 * planner, and the ports (store, logger, metrics, clock) it may implement. Building blocks have their own
 * entry points: `escheduler/recipes` (session, election, mutex, barrier, watcher, the key layout and the
 * task wire format), `escheduler/testing` (ManualClock, clocks and a microtask flush for deterministic
 * tests, MemoryStore), `escheduler/prometheus` (the prom-client metrics the CLI serves). Every export is
 * listed by name: adding a file under src/ never changes this list.
 */
export {
  BarrierTimeoutError,
  CompactedError,
  ControlError,
  EschedulerError,
  InvalidTaskError,
  isRetryableError,
  LeaseNotFoundError,
  NotLeaderError,
  OptionError,
  PlannerInputError,
  SessionLostError,
  StoreRequestError,
  StoreUnavailableError,
  WorkerNameTakenError,
  WorkerNumExceedMaximumError,
} from './errors.js';
export type { Capacities } from './planner/capacity.js';
export { MAX_WORKER_CAPACITY } from './planner/capacity.js';
export type {
  Assignment,
  CurrentAssignment,
  PlanMode,
  RebalanceInput,
  RebalanceResult,
  RebalanceStats,
  Revocation,
} from './planner/rebalance.js';
export { rebalance } from './planner/rebalance.js';
export type {
  AdminOptions,
  ControlOptions,
  PlanOptions,
  PlanReport,
} from './scheduler/control/admin.js';
export { Admin } from './scheduler/control/admin.js';
export type {
  ControlStamp,
  ControlState,
  PauseControl,
  PinControl,
  WorkerControl,
} from './scheduler/control/state.js';
export type { FleetHealth, RunState, TaskHealth, WorkerHealth } from './scheduler/health.js';
export { readFleetHealth } from './scheduler/health.js';
export type { MasterEvents, MasterOptions, ScheduleReason, ScheduleReport } from './scheduler/master.js';
export { Master } from './scheduler/master.js';
export type {
  CounterMetric,
  GaugeMetric,
  HistogramMetric,
  MetricLabels,
  Metrics,
} from './scheduler/metrics.js';
export { noopMetrics } from './scheduler/metrics.js';
export type { NodeInfo } from './scheduler/node.js';
export type { Generator, GeneratorContext, NodeOptions } from './scheduler/options.js';
export {
  DEFAULT_BARRIER_TIMEOUT,
  DEFAULT_DRAIN_TIMEOUT,
  DEFAULT_INTERVAL,
  DEFAULT_MAX_RETRY_DELAY,
  DEFAULT_REBALANCE_WAIT,
  DEFAULT_STEADY_AFTER,
  DEFAULT_TIMEOUT,
  DEFAULT_TTL,
  defaultName,
} from './scheduler/options.js';
export type {
  NotReadyReason,
  RestartPolicy,
  RunContext,
  RunHandler,
  TaskChange,
  WorkerCondition,
  WorkerEvents,
  WorkerOptions,
  WorkerStateKind,
} from './scheduler/worker.js';
export { Worker, WorkerStatus } from './scheduler/worker.js';
export type { EtcdStoreOptions } from './store/etcd.js';
export { EtcdStore } from './store/etcd.js';
export type { MemoryStoreOptions } from './store/memory.js';
export { MemoryStore } from './store/memory.js';
export type {
  Compare,
  KeyValue,
  LeaseGrant,
  LeaseId,
  LeaseInfo,
  Op,
  OpResult,
  RangeOptions,
  RangeResult,
  Store,
  TxnRequest,
  TxnResult,
  WatchBatch,
  WatchEvent,
  WatchOptions,
  WatchStream,
} from './store/port.js';
export { NO_LEASE } from './store/port.js';
export type { Task } from './task.js';
export { MAX_TASK_WEIGHT, validateTask } from './task.js';
export type { Clock, TimerHandle } from './util/clock.js';
export type { Logger } from './util/logger.js';
