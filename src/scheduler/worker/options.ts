import { OptionError } from '../../errors.js';
import { isCapacity, MAX_WORKER_CAPACITY } from '../../planner/capacity.js';
import {
  DEFAULT_DRAIN_TIMEOUT,
  DEFAULT_STEADY_AFTER,
  msOption,
  type NodeOptions,
  numberOption,
  parseNodeOptions,
  type ResolvedNodeOptions,
} from '../options.js';
import type { RestartPolicy, RunHandler } from './runner.js';

/** The longest `restartGrace`: a day (a marker is a promise to come back, not a way to park tasks). */
export const MAX_RESTART_GRACE = 86_400_000;

export interface WorkerOptions extends NodeOptions {
  /** Started for each assigned task, highest priority first. Without it, use `watchTasks()` and `add()`/`del()`. */
  run?: RunHandler;
  /**
   * `'claim'`: a task's run starts only after this worker created `/<root>/claim/<id>`, and the claim is
   * released only after the run settled: a task never runs on two workers. `'none'`: the original's
   * behaviour exactly (for fleets mixed with the Go original). @default 'claim'
   */
  handoff?: 'claim' | 'none';
  /** Restart backoff of runs that throw or return while still assigned. */
  restart?: RestartPolicy;
  /** On `stop()`, wait at most this long for runs to settle. @default 10_000 (ms) */
  drainTimeout?: number;
  /**
   * Grace of a restart (ms; 0 = off): `stop({ restart: true })` stops the runs and releases the claims as a
   * drain does, but leaves `/<root>/restarting/<name>` on a lease of this period instead of handing the
   * tasks away. The master holds them where they are meanwhile (they do not run); a worker registering
   * again under this name within the grace gets them back without a move; after it they move as for a
   * leave. Counted in whole seconds (rounded up). @default 0
   */
  restartGrace?: number;
  /**
   * A run that lasted this long is steady: its task's failed-run count (`attempts` in `worker.health()`)
   * goes back to 0 and it leaves the failing list. @default 5_000 (ms)
   */
  steadyAfter?: number;
  /**
   * Self-fencing margin: runs stop when no keep-alive succeeded for `ttl*1000 - selfFenceMargin` ms,
   * before the server can expire the lease. @default min(1_000, ttl*1000/4) (ms)
   */
  selfFenceMargin?: number;
  /**
   * When `maxNumNodes − 1` workers are registered already. `'reject'`: `start()` rejects with
   * `WorkerNumExceedMaximumError` (the original's error). `'wait'`: the worker waits as a standby —
   * `/<root>/standby/<name>` on its lease, `condition.reason` `'standby'` — and registers by itself when a
   * slot frees, standbys in the order they arrived. @default 'reject'
   */
  onCapacityFull?: 'wait' | 'reject';
  /**
   * How much this worker can carry relative to the others (an integer 1..1,000,000): the master gives it a
   * share of the load proportional to it. Published in `/<root>/node/<name>`. @default 1
   */
  capacity?: number;
}

export interface ResolvedWorkerOptions extends ResolvedNodeOptions {
  run?: RunHandler;
  handoff: 'claim' | 'none';
  restart: Required<RestartPolicy>;
  drainTimeout: number;
  /** 0: restart intent is a plain drain. */
  restartGrace: number;
  steadyAfter: number;
  /** Undefined: the session's default margin. */
  selfFenceMargin?: number;
  onCapacityFull: 'wait' | 'reject';
  capacity: number;
  /** When the worker was created (ms, its clock): `startedAt` in `/<root>/node/<name>`. */
  startedAt: number;
}

/** Checks every worker option; the error names the bad one. */
export function parseWorkerOptions(options: WorkerOptions): ResolvedWorkerOptions {
  const o = parseNodeOptions(options);
  if (options.run !== undefined && typeof options.run !== 'function') {
    throw new OptionError('Expected `run` to be a function `async (task, { signal }) => void`');
  }
  const handoff = options.handoff ?? 'claim';
  if (handoff !== 'claim' && handoff !== 'none') {
    throw new OptionError(`Expected \`handoff\` to be 'claim' or 'none', got \`${String(handoff)}\``);
  }
  const r = options.restart ?? {};
  const restart = {
    initialDelay: msOption('restart.initialDelay', r.initialDelay ?? 1_000, 0),
    maxDelay: msOption('restart.maxDelay', r.maxDelay ?? 30_000, 0),
    factor: numberOption('restart.factor', r.factor ?? 2, 1),
  };
  const drainTimeout = msOption('drainTimeout', options.drainTimeout ?? DEFAULT_DRAIN_TIMEOUT, 0);
  const restartGrace = msOption('restartGrace', options.restartGrace ?? 0, 0);
  if (restartGrace > MAX_RESTART_GRACE) {
    throw new OptionError(
      `Expected \`restartGrace\` at most ${MAX_RESTART_GRACE} ms (a day), got ${restartGrace}`,
    );
  }
  const steadyAfter = msOption('steadyAfter', options.steadyAfter ?? DEFAULT_STEADY_AFTER, 0);
  let selfFenceMargin: number | undefined;
  if (options.selfFenceMargin !== undefined) {
    selfFenceMargin = msOption('selfFenceMargin', options.selfFenceMargin, 0);
    if (selfFenceMargin >= o.ttl * 1000) {
      throw new OptionError(
        `Expected \`selfFenceMargin\` below ttl (${o.ttl * 1000} ms), got ${selfFenceMargin}`,
      );
    }
  }
  const onCapacityFull = options.onCapacityFull ?? 'reject';
  if (onCapacityFull !== 'wait' && onCapacityFull !== 'reject') {
    throw new OptionError(
      `Expected \`onCapacityFull\` to be 'wait' or 'reject', got \`${String(onCapacityFull)}\``,
    );
  }
  const capacity = options.capacity ?? 1;
  if (!isCapacity(capacity)) {
    throw new OptionError(
      `Expected \`capacity\` to be an integer in 1..${MAX_WORKER_CAPACITY}, got \`${String(capacity)}\``,
    );
  }
  return {
    ...o,
    run: options.run,
    handoff,
    restart,
    drainTimeout,
    restartGrace,
    steadyAfter,
    selfFenceMargin,
    onCapacityFull,
    capacity,
    startedAt: o.clock.now(),
  };
}
