export type { Clock, TimerHandle } from './clock.js';
export { ManualClock, systemClock } from './clock.js';
export {
  BarrierTimeoutError,
  CompactedError,
  EschedulerError,
  InvalidTaskError,
  isRetryableError,
  LeaseNotFoundError,
  NotLeaderError,
  OptionError,
  SessionLostError,
  StoreRequestError,
  StoreUnavailableError,
  WorkerNameTakenError,
  WorkerNumExceedMaximumError,
} from './errors.js';
export type { Keys } from './keys.js';
export { keys, WORKER_VALUE_RUNNING } from './keys.js';
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
