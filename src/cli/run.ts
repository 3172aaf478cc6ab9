/**
 * `escheduler run`: the production process. Runs a master candidate and a worker (either can be switched
 * off), serves `/metrics`, `/healthz` and `/readyz`, logs JSON lines, and drains on SIGTERM/SIGINT. With
 * `--restart-grace`, SIGTERM means "restarting": the worker leaves a restart marker instead of handing its
 * tasks away (SIGINT still drains).
 */
import type { Server } from 'node:http';
import { collectDefaultMetrics } from 'prom-client';
import { EschedulerError, OptionError } from '../errors.js';
import { keys, rootPath } from '../scheduler/keys.js';
import { Master } from '../scheduler/master.js';
import { defaultName } from '../scheduler/options.js';
import { PrometheusMetrics } from '../scheduler/prometheus.js';
import { type RunHandler, Worker } from '../scheduler/worker.js';
import { CliError, type ConnectionFlags, type LogLevel, makeLogger, openStore } from './common.js';
import { DashboardServer } from './dashboard/server.js';
import { closeHttp, serveHttp } from './http.js';
import { loadGenerator, loadHandler } from './load.js';
import { LoopWatch, Probes } from './probes.js';

export interface RunFlags extends ConnectionFlags {
  root?: string;
  name?: string;
  ttl: number;
  maxNodes?: number;
  interval: number;
  rebalanceWait: number;
  timeout: number;
  barrierTimeout: number;
  drainTimeout: number;
  capacity: number;
  /** ms; 0 = SIGTERM drains. */
  restartGrace: number;
  livenessBudget: number;
  onCapacityFull: string;
  steadyAfter: number;
  generator?: string;
  handler?: string;
  handoff: string;
  maxMoves?: number;
  maxTxnOps?: number;
  master: boolean;
  worker: boolean;
  http?: string;
  logLevel: LogLevel;
  logStdout?: boolean;
}

/** Turns the library's option errors into one-line CLI errors. */
function construct<T>(make: () => T): T {
  try {
    return make();
  } catch (err) {
    if (err instanceof OptionError) throw new CliError(err.message);
    throw err;
  }
}

/** Resolves when the first SIGTERM/SIGINT arrives; a second one exits at once (forced). */
function shutdownSignal(onForce: (signal: NodeJS.Signals) => void): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    let received = false;
    const handler = (signal: NodeJS.Signals) => {
      if (received) return onForce(signal);
      received = true;
      resolve(signal);
    };
    process.on('SIGTERM', handler);
    process.on('SIGINT', handler);
  });
}

export async function runCommand(flags: RunFlags): Promise<number> {
  if (!flags.root)
    throw new CliError('run: --root <name> is required (the key prefix every process of the fleet shares)');
  construct(() => rootPath(flags.root!));
  if (!flags.master && !flags.worker)
    throw new CliError('run: --no-master and --no-worker together leave nothing to run');
  if (flags.handoff !== 'claim' && flags.handoff !== 'none') {
    throw new CliError(`--handoff: expected claim or none, got ${JSON.stringify(flags.handoff)}`);
  }
  if (flags.restartGrace > 0 && !flags.worker) {
    throw new CliError('run: --restart-grace is about the worker; it cannot go with --no-worker');
  }
  if (flags.onCapacityFull !== 'wait' && flags.onCapacityFull !== 'reject') {
    throw new CliError(
      `--on-capacity-full: expected wait or reject, got ${JSON.stringify(flags.onCapacityFull)}`,
    );
  }
  if (flags.master && !flags.generator) {
    throw new CliError('run: --generator <file> is required to run a master (or pass --no-master)');
  }
  const generator = flags.master && flags.generator ? await loadGenerator(flags.generator) : undefined;
  const handler = flags.worker && flags.handler ? await loadHandler(flags.handler) : undefined;

  const log = makeLogger(flags.logLevel, flags.logStdout);
  const root = flags.root;
  const name = flags.name ?? defaultName();
  const k = keys(root);
  const { store, describe } = await openStore(flags, k.barrierLeft);
  let maxNumNodes = flags.maxNodes;
  if (maxNumNodes === undefined) {
    if (store.kind === 'etcd') {
      await store.close();
      throw new CliError(
        'run: --max-nodes <n> is required with --etcd (workers of the fleet + 1 for the master)',
      );
    }
    maxNumNodes = 2;
  }
  if (store.kind === 'memory') {
    log.warn(
      { store: describe },
      'no --etcd: running on the in-process memory store — a single process only, nothing is shared with other processes',
    );
  }

  const metrics = new PrometheusMetrics();
  collectDefaultMetrics({ register: metrics.registry });
  const common = {
    store,
    rootName: root,
    name,
    ttl: flags.ttl,
    maxNumNodes,
    barrierTimeout: flags.barrierTimeout,
    logger: log,
    metrics,
  };
  const run: RunHandler =
    handler ??
    ((task, { signal }) =>
      new Promise<void>((resolve) => {
        log.info({ task: task.id }, 'task running (no --handler: idle until revoked)');
        signal.addEventListener('abort', () => resolve(), { once: true });
      }));
  const worker = flags.worker
    ? construct(
        () =>
          new Worker({
            ...common,
            run,
            handoff: flags.handoff as 'claim' | 'none',
            drainTimeout: flags.drainTimeout,
            restartGrace: flags.restartGrace,
            onCapacityFull: flags.onCapacityFull as 'wait' | 'reject',
            steadyAfter: flags.steadyAfter,
            capacity: flags.capacity,
          }),
      )
    : undefined;
  const master =
    flags.master && generator
      ? construct(
          () =>
            new Master({
              ...common,
              generator,
              interval: flags.interval,
              rebalanceWait: flags.rebalanceWait,
              timeout: flags.timeout,
              handoff: flags.handoff as 'claim' | 'none',
              maxMoves: flags.maxMoves,
              maxTxnOps: flags.maxTxnOps,
            }),
        )
      : undefined;
  if (worker) {
    worker.on('started', ({ id, attempt }) => log.info({ task: id, attempt }, 'task started'));
    worker.on('stopped', ({ id, error }) =>
      error
        ? log.warn({ task: id, err: error }, 'task stopped with an error')
        : log.info({ task: id }, 'task stopped'),
    );
    worker.on('assigned', ({ task }) => log.debug({ task: task.id }, 'task assigned'));
    worker.on('revoked', ({ id }) => log.debug({ task: id }, 'task revoked'));
    worker.on('status', ({ status }) => log.info({ status }, 'worker status'));
  }

  const loop = new LoopWatch(flags.livenessBudget);
  const probes = new Probes({ store, k, worker, master, loop, drainTimeout: flags.drainTimeout });
  let server: Server | undefined;
  // The read-only dashboard beside /metrics: one watch on the root, only while a page is open.
  const dashboard = flags.http
    ? new DashboardServer({
        store,
        root,
        mode: 'run',
        lazy: true,
        onError: (err) => log.debug({ err }, 'dashboard'),
      })
    : undefined;
  const cleanup = async (restart = false) => {
    probes.draining();
    const stops: Promise<unknown>[] = [];
    if (worker)
      stops.push(worker.stop({ restart }).catch((err: unknown) => log.error({ err }, 'worker stop failed')));
    if (master) stops.push(master.stop().catch((err: unknown) => log.error({ err }, 'master stop failed')));
    await Promise.all(stops);
    await dashboard?.close();
    if (server) await closeHttp(server);
    loop.stop();
    await store.close().catch((err: unknown) => log.warn({ err }, 'closing the store failed'));
  };

  const never = new Promise<never>(() => {});
  let refusal: Promise<{ err: unknown }> = never;
  const signalled = shutdownSignal((signal) => {
    log.error({ signal }, 'second signal: exiting without finishing the drain');
    process.exit(signal === 'SIGINT' ? 130 : 143);
  });
  try {
    if (flags.http) {
      server = await serveHttp(flags.http, {
        registry: metrics.registry,
        healthz: () => probes.healthz(),
        readyz: () => probes.readyz(),
        onError: (err) => log.warn({ err }, 'http handler failed'),
        dashboard,
      });
      dashboard?.start();
      log.info({ http: flags.http }, 'serving /metrics, /healthz, /readyz and the read-only dashboard at /');
    }
    log.info(
      {
        store: describe,
        root,
        name,
        maxNumNodes,
        ttl: flags.ttl,
        master: !!master,
        worker: !!worker,
        handoff: flags.handoff,
        restartGrace: flags.restartGrace,
      },
      'escheduler run starting',
    );
    if (worker) {
      // A standby (fleet full, --on-capacity-full wait) is a healthy process: its master candidate runs.
      const standby = new Promise<'standby'>((resolve) => worker.once('standby', () => resolve('standby')));
      const registered = worker.start().then(() => 'registered' as const);
      const started = await Promise.race([registered, standby, signalled]);
      if (started !== 'registered' && started !== 'standby') {
        log.info({ signal: started }, 'signal before registration: stopping');
        await cleanup();
        return 0;
      }
      if (started === 'standby') {
        // Registration goes on in the background: a refusal now (name taken) still ends the process.
        refusal = registered.then(
          () => never,
          (err: unknown) => ({ err }),
        );
      }
    }
    master?.start();
  } catch (err) {
    await cleanup();
    if (err instanceof EschedulerError) throw new CliError(err.message, 1);
    throw err;
  }
  const outcome = await Promise.race([signalled, refusal]);
  if (typeof outcome === 'object') {
    await cleanup();
    const { err } = outcome;
    throw new CliError(err instanceof Error ? err.message : String(err), 1);
  }
  const signal = outcome;
  const restart = signal === 'SIGTERM' && flags.restartGrace > 0;
  log.info(
    { signal, restartGrace: restart ? flags.restartGrace : undefined },
    restart
      ? 'restarting: stopping tasks, releasing claims, holding the assignment for the restart grace'
      : 'draining: stopping tasks, releasing claims, leaving the fleet',
  );
  const t0 = Date.now();
  await cleanup(restart);
  log.info({ ms: Date.now() - t0 }, 'drained; bye');
  return 0;
}
