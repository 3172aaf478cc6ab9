/**
 * The demo's output: time-stamped lines, printed as they come (plain) or kept for a screen redrawn in place
 * (live, on a terminal); and the table of an assignment, a row per worker and a column per group.
 */
import { type Assignment, GROUPS } from './demo-story.js';

export class Screen {
  /** When the demo began (epoch ms). */
  readonly t0 = Date.now();
  private readonly lines: string[] = [];

  constructor(readonly live: boolean) {}

  /** Seconds since {@link t0}, padded: ` 12.3s`. */
  get elapsed(): string {
    return `${((Date.now() - this.t0) / 1000).toFixed(1).padStart(5)}s`;
  }

  /** A time-stamped line: printed now (plain) or kept for the next {@link draw} (live). */
  say(line: string): void {
    const stamped = `[${this.elapsed}] ${line}`;
    if (this.live) {
      this.lines.push(stamped);
      if (this.lines.length > 200) this.lines.shift();
    } else {
      process.stdout.write(`${stamped}\n`);
    }
  }

  /** Clears the terminal and writes `body`, the last 10 lines said and, unless `final`, how to stop. */
  draw(body: string[], final: boolean): void {
    const out = [...body, '', ...this.lines.slice(-10)];
    if (!final) out.push('', 'Ctrl-C to stop');
    process.stdout.write(`\x1b[H\x1b[2J${out.join('\n')}\n`);
  }
}

/** A worker's status and running-task count, for the two extra columns of the live table. */
export type StatusCells = (worker: string) => [status: string, running: string];

/**
 * `assignment` as aligned text rows, a header first: per worker (in the order of `names`) its task ids per
 * group (counts when `compact`) and its total; with `status`, two columns more after the name.
 */
export function assignmentTable(
  assignment: Assignment,
  names: string[],
  compact: boolean,
  status?: StatusCells,
): string[] {
  const groups = [...GROUPS];
  const head = ['worker', ...(status ? ['status', 'running'] : []), ...groups, 'total'];
  const rows: string[][] = [head];
  for (const name of names) {
    const byGroup = assignment.get(name);
    const cells = groups.map((g) => {
      const ids = (byGroup?.get(g) ?? []).map((id) => id.slice(g.length + 1)).sort();
      return compact ? String(ids.length) : ids.join(' ') || '-';
    });
    const total = [...(byGroup?.values() ?? [])].reduce((s, l) => s + l.length, 0);
    rows.push([name, ...(status ? status(name) : []), ...cells, String(total)]);
  }
  const widths = head.map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) =>
    r
      .map((c, i) => c.padEnd(widths[i]))
      .join('  ')
      .trimEnd(),
  );
}
