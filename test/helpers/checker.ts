/**
 * The invariant checker (issue 6): over recorded runs (who ran which task when), the assignment history and
 * the windows in which a process could not act (it was SIGSTOPped), it checks
 *
 * 1. **at most one owner**: runs of the same task on different workers never overlap (beyond `slack`);
 * 2. **runs follow the assignment**: a run of task T on worker W lies inside an assignment of T to W,
 *    give or take `slack` before it and the self-fencing bound (`fenceBound`) after it;
 * 3. **liveness**: once the faults stopped (`liveness.after`), every desired task runs within
 *    `liveness.within`, on exactly one worker;
 * 4. **fencing tokens** (when runs carry one): a task's owners — a worker and the token it ran with,
 *    restarts included — ordered by their first start have strictly increasing tokens, and no two owners
 *    share one.
 *
 * A frozen process does nothing, so the parts of its runs inside its frozen window (plus the reaction time
 * after it resumes, `fenceBound`) are not counted as running. The checker prints what it checked and every
 * violation with its evidence. It is a pure function of its input: the simulation and the process fault
 * suite both feed it.
 */

export interface RunInterval {
  task: string;
  worker: string;
  start: number;
  /** Undefined while the run goes on. */
  stop?: number;
  /** The run's fencing token (`RunContext.token`), when recorded. */
  token?: number;
}

export interface AssignInterval {
  task: string;
  worker: string;
  from: number;
  /** Undefined while still assigned. */
  to?: number;
}

/** A window in which `worker` could not act (paused), extended by the checker with `fenceBound`. */
export interface FrozenWindow {
  worker: string;
  from: number;
  to: number;
}

export interface CheckInput {
  runs: readonly RunInterval[];
  /** Open intervals end here (ms). */
  end: number;
  /** How long a worker may keep running a task after it lost it (revocation, self-fencing reaction), ms. */
  fenceBound: number;
  /** A frozen worker must have stopped its old runs this long after it resumed, ms. @default fenceBound */
  resumeBound?: number;
  /** Tolerated disagreement between timestamps of different observers, ms. @default 0 */
  slack?: number;
  /**
   * How much later than a worker the assignment observer may see an assignment, ms: a worker starts a run
   * as soon as its own watch delivers the put, while the observer (another process, its own watch) records
   * the assignment when its event arrives, which under load can be tens of ms later. Only the start of an
   * assignment gets this; its end stays strict (`fenceBound`). @default slack
   */
  assignLag?: number;
  assignments?: readonly AssignInterval[];
  frozen?: readonly FrozenWindow[];
  /**
   * Windows in which a worker's overlap with another owner is tolerated as is (not extended): a lease
   * revoked behind the worker's back frees its claims at once, so its runs' clean-up may overlap.
   */
  exempt?: readonly FrozenWindow[];
  liveness?: {
    /** Time the last fault was healed. */
    after: number;
    /** Every desired task must run from `after + within` on. */
    within: number;
    desired: readonly string[];
    /** Check at this time (default `after + within`); must be ≤ `end`. */
    at?: number;
  };
}

export interface Violation {
  kind: 'two-owners' | 'unassigned-run' | 'liveness' | 'token-order' | 'shared-token';
  task: string;
  message: string;
}

export interface CheckReport {
  /** Pairs of runs of the same task on different workers whose intervals had to be compared closely. */
  pairsCompared: number;
  /** Handoffs seen: a task's next run on another worker than its previous run. */
  handoffs: number;
  /** Runs checked against the assignment history. */
  runsChecked: number;
  /** Desired tasks checked for liveness. */
  tasksChecked: number;
  /** For liveness: per task, ms from `after` until its current run started (0 if it kept running). */
  recoveryMs: number[];
  /** Owner changes (a new worker or a new token) whose tokens were compared. */
  tokenSteps: number;
  violations: Violation[];
}

type Span = [number, number];

/** Length of `span` not covered by `cover` (a list of spans, any order). */
function uncovered(span: Span, cover: readonly Span[]): { length: number; first?: Span } {
  let pieces: Span[] = [span];
  for (const [a, b] of cover) {
    const next: Span[] = [];
    for (const [s, e] of pieces) {
      if (b <= s || a >= e) next.push([s, e]);
      else {
        if (a > s) next.push([s, a]);
        if (b < e) next.push([b, e]);
      }
    }
    pieces = next;
  }
  let length = 0;
  for (const [s, e] of pieces) length += e - s;
  return { length, first: pieces[0] };
}

const iso = (t: number) => new Date(t).toISOString().slice(11, 23);

export function checkInvariants(input: CheckInput): CheckReport {
  const slack = input.slack ?? 0;
  const assignLag = input.assignLag ?? slack;
  const report: CheckReport = {
    pairsCompared: 0,
    handoffs: 0,
    runsChecked: 0,
    tasksChecked: 0,
    recoveryMs: [],
    tokenSteps: 0,
    violations: [],
  };
  // A frozen worker's runs that were going on when it froze are exempt while it is frozen and for
  // `resumeBound` after it resumes (it must notice it was fenced). Runs it starts later are not.
  const resumeBound = input.resumeBound ?? input.fenceBound;
  const windows = new Map<string, { span: Span; raw: FrozenWindow; exact: boolean }[]>();
  for (const f of input.frozen ?? []) {
    const list = windows.get(f.worker) ?? [];
    list.push({ span: [f.from, f.to + resumeBound], raw: f, exact: false });
    windows.set(f.worker, list);
  }
  for (const f of input.exempt ?? []) {
    const list = windows.get(f.worker) ?? [];
    list.push({ span: [f.from, f.to], raw: f, exact: true });
    windows.set(f.worker, list);
  }
  const coverFor = (r: RunInterval): Span[] =>
    (windows.get(r.worker) ?? []).filter((w) => w.exact || r.start <= w.raw.to).map((w) => w.span);
  const byTask = new Map<string, RunInterval[]>();
  for (const r of input.runs) {
    const list = byTask.get(r.task) ?? [];
    list.push(r);
    byTask.set(r.task, list);
  }
  const stopOf = (r: RunInterval) => r.stop ?? input.end;

  // 1. at most one owner
  for (const [task, runs] of byTask) {
    const sorted = [...runs].sort((a, b) => a.start - b.start);
    for (let i = 1; i < sorted.length; i++) if (sorted[i].worker !== sorted[i - 1].worker) report.handoffs++;
    for (let i = 0; i < sorted.length; i++) {
      for (let j = i + 1; j < sorted.length; j++) {
        const a = sorted[i];
        const b = sorted[j];
        if (b.start >= stopOf(a)) break; // sorted by start: no later run can overlap `a` either
        if (a.worker === b.worker) continue;
        report.pairsCompared++;
        const span: Span = [Math.max(a.start, b.start), Math.min(stopOf(a), stopOf(b))];
        if (span[1] - span[0] <= slack) continue;
        const cover = [...coverFor(a), ...coverFor(b)];
        const left = uncovered(span, cover);
        if (left.length > slack) {
          report.violations.push({
            kind: 'two-owners',
            task,
            message:
              `task ${task} ran on ${a.worker} [${iso(a.start)}, ${a.stop ? iso(a.stop) : 'running'}] and on ` +
              `${b.worker} [${iso(b.start)}, ${b.stop ? iso(b.stop) : 'running'}] at once for ${left.length} ms ` +
              `(first from ${iso(left.first![0])} to ${iso(left.first![1])})`,
          });
        }
      }
    }
  }

  // 2. runs follow the assignment
  if (input.assignments) {
    const assigned = new Map<string, Span[]>();
    for (const a of input.assignments) {
      const k = `${a.worker}\0${a.task}`;
      const list = assigned.get(k) ?? [];
      list.push([a.from - assignLag, (a.to ?? Number.POSITIVE_INFINITY) + input.fenceBound]);
      assigned.set(k, list);
    }
    for (const r of input.runs) {
      report.runsChecked++;
      const cover = [...(assigned.get(`${r.worker}\0${r.task}`) ?? []), ...coverFor(r)];
      const left = uncovered([r.start, stopOf(r)], cover);
      if (left.length > 0) {
        report.violations.push({
          kind: 'unassigned-run',
          task: r.task,
          message:
            `task ${r.task} ran on ${r.worker} [${iso(r.start)}, ${r.stop ? iso(r.stop) : 'running'}] for ` +
            `${left.length} ms while not assigned to it (beyond the ${input.fenceBound} ms fencing bound; ` +
            `first from ${iso(left.first![0])} to ${iso(left.first![1])})`,
        });
      }
    }
  }

  // 3. liveness
  if (input.liveness) {
    const { after, within, desired } = input.liveness;
    const at = input.liveness.at ?? after + within;
    for (const task of desired) {
      report.tasksChecked++;
      const running = (byTask.get(task) ?? []).filter(
        (r) => r.start <= at && (r.stop === undefined || r.stop > at),
      );
      const workers = new Set(running.map((r) => r.worker));
      if (workers.size !== 1) {
        const last = (byTask.get(task) ?? []).at(-1);
        report.violations.push({
          kind: 'liveness',
          task,
          message:
            `task ${task} runs on ${workers.size} workers ${JSON.stringify([...workers])} at ${iso(at)}, ` +
            `${at - after} ms after the faults stopped (expected exactly one within ${within} ms); last run: ` +
            (last
              ? `${last.worker} [${iso(last.start)}, ${last.stop ? iso(last.stop) : 'running'}]`
              : 'none'),
        });
        continue;
      }
      report.recoveryMs.push(Math.max(0, Math.min(...running.map((r) => r.start)) - after));
    }
  }

  // 4. fencing tokens
  for (const [task, runs] of byTask) {
    if (runs.some((r) => r.token === undefined)) continue;
    const owners = new Map<string, { worker: string; token: number; start: number }>();
    for (const r of runs) {
      const key = `${r.worker}\0${r.token}`;
      const o = owners.get(key);
      if (!o || r.start < o.start) owners.set(key, { worker: r.worker, token: r.token!, start: r.start });
    }
    const sorted = [...owners.values()].sort((a, b) => a.start - b.start || a.token - b.token);
    const byToken = new Map<number, string>();
    for (const o of sorted) {
      const other = byToken.get(o.token);
      if (other !== undefined && other !== o.worker) {
        report.violations.push({
          kind: 'shared-token',
          task,
          message: `task ${task}: ${other} and ${o.worker} both ran with token ${o.token}`,
        });
      }
      byToken.set(o.token, o.worker);
    }
    for (let i = 1; i < sorted.length; i++) {
      const [a, b] = [sorted[i - 1], sorted[i]];
      report.tokenSteps++;
      if (b.token <= a.token) {
        report.violations.push({
          kind: 'token-order',
          task,
          message:
            `task ${task}: ${b.worker} started at ${iso(b.start)} with token ${b.token}, not above the token ` +
            `${a.token} of ${a.worker}, which started before it (${iso(a.start)})`,
        });
      }
    }
  }
  return report;
}

/** Human-readable summary: what was checked, then every violation. */
export function formatReport(report: CheckReport, title = 'invariant check'): string {
  const lines = [
    `${title}: ${report.handoffs} handoffs and ${report.pairsCompared} overlapping run pairs checked, ${report.runsChecked} runs checked against the assignment, ${report.tasksChecked} tasks checked for liveness` +
      (report.recoveryMs.length > 0 ? ` (max recovery ${Math.max(...report.recoveryMs)} ms)` : '') +
      (report.tokenSteps > 0 ? `, ${report.tokenSteps} token steps` : '') +
      `: ${report.violations.length} violation(s)`,
  ];
  for (const v of report.violations) lines.push(`  VIOLATION [${v.kind}] ${v.message}`);
  return lines.join('\n');
}

/** One write attempt as a fenced resource received it (examples/fenced-ledger: `ledger.log`). */
export interface LedgerWrite {
  at: number;
  task: string;
  token: number;
  worker: string;
  accepted: boolean;
}

export interface LedgerReport {
  writes: number;
  accepted: number;
  /** Writes with a token below one the resource had already received for the task: refused. Good. */
  refusedStale: number;
  /** Such writes that were accepted: an older owner overwrote a newer one's work. Must be 0. */
  acceptedStale: number;
  /** Refused writes whose token was not below any seen: the resource refused a current owner. Must be 0. */
  refusedCurrent: number;
  /** The stale writes: `worker task token<highest at time`. */
  stale: { worker: string; task: string; token: number; highest: number; at: number; accepted: boolean }[];
}

/**
 * Fencing at a resource: over the write attempts in the order the resource received them, a write is
 * stale when its token is below the highest token any earlier attempt for the same task carried (an owner
 * newer than the writer had already written). Counts the stale writes refused and accepted.
 */
export function checkLedger(writes: readonly LedgerWrite[]): LedgerReport {
  const highest = new Map<string, number>();
  const report: LedgerReport = {
    writes: writes.length,
    accepted: 0,
    refusedStale: 0,
    acceptedStale: 0,
    refusedCurrent: 0,
    stale: [],
  };
  for (const w of writes) {
    const h = highest.get(w.task) ?? 0;
    const stale = w.token < h;
    if (w.accepted) report.accepted++;
    if (stale) {
      if (w.accepted) report.acceptedStale++;
      else report.refusedStale++;
      report.stale.push({
        worker: w.worker,
        task: w.task,
        token: w.token,
        highest: h,
        at: w.at,
        accepted: w.accepted,
      });
    } else if (!w.accepted) report.refusedCurrent++;
    highest.set(w.task, Math.max(h, w.token));
  }
  return report;
}
