/** `escheduler status`: the "failing tasks" section, from the workers' health documents (issue 12). */
import type { FleetHealth } from '../scheduler/health.js';

/** The failing tasks of `escheduler status` (and its `--json`). */
export interface FailingReport {
  /**
   * Tasks whose runs keep ending while assigned, from the workers' health documents, most attempts first:
   * `attempts` consecutive failed runs, `lastError`, `since` (ISO time the streak began).
   */
  failing: FleetHealth['failing'];
  /** Failing tasks the workers left out of their documents (each lists at most 50). */
  failingTruncated: number;
}

export function failingReport(health: FleetHealth): FailingReport {
  return {
    failing: health.failing,
    failingTruncated: health.workers.reduce((n, w) => n + (w.truncated || 0), 0),
  };
}

/** The "failing tasks" section: one row per task whose runs keep ending while assigned. */
export function renderFailing(s: FailingReport): string[] {
  const more = s.failingTruncated > 0 ? ` (+${s.failingTruncated} more not listed)` : '';
  if (s.failing.length === 0) return [`failing tasks: none${more}`];
  const rows = [['TASK', 'WORKER', 'ATTEMPTS', 'STATE', 'SINCE', 'LAST ERROR']];
  for (const f of s.failing) {
    rows.push([f.id, f.worker, String(f.attempts), f.state, f.since, f.lastError.replace(/\s+/g, ' ')]);
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return [
    `failing tasks: ${s.failing.length}${more}`,
    ...rows.map((r) => `  ${r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  ')}`),
  ];
}
