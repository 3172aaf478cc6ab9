export type { BarrierWaitOptions } from './barrier.js';
export { DoubleBarrier, TooManyParticipantsError } from './barrier.js';
export type { Clock, TimerHandle } from './clock.js';
export { ManualClock, systemClock } from './clock.js';
export type { Fence, LeaderInfo } from './election.js';
export { Election } from './election.js';
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
export type { Keys } from './keys.js';
export { keys, WORKER_VALUE_RUNNING } from './keys.js';
export type { Logger } from './logger.js';
export { silentLogger } from './logger.js';
export type { MasterEvents, MasterOptions, ScheduleReport } from './master.js';
export { Master } from './master.js';
export { defaultMetrics, Metrics } from './metrics.js';
export { Mutex } from './mutex.js';
export type { Generator, GeneratorContext, NodeOptions } from './options.js';
export {
  DEFAULT_BARRIER_TIMEOUT,
  DEFAULT_DRAIN_TIMEOUT,
  DEFAULT_INTERVAL,
  DEFAULT_REBALANCE_WAIT,
  DEFAULT_TIMEOUT,
  DEFAULT_TTL,
  defaultName,
} from './options.js';
export type {
  Assignment,
  CurrentAssignment,
  RebalanceInput,
  RebalanceResult,
  RebalanceStats,
  Revocation,
} from './planner.js';
export { rebalance } from './planner.js';
export type { SessionEvents, SessionOptions } from './session.js';
export { defaultMargin, Session } from './session.js';
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
export type { PrefixWatcherOptions, WaitOptions, WatchUpdate } from './watcher.js';
export { PrefixWatcher, waitForDelete, waitForPut } from './watcher.js';
export type {
  RestartPolicy,
  RunContext,
  RunHandler,
  TaskChange,
  WorkerEvents,
  WorkerOptions,
} from './worker.js';
export { Worker, WorkerStatus } from './worker.js';
