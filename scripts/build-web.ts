/**
 * Builds the dashboard page into dist/web/ (index.html, app.js, app.css): esbuild bundles web/app.ts
 * with the pure modules it shares with the server (src/cli/dashboard/{fleet,records,protocol}.ts) into one
 * minified ES module; no CDN, no runtime dependency. Part of `npm run build`; `npm test` runs it too.
 *
 * Usage: node --import tsx scripts/build-web.ts [--quiet] [outdir]
 */
import { copyFileSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const repo = fileURLToPath(new URL('..', import.meta.url));

export async function buildWeb(
  outdir = join(repo, 'dist', 'web'),
): Promise<{ outdir: string; bytes: number }> {
  mkdirSync(outdir, { recursive: true });
  const result = await build({
    entryPoints: [join(repo, 'web', 'app.ts')],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['es2022'],
    minify: true,
    legalComments: 'none',
    outfile: join(outdir, 'app.js'),
    metafile: true,
    logLevel: 'warning',
  });
  copyFileSync(join(repo, 'web', 'index.html'), join(outdir, 'index.html'));
  copyFileSync(join(repo, 'web', 'style.css'), join(outdir, 'app.css'));
  const bytes = Object.values(result.metafile.outputs).reduce((s, o) => s + o.bytes, 0);
  return { outdir, bytes };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  buildWeb(args.find((a) => !a.startsWith('--'))).then(
    ({ outdir, bytes }) => {
      if (!args.includes('--quiet')) console.log(`dashboard page: ${outdir} (app.js ${bytes} bytes)`);
    },
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
