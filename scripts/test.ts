/**
 * `npm test`: makes sure etcd and Chromium are installed (installs the Debian packages `etcd-server` and
 * `chromium` when running as root with apt-get, fails with a message naming them otherwise), builds the
 * dashboard page (dist/web, for the browser tests), starts one etcd member for the whole run
 * on free loopback ports (unless ETCD_ENDPOINTS names one), runs every `test/**\/*.test.ts` with Node's
 * test runner, and stops etcd by pid whatever happens.
 *
 * Usage: npm test [-- file-or-substring ...]
 */
import { execFileSync, spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromiumBinary } from '../test/helpers/browser.js';
import { type EtcdCluster, etcdBinary, startEtcd } from '../test/helpers/etcd.js';
import { buildWeb } from './build-web.js';

/** Runs `find`; when it throws (not installed), installs the Debian `pkg` as root with apt-get, or exits. */
function ensureInstalled(find: () => unknown, pkg: string): void {
  try {
    find();
    return;
  } catch (err) {
    const isRoot = process.getuid?.() === 0;
    let hasApt = false;
    try {
      execFileSync('sh', ['-c', 'command -v apt-get'], { stdio: 'ignore' });
      hasApt = true;
    } catch {
      hasApt = false;
    }
    if (!isRoot || !hasApt) {
      console.error(
        `${(err as Error).message}\n(npm test installs it by itself only when run as root with apt-get)`,
      );
      process.exit(2);
    }
    console.error(`${pkg} not found: installing the Debian package ${pkg} ...`);
    execFileSync(
      'sh',
      ['-c', `apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ${pkg}`],
      { stdio: 'inherit' },
    );
    find();
  }
}

function testFiles(filters: string[]): string[] {
  const files = (readdirSync('test', { recursive: true }) as string[])
    .filter((f) => f.endsWith('.test.ts'))
    .map((f) => join('test', f))
    .sort();
  if (filters.length === 0) return files;
  return files.filter((f) => filters.some((x) => f.includes(x)));
}

async function main(): Promise<void> {
  const filters = process.argv.slice(2).filter((a) => !a.startsWith('--'));
  const files = testFiles(filters);
  if (files.length === 0) {
    console.error(`no test files match ${filters.join(' ')}`);
    process.exit(2);
  }
  ensureInstalled(etcdBinary, 'etcd-server');
  if (files.some((f) => f.includes('dashboard'))) {
    ensureInstalled(chromiumBinary, 'chromium');
    await buildWeb();
  }
  let etcd: EtcdCluster | undefined;
  if (!process.env.ETCD_ENDPOINTS) {
    etcd = await startEtcd();
    process.env.ETCD_ENDPOINTS = etcd.endpoints.join(',');
    console.log(`# etcd for this run: ${process.env.ETCD_ENDPOINTS} (pid ${etcd.members[0].pid})`);
  }
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', '--test', '--test-concurrency=2', '--test-timeout=300000', ...files],
    { stdio: 'inherit', env: process.env },
  );
  const stop = (sig: NodeJS.Signals) => child.kill(sig);
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  const code = await new Promise<number>((resolve) => child.on('exit', (c, s) => resolve(c ?? (s ? 1 : 0))));
  await etcd?.destroy();
  process.exit(code);
}

main().catch(async (err) => {
  console.error(err);
  process.exit(1);
});
