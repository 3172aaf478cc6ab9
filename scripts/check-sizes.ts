/**
 * `npm run lint` part: no source file in src/ over MAX_LINES lines (docs/ARCHITECTURE.md: when a file grows
 * a second job, pull the job out). Prints the offenders and exits 1.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const MAX_LINES = 400;
const files = (readdirSync('src', { recursive: true }) as string[])
  .filter((f) => f.endsWith('.ts'))
  .map((f) => join('src', f));
const over = files
  .map((f) => ({ f, lines: readFileSync(f, 'utf8').split('\n').length - 1 }))
  .filter((x) => x.lines > MAX_LINES);
for (const { f, lines } of over) console.error(`${f}: ${lines} lines (at most ${MAX_LINES})`);
if (over.length > 0) process.exit(1);
console.log(`sizes: ${files.length} files in src/, none over ${MAX_LINES} lines`);
