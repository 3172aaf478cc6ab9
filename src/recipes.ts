/**
 * `escheduler/recipes`: the coordination building blocks the roles are made of (the counterpart of Go's
 * `concurrency` package), on any {@link Store}, plus the key layout and the task wire format, for tools
 * that read a scheduler's keys themselves.
 */
export type { BarrierWaitOptions } from './recipes/barrier.js';
export { DoubleBarrier, TooManyParticipantsError } from './recipes/barrier.js';
export type { Fence, LeaderInfo } from './recipes/election.js';
export { Election } from './recipes/election.js';
export { Mutex } from './recipes/mutex.js';
export type { SessionEvents, SessionOptions } from './recipes/session.js';
export { defaultMargin, Session } from './recipes/session.js';
export type { PrefixWatcherOptions, WaitOptions, WatchUpdate } from './recipes/watcher.js';
export { PrefixWatcher, waitForDelete, waitForPut } from './recipes/watcher.js';
export type { Keys, StandbyRecord } from './scheduler/keys.js';
export { keys, WORKER_VALUE_RUNNING } from './scheduler/keys.js';
export { decodeTask, encodeTask } from './task.js';
