/**
 * `npm run test:interop`: mixed fleets with the real Go original (github.com/stonever/escheduler v0.1.59).
 *
 * 1. Builds the Go programs of test/interop/driver once into node_modules/.cache/escheduler-interop/
 *    (rebuilt only when their sources or the Go version change): `encode` (standard library only) and
 *    `driver` (the original's Master and Worker). Needs Go >= 1.21 and the Go module proxy.
 * 2. Test vectors: encodes the corpus of test/interop/corpus.ts with Go and compares with the committed
 *    test/interop/vectors.json; on a difference it rewrites the file (see `git diff`) and fails. Where the
 *    driver builds, its encoding through the original's own Task type must equal the stand-alone one.
 * 3. Starts its own etcd and runs the mixed-fleet scenarios (test/interop/*.interop.ts) with node --test.
 *
 * Usage: npm run test:interop [-- --vectors-only | --go-as-ts] [-- name-filter ...]
 *   --vectors-only  only step 2, with the stand-alone encoder (no need for the original)
 *   --go-as-ts      a check of the harness where the original cannot be had: TypeScript processes stand in
 *                   for the Go ones, so the scenarios prove nothing about Go
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type EtcdCluster, etcdBinary, startEtcd } from '../test/helpers/etcd.js';
import {
  type CorpusEntry,
  corpus,
  VECTORS_COMMENT,
  type Vector,
  type VectorFile,
} from '../test/interop/corpus.js';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const DRIVER_SRC = join(REPO, 'test/interop/driver');
const CACHE = join(REPO, 'node_modules/.cache/escheduler-interop');
const VECTORS = join(REPO, 'test/interop/vectors.json');

/**
 * The Go environment of every build: GOFLAGS=-mod=mod lets go complete go.sum from the proxy when this
 * Go needs lines the committed file lacks; GOTOOLCHAIN=local builds with the installed Go (the machines
 * reach the module proxy, not toolchain downloads). GOPROXY and GOSUMDB stay as the machine sets them:
 * the default checksum database is reached through the proxy's /sumdb/ endpoint, so verification works
 * on a machine that reaches the proxy alone.
 */
const GO_ENV = { ...process.env, GOFLAGS: '-mod=mod', GOTOOLCHAIN: 'local' };

function fail(message: string): never {
  console.error(`\ninterop: ${message}`);
  process.exit(1);
}

function goVersion(): string {
  try {
    return execFileSync('go', ['version'], { encoding: 'utf8', env: GO_ENV }).trim();
  } catch {
    return fail(
      'Go is not installed (go >= 1.21 is needed for the interop suite; `npm test` does not need it)',
    );
  }
}

/** Hash of what a binary depends on: the Go version and every source file of the driver module. */
function sourceHash(version: string): string {
  const h = createHash('sha256').update(version);
  const files = (readdirSync(DRIVER_SRC, { recursive: true }) as string[])
    .filter((f) => /\.go$|^go\.(mod|sum)$/.test(f))
    .sort();
  for (const f of files) h.update(f).update(readFileSync(join(DRIVER_SRC, f)));
  return h.digest('hex').slice(0, 16);
}

/** Builds `pkg` of the driver module into the cache (once per source hash); returns the binary or the error. */
function build(name: string, pkg: string, hash: string): { bin?: string; error?: string } {
  const bin = join(CACHE, `${name}-${hash}`);
  if (existsSync(bin)) return { bin };
  mkdirSync(CACHE, { recursive: true });
  console.log(`# building ${name} (${pkg}) ...`);
  const r = spawnSync('go', ['build', '-o', bin, pkg], { cwd: DRIVER_SRC, env: GO_ENV, encoding: 'utf8' });
  if (r.status !== 0) return { error: `${r.stderr}${r.stdout}`.trim() };
  return { bin };
}

function encodeWith(bin: string, args: string[], entries: CorpusEntry[]): Map<string, string> {
  const out = execFileSync(bin, args, { input: JSON.stringify(entries), encoding: 'utf8', env: GO_ENV });
  const m = new Map<string, string>();
  for (const line of out.split('\n').filter(Boolean)) {
    const { name, go } = JSON.parse(line) as { name: string; go: string };
    m.set(name, go);
  }
  return m;
}

/** Step 2: regenerates the vectors; false (and the file rewritten) when they differ from the committed file. */
function checkVectors(encoder: string, driver: string | undefined): boolean {
  const entries = corpus();
  const names = new Set(entries.map((e) => e.name));
  if (names.size !== entries.length) fail('corpus names are not unique');
  const go = encodeWith(encoder, [], entries);
  if (driver) {
    const viaOriginal = encodeWith(driver, ['-mode', 'encode'], entries);
    for (const e of entries) {
      if (viaOriginal.get(e.name) !== go.get(e.name)) {
        fail(
          `the original's Task encodes ${JSON.stringify(e.name)} as ${viaOriginal.get(e.name)}, the mirror struct of test/interop/driver/encode as ${go.get(e.name)}: fix the mirror`,
        );
      }
    }
    console.log(
      `# vectors: the original's escheduler.Task and the mirror struct agree on ${entries.length} tasks`,
    );
  }
  const vectors: Vector[] = entries.map((e) => {
    const bytes = go.get(e.name);
    if (bytes === undefined) fail(`the encoder printed nothing for ${JSON.stringify(e.name)}`);
    return { name: e.name, id: e.id, p: e.p, key: e.key, group: e.group, raw: e.raw, go: bytes };
  });
  const file: VectorFile = { comment: VECTORS_COMMENT, vectors };
  const text = `${JSON.stringify(file, null, 2)}\n`;
  const old = existsSync(VECTORS) ? readFileSync(VECTORS, 'utf8') : '';
  if (old === text) {
    console.log(`# vectors: test/interop/vectors.json matches Go (${vectors.length} tasks)`);
    return true;
  }
  writeFileSync(VECTORS, text);
  console.error(
    '# vectors: test/interop/vectors.json differed from what Go prints now; rewritten (see git diff test/interop/vectors.json)',
  );
  return false;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const vectorsOnly = args.includes('--vectors-only');
  const goAsTs = args.includes('--go-as-ts');
  const filters = args.filter((a) => !a.startsWith('--'));
  const version = goVersion();
  console.log(`# ${version}`);
  const hash = sourceHash(version);
  const encoder = build('encode', './encode', hash);
  if (!encoder.bin) fail(`building the stand-alone encoder failed:\n${encoder.error}`);
  const driver = vectorsOnly || goAsTs ? {} : build('driver', '.', hash);
  const vectorsOk = checkVectors(encoder.bin, driver.bin);
  if (vectorsOnly) process.exit(vectorsOk ? 0 : 1);
  if (!driver.bin && !goAsTs) {
    fail(
      `building the Go driver (the original escheduler v0.1.59) failed — the mixed-fleet scenarios cannot run:\n${driver.error}\n` +
        'It needs the module github.com/stonever/escheduler@v0.1.59 and its dependencies from the Go module proxy.',
    );
  }

  const files = readdirSync(join(REPO, 'test/interop'))
    .filter((f) => f.endsWith('.interop.ts'))
    .map((f) => join('test/interop', f))
    .sort();
  etcdBinary();
  let etcd: EtcdCluster | undefined;
  if (!process.env.ETCD_ENDPOINTS) {
    etcd = await startEtcd();
    process.env.ETCD_ENDPOINTS = etcd.endpoints.join(',');
    console.log(`# etcd for this run: ${process.env.ETCD_ENDPOINTS} (pid ${etcd.members[0].pid})`);
  }
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      '--test',
      '--test-concurrency=1',
      '--test-timeout=600000',
      ...(filters.length > 0 ? ['--test-name-pattern', filters.join('|')] : []),
      ...files,
    ],
    {
      stdio: 'inherit',
      env: driver.bin
        ? { ...process.env, INTEROP_DRIVER: resolve(driver.bin) }
        : { ...process.env, INTEROP_GO_AS: 'ts' },
      cwd: REPO,
    },
  );
  const stop = (sig: NodeJS.Signals) => child.kill(sig);
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  const code = await new Promise<number>((res) => child.on('exit', (c, s) => res(c ?? (s ? 1 : 0))));
  await etcd?.destroy();
  if (!vectorsOk) fail('the Go encodings differ from the committed test/interop/vectors.json');
  process.exit(code);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
