import { WorkerNameTakenError, WorkerNumExceedMaximumError } from '../errors.js';
import { Mutex } from '../recipes/mutex.js';
import type { Session } from '../recipes/session.js';
import type { Logger } from '../util/logger.js';
import type { Keys } from './keys.js';
import { WORKER_VALUE_RUNNING } from './keys.js';

export interface RegistrationRequest {
  session: Session;
  keys: Keys;
  name: string;
  /** Workers + 1: at most `maxNumNodes - 1` workers may be registered. */
  maxNumNodes: number;
  /** Aborts the wait for the registration mutex. */
  signal: AbortSignal;
  log: Logger;
}

/**
 * Registers `/<root>/worker/<name>` = `running` with the session's lease, under the registration mutex
 * (as the original) so two workers cannot both squeeze under the cap. Refuses a name held by another
 * live lease and a full fleet. Returns the revision of the put.
 */
export async function registerWorker(r: RegistrationRequest): Promise<number> {
  const { session, keys: k, name, maxNumNodes } = r;
  const store = session.store;
  const mutex = new Mutex(session, k.registerMutex);
  await mutex.lock({ signal: AbortSignal.any([r.signal, session.signal]) });
  try {
    const myKey = k.worker(name);
    const res = await store.range(k.workerPrefix, { prefix: true });
    const mine = res.kvs.find((kv) => kv.key === myKey);
    if (mine && mine.lease !== session.leaseId) {
      throw new WorkerNameTakenError(
        `worker name ${JSON.stringify(name)} is taken by a live worker (lease ${mine.lease}); choose another name`,
      );
    }
    const others = res.kvs.length - (mine ? 1 : 0);
    if (others >= maxNumNodes - 1) {
      throw new WorkerNumExceedMaximumError(
        `worker num exceed maximum: ${others} workers online and maxNumNodes ${maxNumNodes} allows ${
          maxNumNodes - 1
        }; worker ${JSON.stringify(name)} not registered`,
      );
    }
    const put = await store.txn({
      compare: [mutex.isOwner(), { key: myKey, target: 'create', op: '=', value: 0 }],
      success: [{ type: 'put', key: myKey, value: WORKER_VALUE_RUNNING, lease: session.leaseId }],
    });
    if (!put.succeeded) {
      throw new WorkerNameTakenError(`worker name ${JSON.stringify(name)} was registered concurrently`);
    }
    return put.revision;
  } finally {
    await mutex
      .unlock()
      .catch((err: unknown) => r.log.warn({ err }, 'unlocking the registration mutex failed'));
  }
}
