/**
 * The assignment view: this worker's tasks as `/<root>/task/<name>/` holds them, kept by a watch that
 * restarts itself with backoff when it fails for good (e.g. permission denied).
 */
import type { Session } from '../../recipes/session.js';
import { PrefixWatcher } from '../../recipes/watcher.js';
import type { KeyValue } from '../../store/port.js';
import { decodeTask, encodeTask, type Task } from '../../task.js';
import { sleep } from '../../util/clock.js';
import type { Logger } from '../../util/logger.js';
import type { Keys } from '../keys.js';
import { retryBackoff } from '../options.js';
import type { Emit } from './events.js';
import type { ResolvedWorkerOptions } from './options.js';

/** What the view tells its owner. */
export interface AssignmentHooks {
  /** A task was assigned, or its value changed. */
  assigned(task: Task): void;
  revoked(id: string): void;
  /** A watch update (or a re-read) was applied: reconcile the runs. */
  updated(): void;
  /** The watch failed: until it is back, revocations cannot be seen. */
  down(): void;
}

export class AssignmentView {
  private readonly tasks = new Map<string, Task>();
  /** Create revision of each task's assignment key: the fencing token of runs with handoff 'none'. */
  private readonly created = new Map<string, number>();
  private readonly prefix: string;
  private watchLive = false;

  constructor(
    private readonly o: ResolvedWorkerOptions,
    k: Keys,
    private readonly log: Logger,
    private readonly emit: Emit,
    private readonly hooks: AssignmentHooks,
  ) {
    this.prefix = k.workerTasks(o.name);
  }

  /** Tasks assigned to this worker as last seen by the watch. */
  get assigned(): ReadonlyMap<string, Task> {
    return this.tasks;
  }

  /** Create revision of task `id`'s assignment key as last seen (0 when not assigned). */
  createRevision(id: string): number {
    return this.created.get(id) ?? 0;
  }

  /** The watch is up: what the view holds follows the store. */
  get live(): boolean {
    return this.watchLive;
  }

  /** The task ids assigned to this worker in the store now (the original's `Tasks`). */
  async read(): Promise<Set<string>> {
    const res = await this.o.store.range(this.prefix, { prefix: true, keysOnly: true });
    return new Set(res.kvs.map((kv) => kv.key.slice(this.prefix.length)));
  }

  /**
   * Keeps the view equal to the store until `signal` aborts. The watcher itself resumes after outages;
   * if it fails for good, `down()` is called and the watch starts anew with backoff.
   */
  async run(signal: AbortSignal): Promise<void> {
    const backoff = retryBackoff(this.o, 1_000);
    while (!signal.aborted) {
      const watcher = new PrefixWatcher(this.o.store, this.prefix, { clock: this.o.clock, signal });
      try {
        for await (const u of watcher) {
          this.watchLive = true;
          backoff.reset();
          if (u.type === 'events') {
            for (const e of u.events) {
              const id = e.kv.key.slice(this.prefix.length);
              if (e.type === 'put') this.onPut(id, e.kv);
              else this.onDelete(id);
            }
          } else {
            const ids = new Set<string>();
            for (const kv of u.kvs) {
              const id = kv.key.slice(this.prefix.length);
              ids.add(id);
              this.onPut(id, kv);
            }
            for (const id of [...this.tasks.keys()]) if (!ids.has(id)) this.onDelete(id);
          }
          this.o.metrics.workerTasksAssigned.set({ name: this.o.name }, this.tasks.size);
          this.hooks.updated();
        }
      } catch (err) {
        if (signal.aborted) return;
        this.watchLive = false;
        const delay = backoff.next();
        this.log.error(
          { err, retryIn: delay },
          'assignment watch failed: stopping every run until it is back',
        );
        this.emit('error', { error: err, context: 'watch tasks' });
        this.hooks.down();
        await sleep(this.o.clock, delay, signal).catch(() => undefined);
      }
    }
  }

  /**
   * After a loss, the view is as old as its broken watch: tasks revoked meanwhile are still in it until the
   * watch catches up. Drops them (true), so that re-registering does not start a task that is no longer
   * this worker's. Retries while `session` lives — nothing may come through the watch to reconcile later.
   */
  async dropRevokedWhileAway(session: Session, stop: AbortSignal): Promise<boolean> {
    const backoff = retryBackoff(this.o);
    while (!session.signal.aborted && !stop.aborted) {
      try {
        const now = await this.read();
        for (const id of [...this.tasks.keys()]) if (!now.has(id)) this.onDelete(id);
        return true;
      } catch (err) {
        this.log.warn({ err }, 'reading the assignment after re-registration failed; retrying');
        await backoff.wait(this.o.clock, session.signal);
      }
    }
    return false;
  }

  private onPut(id: string, kv: KeyValue): void {
    let task: Task;
    try {
      task = decodeTask(kv.value, id);
    } catch (err) {
      this.log.error({ err: (err as Error).message, key: kv.key }, 'unreadable task value ignored');
      this.emit('error', { error: err, context: `task ${id}` });
      return;
    }
    if (task.id !== id) task = { ...task, id };
    const old = this.tasks.get(id);
    const recreated = this.created.get(id) !== kv.createRevision;
    this.created.set(id, kv.createRevision);
    if (old && !recreated && encodeTask(old) === encodeTask(task)) return;
    this.tasks.set(id, task);
    this.hooks.assigned(task);
  }

  private onDelete(id: string): void {
    this.created.delete(id);
    if (this.tasks.delete(id)) this.hooks.revoked(id);
  }
}
