/**
 * The original's manual API, for workers without a run handler: `watchTasks()` streams the assignment's
 * changes, the application reports what it runs with `add()`/`del()`, and `isAllRunning()` compares the
 * two (leaving the start-up barrier is the application's call, through `tryLeaveBarrier`).
 */
import type { Task } from '../../task.js';
import { AsyncQueue } from '../../util/queue.js';
import type { TaskChange } from './events.js';
import type { ResolvedWorkerOptions } from './options.js';

export class ManualApi {
  private readonly running = new Set<string>();
  private readonly subscribers = new Set<{ queue: AsyncQueue<TaskChange>; detach(): void }>();
  private closed = false;

  constructor(private readonly o: ResolvedWorkerOptions) {}

  /**
   * Created/deleted events of this worker's assignments, starting with a `created` for each task of
   * `assigned`. Ends at `close()` or when `signal` aborts; its listener on `signal` goes with it.
   */
  watch(assigned: Iterable<Task>, signal?: AbortSignal): AsyncIterable<TaskChange> {
    const initial = [...assigned].map((task): TaskChange => ({ action: 'created', task }));
    const onAbort = () => end();
    const sub = {
      queue: new AsyncQueue<TaskChange>(initial, () => end()),
      detach: () => signal?.removeEventListener('abort', onAbort),
    };
    const end = () => {
      if (!this.subscribers.delete(sub)) return;
      sub.detach();
      sub.queue.end();
    };
    if (this.closed || signal?.aborted) {
      sub.queue.end();
      return sub.queue;
    }
    this.subscribers.add(sub);
    signal?.addEventListener('abort', onAbort, { once: true });
    return sub.queue;
  }

  publish(change: TaskChange): void {
    for (const s of this.subscribers) s.queue.push(change);
  }

  /** Ends every stream (the worker stopped). */
  close(): void {
    this.closed = true;
    for (const s of [...this.subscribers]) {
      this.subscribers.delete(s);
      s.detach();
      s.queue.end();
    }
  }

  /** The application runs `task`. */
  add(task: Task): void {
    this.running.add(task.id);
    this.updateRunning();
  }

  /** The application stopped task `id`. */
  del(id: string): void {
    this.running.delete(id);
    this.updateRunning();
  }

  ids(): string[] {
    return [...this.running];
  }

  isAllRunning(assigned: ReadonlyMap<string, Task>): boolean {
    for (const id of assigned.keys()) if (!this.running.has(id)) return false;
    return true;
  }

  private updateRunning(): void {
    if (this.o.run) return; // with a run handler, the runs are what runs
    this.o.metrics.workerTasksRunning.set({ name: this.o.name }, this.running.size);
  }
}
