import { CliError } from './common.js';

const UNITS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };

/**
 * Parses a duration such as `500ms`, `10s`, `2m`, `1h`, `1.5s` or `1m30s` into milliseconds. A bare `0`
 * is accepted; any other number needs a unit. Throws a {@link CliError} naming the flag.
 */
export function parseDuration(value: string, flag: string): number {
  const s = value.trim();
  if (s === '0') return 0;
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/y;
  let total = 0;
  let pos = 0;
  while (pos < s.length) {
    re.lastIndex = pos;
    const m = re.exec(s);
    if (!m) break;
    total += Number(m[1]) * UNITS[m[2]];
    pos = re.lastIndex;
  }
  if (s.length === 0 || pos !== s.length || !Number.isFinite(total)) {
    throw new CliError(
      `${flag}: expected a duration like 500ms, 10s, 2m or 1m30s, got ${JSON.stringify(value)}`,
    );
  }
  return Math.round(total);
}

/** Parses a whole number ≥ `min` for a flag. */
export function parseInteger(value: string, flag: string, min: number): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min) {
    throw new CliError(`${flag}: expected a whole number from ${min} up, got ${JSON.stringify(value)}`);
  }
  return n;
}

/** `1234` → `1.2s`, `450` → `450ms`: for people. */
export function formatDuration(ms: number): string {
  if (ms < 1_000) return `${Math.round(ms)}ms`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1_000 === 0 && ms < 60_000) return `${ms / 1_000}s`;
  if (ms < 60_000) return `${(ms / 1_000).toFixed(ms < 10_000 ? 1 : 0)}s`;
  return `${Math.floor(ms / 60_000)}m${Math.round((ms % 60_000) / 1_000)}s`;
}
