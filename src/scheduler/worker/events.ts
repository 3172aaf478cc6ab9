import type { Task } from '../../task.js';
import type { WorkerStatus } from './lifecycle.js';

/** The original's task change event. */
export type TaskChange = { action: 'created'; task: Task } | { action: 'deleted'; id: string };

export interface WorkerEvents {
  status: { status: WorkerStatus };
  assigned: { task: Task };
  revoked: { id: string };
  started: { id: string; attempt: number };
  stopped: { id: string; error?: unknown };
  fenced: { reason: string };
  /** The fleet is full: waiting as a standby (`onCapacityFull: 'wait'`); emitted at each re-check. */
  standby: { online: number; max: number; ahead: number };
  error: { error: unknown; context: string };
}

/** How a part of the worker emits the worker's events. */
export type Emit = <K extends keyof WorkerEvents>(event: K, payload: WorkerEvents[K]) => void;
