/**
 * The assignment as stored under `/<root>/task/`, in the one form the master keeps it: worker → id →
 * (stored value, mod revision). The watch-fed view fills it, the planner reads its ids without a copy, the
 * write path reads the values (to rewrite a changed task) and the mod revisions (to guard each write).
 */
import type { KeyValue } from '../../store/port.js';
import type { Keys } from '../keys.js';
import type { ViewSink } from './view.js';

/** One stored assignment key: its value (the task JSON) and the revision it was last written at. */
export interface StoredEntry {
  readonly value: string;
  readonly mod: number;
}

/** What a schedule reads of the stored assignment. */
export interface StoredAssignment {
  /** Worker → ids it holds: the planner's `current` (new arrays of the stored id strings). */
  current(): Map<string, string[]>;
  /** Keys under the prefix that are not `<worker>/<id>`: the schedule deletes them. */
  readonly malformed: ReadonlyMap<string, number>;
  /** The ids a worker holds, with their stored entries. */
  held(worker: string): ReadonlyMap<string, StoredEntry> | undefined;
  /** The stored entry of an assignment key (well-formed or malformed), if any. */
  entry(key: string): StoredEntry | undefined;
  /** Well-formed assignment keys held. */
  readonly size: number;
}

/** The stored assignment, kept up to date key by key (a {@link ViewSink}). */
export class AssignmentMap implements StoredAssignment, ViewSink {
  private readonly byWorker = new Map<string, Map<string, StoredEntry>>();
  /** Malformed key → mod revision. */
  readonly malformed = new Map<string, number>();
  private count = 0;

  constructor(private readonly k: Pick<Keys, 'taskPrefix'>) {}

  get size(): number {
    return this.count;
  }

  current(): Map<string, string[]> {
    const out = new Map<string, string[]>();
    for (const [worker, ids] of this.byWorker) out.set(worker, [...ids.keys()]);
    return out;
  }

  /** Every well-formed assignment key with its stored value. */
  *values(): IterableIterator<[string, string]> {
    const prefix = this.k.taskPrefix;
    for (const [worker, ids] of this.byWorker) {
      for (const [id, e] of ids) yield [`${prefix}${worker}/${id}`, e.value];
    }
  }

  /** Worker → ids → entries, as stored (read only). */
  workers(): ReadonlyMap<string, ReadonlyMap<string, StoredEntry>> {
    return this.byWorker;
  }

  held(worker: string): ReadonlyMap<string, StoredEntry> | undefined {
    return this.byWorker.get(worker);
  }

  entry(key: string): StoredEntry | undefined {
    const at = this.split(key);
    if (!at) {
      const mod = this.malformed.get(key);
      return mod === undefined ? undefined : { value: '', mod };
    }
    return this.byWorker.get(at.worker)?.get(at.id);
  }

  clear(): void {
    this.byWorker.clear();
    this.malformed.clear();
    this.count = 0;
  }

  put(kv: Pick<KeyValue, 'key' | 'value' | 'modRevision'>): void {
    const at = this.split(kv.key);
    if (!at) {
      this.malformed.set(kv.key, kv.modRevision);
      return;
    }
    let ids = this.byWorker.get(at.worker);
    if (!ids) {
      ids = new Map();
      this.byWorker.set(at.worker, ids);
    }
    if (!ids.has(at.id)) this.count++;
    ids.set(at.id, { value: kv.value, mod: kv.modRevision });
  }

  delete(key: string): void {
    const at = this.split(key);
    if (!at) {
      this.malformed.delete(key);
      return;
    }
    const ids = this.byWorker.get(at.worker);
    if (!ids?.delete(at.id)) return;
    this.count--;
    if (ids.size === 0) this.byWorker.delete(at.worker);
  }

  /** `<taskPrefix><worker>/<id>` → its parts; undefined for a malformed key. */
  private split(key: string): { worker: string; id: string } | undefined {
    const prefix = this.k.taskPrefix;
    if (!key.startsWith(prefix)) return undefined;
    const slash = key.indexOf('/', prefix.length);
    if (slash <= prefix.length) return undefined;
    const id = key.slice(slash + 1);
    if (id.length === 0 || id.includes('/')) return undefined;
    return { worker: key.slice(prefix.length, slash), id };
  }
}

/** The assignment read by a range under `taskPrefix` (tests, tools): the same form the view keeps. */
export function parseAssignment(
  kvs: Iterable<Pick<KeyValue, 'key' | 'value'> & { modRevision?: number }>,
  k: Pick<Keys, 'taskPrefix'>,
): AssignmentMap {
  const map = new AssignmentMap(k);
  for (const kv of kvs) map.put({ key: kv.key, value: kv.value, modRevision: kv.modRevision ?? 0 });
  return map;
}
