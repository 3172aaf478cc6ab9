import { OptionError } from '../errors.js';
import { hasControlChar } from '../task.js';

/**
 * The etcd key layout, compatible with the Go original (v0.1.59), which joins paths with Go's
 * `path.Join`: `rootName` `a/b` gives `/a/b/...`. Additions of ours live under `claim/`, `status/`,
 * `restarting/`, `standby/` and `health/`.
 */
export interface Keys {
  root: string;
  /** Election prefix; candidates' keys are `<election>/<leaseHex>`. */
  election: string;
  /** Worker registration prefix, with a trailing slash: `<workerPrefix><name>` = `running`. */
  workerPrefix: string;
  worker(name: string): string;
  /** Registration mutex prefix; contenders' keys are `<mutex>/<leaseHex>`. */
  registerMutex: string;
  /** Start-up double barrier key (`<barrier>/ready`, `<barrier>/waiters/<n>`). */
  barrier: string;
  /** Set once, by the master, after the first barrier: an RFC 3339 time. */
  barrierLeft: string;
  /** Assignment prefix, with a trailing slash. */
  taskPrefix: string;
  /** Assignments of one worker, with a trailing slash. */
  workerTasks(worker: string): string;
  task(worker: string, id: string): string;
  /** Claim prefix (ours), with a trailing slash. */
  claimPrefix: string;
  claim(id: string): string;
  /** Master status JSON (ours). */
  masterStatus: string;
  /**
   * Restart markers (ours, issue 15), with a trailing slash: `<restartingPrefix><name>` = JSON
   * `{ at, graceMs, by? }` on a lease of the grace period, written by a worker stopping with restart intent.
   */
  restartingPrefix: string;
  restarting(name: string): string;
  /** Operator control state (ours, issue 13), with a trailing slash: `worker/<w>`, `pin/<id>`, `pause`. */
  controlPrefix: string;
  /** `{ state: 'cordoned' | 'draining', by, reason, at }` of one worker. */
  controlWorker(worker: string): string;
  /** `{ worker, by, reason, at }`: task `id` pinned to a worker. */
  controlPin(id: string): string;
  /** `{ by, reason, at }` while the fleet is paused. */
  controlPause: string;
  /** Health documents of workers (ours), with a trailing slash: `<healthPrefix><worker>`, lease-bound. */
  healthPrefix: string;
  health(worker: string): string;
  /** Worker facts (ours, issue 14), with a trailing slash: `<nodePrefix><name>` = NodeInfo JSON, lease-bound. */
  nodePrefix: string;
  node(name: string): string;
  /** Standby prefix (ours), with a trailing slash: workers waiting for a slot over the cap. */
  standbyPrefix: string;
  /** `<standbyPrefix><name>` = {@link StandbyRecord} JSON, bound to the waiting worker's lease. */
  standby(name: string): string;
}

/** Value of `/<root>/standby/<name>`: a worker waiting for a free slot (`onCapacityFull: 'wait'`). */
export interface StandbyRecord {
  /** When it started waiting (RFC 3339). */
  since: string;
  pid: number;
  host: string;
}

/** Refuses a name that could escape its prefix or break the key layout; returns it unchanged. */
export function checkName(what: string, name: string, maxLength = 256): string {
  if (typeof name !== 'string' || name.length === 0) {
    throw new OptionError(`${what} must be a non-empty string, got ${JSON.stringify(name)}`);
  }
  if (name.length > maxLength) {
    throw new OptionError(`${what} must be at most ${maxLength} characters, got ${name.length}`);
  }
  if (name.includes('/') || name === '.' || name.includes('..') || hasControlChar(name)) {
    throw new OptionError(
      `${what} must not contain '/', '..' or control characters, got ${JSON.stringify(name)}`,
    );
  }
  return name;
}

/** Go's `path.Join("/", rootName)`, refusing names that would escape the root (`..`, control chars). */
export function rootPath(rootName: string): string {
  if (typeof rootName !== 'string' || rootName.trim().length === 0) {
    throw new OptionError(`rootName must be a non-empty string, got ${JSON.stringify(rootName)}`);
  }
  if (hasControlChar(rootName)) throw new OptionError(`rootName must not contain control characters`);
  const parts = rootName.split('/').filter((p) => p.length > 0 && p !== '.');
  if (parts.some((p) => p === '..')) {
    throw new OptionError(`rootName must not contain '..' segments, got ${JSON.stringify(rootName)}`);
  }
  if (parts.length === 0)
    throw new OptionError(`rootName must name a folder, got ${JSON.stringify(rootName)}`);
  return `/${parts.join('/')}`;
}

export function keys(rootName: string): Keys {
  const root = rootPath(rootName);
  const workerPrefix = `${root}/worker/`;
  const taskPrefix = `${root}/task/`;
  const claimPrefix = `${root}/claim/`;
  const restartingPrefix = `${root}/restarting/`;
  const standbyPrefix = `${root}/standby/`;
  const healthPrefix = `${root}/health/`;
  return {
    root,
    election: `${root}/election`,
    workerPrefix,
    worker: (name) => workerPrefix + name,
    registerMutex: `${root}/worker_register_mutex`,
    barrier: `${root}/worker-barrier`,
    barrierLeft: `${root}/worker_barrier_left`,
    taskPrefix,
    workerTasks: (worker) => `${taskPrefix}${worker}/`,
    task: (worker, id) => `${taskPrefix}${worker}/${id}`,
    claimPrefix,
    claim: (id) => claimPrefix + id,
    masterStatus: `${root}/status/master`,
    restartingPrefix,
    restarting: (name) => restartingPrefix + name,
    controlPrefix: `${root}/control/`,
    controlWorker: (worker) => `${root}/control/worker/${worker}`,
    controlPin: (id) => `${root}/control/pin/${id}`,
    controlPause: `${root}/control/pause`,
    standbyPrefix,
    standby: (name) => standbyPrefix + name,
    healthPrefix,
    health: (worker) => healthPrefix + worker,
    nodePrefix: `${root}/node/`,
    node: (name) => `${root}/node/${name}`,
  };
}

/** Value of a worker key, as the original writes it. */
export const WORKER_VALUE_RUNNING = 'running';
