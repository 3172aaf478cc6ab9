/**
 * `npm run screenshot`: a PNG of the dashboard on the demo fleet (memory store, no etcd needed), taken by
 * headless Chromium after the story's join was scheduled. Builds the page first.
 *
 * Usage: npm run screenshot [-- out.png]     (default docs/dashboard.png)
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromiumBinary, launchBrowser } from '../test/helpers/browser.js';
import { freePort } from '../test/helpers/etcd.js';
import { buildWeb } from './build-web.js';

const repo = fileURLToPath(new URL('..', import.meta.url));
const out = process.argv[2] ?? join(repo, 'docs', 'dashboard.png');

async function main(): Promise<void> {
  chromiumBinary();
  await buildWeb();
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      join(repo, 'src/cli/main.ts'),
      'demo',
      '--plain',
      '--workers',
      '4',
      '--tasks',
      '36',
      '--duration',
      '30s',
      '--http',
      `127.0.0.1:${port}`,
    ],
    { cwd: repo, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let output = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (d: string) => {
    output += d;
  });
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  try {
    const deadline = Date.now() + 90_000;
    const until = async (what: string, re: RegExp) => {
      while (!re.test(output)) {
        if (Date.now() > deadline || child.exitCode !== null)
          throw new Error(`the demo did not get to ${what}:\n${output}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    await until('serving its page', /dashboard of the demo fleet/);
    const browser = await launchBrowser();
    try {
      // The page is open (and live) before the story's join, so the picture is taken right after it.
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 }, deviceScaleFactor: 1 });
      await page.goto(`http://127.0.0.1:${port}/`);
      await page.waitForSelector('#conn.live');
      await page.fill('#search', 'spot-');
      await until('its join', /all \d+ tasks running .* after rebalance #2/);
      await page.waitForSelector('tr[data-worker="w5"]');
      await page.click('tr[data-worker="w5"] button');
      await page.waitForSelector('tr.detail');
      await page.screenshot({ path: out, fullPage: true });
    } finally {
      await browser.close();
    }
    console.log(`screenshot: ${out}`);
  } finally {
    if (child.exitCode === null) child.kill('SIGINT');
    await exited;
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
