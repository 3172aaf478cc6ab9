/**
 * The operators' control state under `/<root>/control/` (issue 13): cordoned and draining workers, pinned
 * tasks and the pause. One parser for every reader — the leading master, `Admin`, `escheduler status` —
 * that never throws: a malformed value is reported in `problems` and ignored.
 *
 *     control/worker/<worker>  {"state":"cordoned"|"draining","by":"…","reason":"…","at":"<RFC 3339>"}
 *     control/pin/<taskId>     {"worker":"…","by":"…","reason":"…","at":"…"}
 *     control/pause            {"by":"…","reason":"…","at":"…"}
 *
 * Go masters never read these keys: in a fleet whose leader is a Go master, control has no effect.
 */
import type { Store } from '../../store/port.js';
import { hasControlChar } from '../../task.js';
import type { Keys } from '../keys.js';

/** Who changed a control, why, and when (RFC 3339). */
export interface ControlStamp {
  by: string;
  reason: string;
  at: string;
}

/** A worker taken out of rotation: `cordoned` keeps what it runs, `draining` gives everything away. */
export interface WorkerControl extends ControlStamp {
  worker: string;
  state: 'cordoned' | 'draining';
}

/** A task held on a worker whenever that worker is online and neither cordoned nor draining. */
export interface PinControl extends ControlStamp {
  task: string;
  worker: string;
}

/** Maintenance mode: no task moves between live workers. */
export type PauseControl = ControlStamp;

/** Everything under `control/`, parsed; JSON-friendly (arrays sorted by name). */
export interface ControlState {
  workers: WorkerControl[];
  pins: PinControl[];
  pause: PauseControl | null;
  /** Malformed keys or values, each naming the key: ignored by the master, shown by `status`. */
  problems: string[];
}

/** A control state with nothing set. */
export const emptyControl = (): ControlState => ({ workers: [], pins: [], pause: null, problems: [] });

/** True when no control changes what a schedule does. */
export function isInactive(c: ControlState): boolean {
  return c.workers.length === 0 && c.pins.length === 0 && c.pause === null;
}

/** A worker name or task id as the key layout accepts it (the same rule as `checkName`). */
export function isValidName(name: string): boolean {
  return (
    name.length > 0 &&
    name.length <= 256 &&
    !name.includes('/') &&
    name !== '.' &&
    !name.includes('..') &&
    !hasControlChar(name)
  );
}

function parseStamp(o: Record<string, unknown>): ControlStamp | string {
  const out: Record<string, string> = {};
  for (const f of ['by', 'reason', 'at'] as const) {
    const v = o[f] ?? '';
    if (typeof v !== 'string') return `"${f}" must be a string`;
    out[f] = v;
  }
  return out as unknown as ControlStamp;
}

function parseObject(value: string): Record<string, unknown> | string {
  let data: unknown;
  try {
    data = JSON.parse(value);
  } catch {
    return 'not JSON';
  }
  if (!data || typeof data !== 'object' || Array.isArray(data)) return 'not a JSON object';
  return data as Record<string, unknown>;
}

const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** Parses the key-values read under `controlPrefix`; never throws. */
export function parseControl(
  kvs: Iterable<{ key: string; value: string }>,
  k: Pick<Keys, 'controlPrefix'>,
): ControlState {
  const state = emptyControl();
  for (const kv of kvs) {
    const rest = kv.key.slice(k.controlPrefix.length);
    const bad = (why: string) =>
      state.problems.push(`control key ${JSON.stringify(kv.key)}: ${why} (ignored)`);
    const slash = rest.indexOf('/');
    const kind = slash < 0 ? rest : rest.slice(0, slash);
    const name = slash < 0 ? '' : rest.slice(slash + 1);
    if (kind === 'pause' && slash < 0) {
      const o = parseObject(kv.value);
      if (typeof o === 'string') {
        bad(o);
        continue;
      }
      const stamp = parseStamp(o);
      if (typeof stamp === 'string') bad(stamp);
      else state.pause = stamp;
      continue;
    }
    if ((kind !== 'worker' && kind !== 'pin') || slash < 0) {
      bad('unknown control key');
      continue;
    }
    if (!isValidName(name)) {
      bad(`bad ${kind === 'worker' ? 'worker name' : 'task id'}`);
      continue;
    }
    const o = parseObject(kv.value);
    if (typeof o === 'string') {
      bad(o);
      continue;
    }
    const stamp = parseStamp(o);
    if (typeof stamp === 'string') {
      bad(stamp);
      continue;
    }
    if (kind === 'worker') {
      if (o.state !== 'cordoned' && o.state !== 'draining') {
        bad(`"state" must be "cordoned" or "draining", got ${JSON.stringify(o.state)}`);
        continue;
      }
      state.workers.push({ worker: name, state: o.state, ...stamp });
    } else {
      if (typeof o.worker !== 'string' || !isValidName(o.worker)) {
        bad(`"worker" must be a worker name, got ${JSON.stringify(o.worker)}`);
        continue;
      }
      state.pins.push({ task: name, worker: o.worker, ...stamp });
    }
  }
  state.workers.sort((a, b) => byName(a.worker, b.worker));
  state.pins.sort((a, b) => byName(a.task, b.task));
  return state;
}

/** Reads and parses the control state of a root (one range read). */
export async function readControl(
  store: Store,
  k: Pick<Keys, 'controlPrefix'>,
): Promise<ControlState & { revision: number }> {
  const res = await store.range(k.controlPrefix, { prefix: true });
  return { ...parseControl(res.kvs, k), revision: res.revision };
}
