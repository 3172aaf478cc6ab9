export {
  BarrierTimeoutError,
  CompactedError,
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
export type {
  Assignment,
  CurrentAssignment,
  RebalanceInput,
  RebalanceResult,
  RebalanceStats,
  Revocation,
} from './planner/rebalance.js';
export { rebalance } from './planner/rebalance.js';
export type { BarrierWaitOptions } from './recipes/barrier.js';
export { DoubleBarrier, TooManyParticipantsError } from './recipes/barrier.js';
export type { Fence, LeaderInfo } from './recipes/election.js';
export { Election } from './recipes/election.js';
export { Mutex } from './recipes/mutex.js';
export type { SessionEvents, SessionOptions } from './recipes/session.js';
export { defaultMargin, Session } from './recipes/session.js';
export type { PrefixWatcherOptions, WaitOptions, WatchUpdate } from './recipes/watcher.js';
export { PrefixWatcher, waitForDelete, waitForPut } from './recipes/watcher.js';
export type { Keys } from './scheduler/keys.js';
export { keys, WORKER_VALUE_RUNNING } from './scheduler/keys.js';
export type { MasterEvents, MasterOptions, ScheduleReport } from './scheduler/master.js';
export { Master } from './scheduler/master.js';
export { defaultMetrics, Metrics } from './scheduler/metrics.js';
export type { Generator, GeneratorContext, NodeOptions } from './scheduler/options.js';
export {
  DEFAULT_BARRIER_TIMEOUT,
  DEFAULT_DRAIN_TIMEOUT,
  DEFAULT_INTERVAL,
  DEFAULT_REBALANCE_WAIT,
  DEFAULT_TIMEOUT,
  DEFAULT_TTL,
  defaultName,
} from './scheduler/options.js';
export type {
  RestartPolicy,
  RunContext,
  RunHandler,
  TaskChange,
  WorkerEvents,
  WorkerOptions,
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
export { decodeTask, encodeTask, validateTask } from './task.js';
export type { Clock, TimerHandle } from './util/clock.js';
export { ManualClock, systemClock } from './util/clock.js';
export type { Logger } from './util/logger.js';
export { silentLogger } from './util/logger.js';
