/**
 * The operators' commands (issue 13): `cordon`, `uncordon`, `drain [--wait]`, `pin`, `unpin`, `pause`,
 * `resume` and `plan`, each a thin shell over `Admin` with the usual connection flags. Errors the user can
 * fix (a worker that is not online, an unknown task, a malformed name) exit 2 with one line.
 */
import { ControlError, EschedulerError, OptionError } from '../errors.js';
import { Admin, type PlanReport } from '../scheduler/control/admin.js';
import { keys, rootPath } from '../scheduler/keys.js';
import { CliError, type ConnectionFlags, etcdEndpoints, openStore } from './common.js';
import { loadGenerator } from './load.js';

export interface ControlFlags extends ConnectionFlags {
  root?: string;
  reason?: string;
  force?: boolean;
  wait?: boolean;
  waitTimeout?: number;
  every?: number;
  generator?: string;
  json?: boolean;
  maxMoves?: number;
}

export type ControlAction =
  | { kind: 'cordon' | 'drain' | 'uncordon'; worker: string }
  | { kind: 'pin'; task: string; worker: string }
  | { kind: 'unpin'; task: string }
  | { kind: 'pause' | 'resume' | 'plan' };

const out = (line: string) => process.stdout.write(`${line}\n`);

/** Runs one control command; returns the exit code. */
export async function controlCommand(action: ControlAction, flags: ControlFlags): Promise<number> {
  const cmd = action.kind;
  if (!flags.root) throw new CliError(`${cmd}: --root <name> is required`);
  try {
    rootPath(flags.root);
  } catch (err) {
    throw new CliError((err as Error).message);
  }
  if (!etcdEndpoints(flags)) {
    throw new CliError(`${cmd}: --etcd <endpoints> (or ESCHEDULER_ETCD) is required`);
  }
  const { store } = await openStore(flags, keys(flags.root).masterStatus);
  const admin = new Admin({ store, rootName: flags.root });
  try {
    return await act(admin, action, flags);
  } catch (err) {
    if (err instanceof ControlError || err instanceof OptionError) {
      throw new CliError(`${cmd}: ${err.message.replace(/\bforce\b/, '--force')}`);
    }
    if (err instanceof EschedulerError) throw new CliError(`${cmd}: ${err.message}`, 1);
    throw err;
  } finally {
    await store.close().catch(() => undefined);
  }
}

async function act(admin: Admin, action: ControlAction, flags: ControlFlags): Promise<number> {
  const because = flags.reason ? ` (reason: ${flags.reason})` : '';
  const options = { reason: flags.reason, force: flags.force };
  switch (action.kind) {
    case 'cordon':
      await admin.cordon(action.worker, options);
      out(`cordoned ${action.worker}${because}: nothing new is placed on it; what it runs stays`);
      return 0;
    case 'drain':
      await admin.drain(action.worker, options);
      out(`draining ${action.worker}${because}: its tasks move to the other workers`);
      return flags.wait ? waitDrained(admin, action.worker, flags) : 0;
    case 'uncordon':
      out(
        (await admin.uncordon(action.worker))
          ? `uncordoned ${action.worker}: back in the pool`
          : `${action.worker} was neither cordoned nor draining`,
      );
      return 0;
    case 'pin':
      await admin.pin(action.task, action.worker, options);
      out(`pinned ${action.task} to ${action.worker}${because}`);
      return 0;
    case 'unpin':
      out((await admin.unpin(action.task)) ? `unpinned ${action.task}` : `${action.task} was not pinned`);
      return 0;
    case 'pause':
      await admin.pause(options);
      out(`paused${because}: no task moves between live workers until resume`);
      return 0;
    case 'resume':
      out((await admin.resume()) ? 'resumed: the next schedule rebalances' : 'the fleet was not paused');
      return 0;
    case 'plan': {
      const tasks = flags.generator
        ? await (await loadGenerator(flags.generator))({ signal: AbortSignal.timeout(30_000) })
        : undefined;
      const report = await admin.plan({ tasks, maxMoves: flags.maxMoves });
      out(flags.json ? JSON.stringify(report) : renderPlan(report));
      return 0;
    }
  }
}

/** Polls until `worker` holds no assignment and no claim, printing each change; exit 1 after the deadline. */
async function waitDrained(admin: Admin, worker: string, flags: ControlFlags): Promise<number> {
  const deadline = Date.now() + (flags.waitTimeout ?? 600_000);
  let last = '';
  for (;;) {
    const h = await admin.holding(worker);
    const line = `${worker}: ${h.assigned.length} assigned, ${h.claimed.length} claimed`;
    if (line !== last) out(line);
    last = line;
    if (h.assigned.length === 0 && h.claimed.length === 0) {
      out(`drained ${worker}: it holds nothing (still registered; uncordon returns it to the pool)`);
      return 0;
    }
    if (Date.now() > deadline) {
      process.stderr.write(`escheduler: drain ${worker}: still holding tasks after --wait-timeout\n`);
      return 1;
    }
    await new Promise((r) => setTimeout(r, flags.every ?? 500));
  }
}

/** The dry run as text for people. */
export function renderPlan(p: PlanReport): string {
  const lines: string[] = [];
  const budget = p.maxMoves === null ? '' : ` (budget ${p.maxMoves}, ${p.deferred} deferred)`;
  lines.push(
    `plan at revision ${p.revision}: ${p.tasks} tasks · moves ${p.moves}${budget}${p.paused ? ' · PAUSED' : ''}`,
  );
  const b = p.balance;
  lines.push(
    `balance (max−min over workers taking tasks): before ${b.before.spread} (${b.before.min}..${b.before.max}) · after ${b.after.spread} (${b.after.min}..${b.after.max})`,
  );
  lines.push('');
  const rows = [['WORKER', 'STATE', 'BEFORE', 'AFTER', '+', '-']];
  for (const w of p.workers) {
    rows.push([
      w.worker,
      w.state || '-',
      String(w.before),
      String(w.after),
      String(w.assign.length),
      String(w.revoke.length),
    ]);
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  for (const r of rows)
    lines.push(
      r
        .map((c, i) => c.padEnd(widths[i]))
        .join('  ')
        .trimEnd(),
    );
  if (p.moveList.length > 0) {
    lines.push('');
    lines.push(`moves: ${p.moveList.map((m) => `${m.id} ${m.from}→${m.to}`).join(', ')}`);
  }
  if (p.revokeOffline.length > 0) {
    lines.push(
      `revoked from offline workers: ${p.revokeOffline.map((r) => `${r.id} (${r.worker})`).join(', ')}`,
    );
  }
  if (p.unplaced.length > 0) lines.push(`not placed: ${p.unplaced.join(', ')}`);
  for (const problem of p.problems) lines.push(`problem: ${problem}`);
  return lines.join('\n');
}
