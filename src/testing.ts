/**
 * `escheduler/testing`: what makes tests of an application deterministic — a clock you advance by hand
 * (with a seeded `random`), a helper to let pending promise callbacks run, and the in-process store
 * (also exported by `escheduler`, where it serves single-process use).
 */

export type { MemoryStoreOptions } from './store/memory.js';
export { MemoryStore } from './store/memory.js';
export type { Clock, TimerHandle } from './util/clock.js';
export { flushMicrotasks, ManualClock, systemClock } from './util/clock.js';
