/**
 * Loads the application's code for `escheduler run`: the generator (an ES module whose default export
 * returns the tasks, or a `.json` task list re-read on every schedule) and the run handler (an ES module
 * whose default export is `async (task, { signal }) => {}`).
 */
import { existsSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Generator } from '../scheduler/options.js';
import type { RunHandler } from '../scheduler/worker.js';
import { MAX_TASK_WEIGHT, type Task } from '../task.js';
import { CliError } from './common.js';

/** One entry of a JSON task list; `raw` is UTF-8 text. */
export interface JsonTask {
  id: string;
  priority?: number;
  group?: string;
  key?: string;
  raw?: string;
  weight?: number;
}

function checkFile(path: string, flag: string): string {
  const abs = resolve(path);
  if (!existsSync(abs)) throw new CliError(`${flag}: file not found: ${path}`);
  if (!statSync(abs).isFile()) throw new CliError(`${flag}: not a file: ${path}`);
  return abs;
}

/** Parses and checks a JSON task list; the error names the file and the bad entry. */
export function parseTaskList(text: string, file: string): Task[] {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new CliError(`--generator ${file}: malformed JSON: ${(err as Error).message}`);
  }
  if (!Array.isArray(data)) {
    throw new CliError(
      `--generator ${file}: expected a JSON array of {id, priority?, group?, key?, raw?, weight?}`,
    );
  }
  return data.map((entry: unknown, i) => {
    const where = `--generator ${file}: entry ${i}`;
    if (!entry || typeof entry !== 'object' || Array.isArray(entry))
      throw new CliError(`${where}: expected an object`);
    const e = entry as Record<string, unknown>;
    if (typeof e.id !== 'string' || e.id.length === 0)
      throw new CliError(`${where}: "id" must be a non-empty string`);
    for (const f of ['group', 'key', 'raw'] as const) {
      if (e[f] !== undefined && typeof e[f] !== 'string')
        throw new CliError(`${where} (${e.id}): "${f}" must be a string`);
    }
    if (e.priority !== undefined && (typeof e.priority !== 'number' || !Number.isFinite(e.priority))) {
      throw new CliError(`${where} (${e.id}): "priority" must be a number`);
    }
    if (
      e.weight !== undefined &&
      !(
        typeof e.weight === 'number' &&
        Number.isInteger(e.weight) &&
        e.weight >= 1 &&
        e.weight <= MAX_TASK_WEIGHT
      )
    ) {
      throw new CliError(`${where} (${e.id}): "weight" must be an integer in 1..${MAX_TASK_WEIGHT}`);
    }
    return toTask(e as unknown as JsonTask);
  });
}

function toTask(e: JsonTask | (Omit<Task, 'raw'> & { raw?: unknown })): Task {
  const task: Task = { id: e.id };
  if (e.priority !== undefined) task.priority = e.priority;
  if (e.group !== undefined) task.group = e.group;
  if (e.key !== undefined) task.key = e.key;
  if (e.weight !== undefined) task.weight = e.weight;
  if (typeof e.raw === 'string') task.raw = new Uint8Array(Buffer.from(e.raw, 'utf8'));
  else if (e.raw instanceof Uint8Array) task.raw = e.raw;
  return task;
}

async function importDefault(abs: string, flag: string, path: string): Promise<unknown> {
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(abs).href)) as Record<string, unknown>;
  } catch (err) {
    throw new CliError(`${flag} ${path}: cannot load the module: ${(err as Error)?.message ?? err}`);
  }
  return mod.default;
}

/**
 * The generator for `--generator <file>`: a `.json` task list (checked now, re-read on every schedule) or an
 * ES module whose default export returns the tasks (`raw` may be a string; it is sent as UTF-8).
 */
export async function loadGenerator(path: string): Promise<Generator> {
  const abs = checkFile(path, '--generator');
  if (abs.endsWith('.json')) {
    parseTaskList(await readFile(abs, 'utf8'), path);
    return async () => parseTaskList(await readFile(abs, 'utf8'), path);
  }
  const fn = await importDefault(abs, '--generator', path);
  if (typeof fn !== 'function') {
    throw new CliError(
      `--generator ${path}: the module must export a function as default (\`export default async () => [{ id: 'a' }]\`), got ${typeof fn}`,
    );
  }
  return async (ctx) => {
    const tasks: unknown = await fn(ctx);
    if (!Array.isArray(tasks))
      throw new Error(`generator ${path} returned ${typeof tasks}, expected an array`);
    return tasks.map((t) => (t && typeof t === 'object' ? toTask(t as Task) : (t as Task)));
  };
}

/** The run handler for `--handler <file>`: the module's default export. */
export async function loadHandler(path: string): Promise<RunHandler> {
  const abs = checkFile(path, '--handler');
  const fn = await importDefault(abs, '--handler', path);
  if (typeof fn !== 'function') {
    throw new CliError(
      `--handler ${path}: the module must export a function as default (\`export default async (task, { signal }) => {}\`), got ${typeof fn}`,
    );
  }
  return fn as RunHandler;
}
