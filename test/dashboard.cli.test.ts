/**
 * `escheduler dashboard` and the page beside /metrics, driven as child processes: usage errors are one
 * line, the dashboard serves the page and a live event stream of a real etcd, and `run --http` serves the
 * page read-only (no write endpoint answers, the stream says control is off).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { CliProcess, FIXTURES, killAll, runCli } from './fixtures/cli-process.js';
import { waitFor } from './helpers/async.js';
import { freePort, sharedEndpoints, uniqueRoot } from './helpers/etcd.js';

after(() => killAll());

/** Reads the event stream until `want` matches what arrived (bounded), then closes it. */
async function readEvents(url: string, want: RegExp, timeoutMs = 15_000): Promise<string> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  let text = '';
  try {
    const res = await fetch(url, { signal: controller.signal });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /text\/event-stream/);
    const decoder = new TextDecoder();
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      text += decoder.decode(chunk, { stream: true });
      if (want.test(text)) return text;
    }
  } catch (err) {
    if (!controller.signal.aborted) throw err;
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
  throw new Error(
    `the event stream did not show ${want} within ${timeoutMs} ms; got:\n${text.slice(0, 2000)}`,
  );
}

describe('escheduler dashboard (command)', () => {
  test('usage errors: one line, exit 2', async () => {
    const noRoot = await runCli(['dashboard', '--etcd', '127.0.0.1:1']);
    assert.equal(noRoot.code, 2);
    assert.match(noRoot.stderr, /dashboard: --root <name> is required/);
    const noEtcd = await runCli(['dashboard', '--root', 'x']);
    assert.equal(noEtcd.code, 2);
    assert.match(noEtcd.stderr, /--etcd <endpoints> .* is required/);
    const badListen = await runCli(['dashboard', '--root', 'x', '--etcd', '127.0.0.1:1', '--listen', 'nope']);
    assert.equal(badListen.code, 2);
    assert.match(badListen.stderr, /--listen: expected host:port/);
    const help = await runCli(['dashboard', '--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /--listen <host:port>.*\(default: "127\.0\.0\.1:7483"\)/s);
    assert.match(help.stdout, /--allow-control/);
  });

  test('serves the page and the live stream of a real etcd; no write endpoint', async () => {
    const root = uniqueRoot('dashboard-cli');
    const port = await freePort();
    const etcd = sharedEndpoints().join(',');
    const p = new CliProcess(['dashboard', '--etcd', etcd, '--root', root, '--listen', `127.0.0.1:${port}`]);
    try {
      await waitFor(
        'the dashboard to listen',
        () => p.stdout.includes(`http://127.0.0.1:${port}/`),
        20_000,
        50,
      );
      const page = await fetch(`http://127.0.0.1:${port}/`);
      assert.equal(page.status, 200);
      assert.match(await page.text(), /<script type="module" src="\/assets\/app.js">/);
      assert.match(page.headers.get('content-security-policy') ?? '', /script-src 'self'/);
      const js = await fetch(`http://127.0.0.1:${port}/assets/app.js`);
      assert.equal(js.status, 200);
      assert.match(js.headers.get('content-type') ?? '', /javascript/);
      const events = await readEvents(`http://127.0.0.1:${port}/api/events`, /event: snapshot/);
      assert.match(events, /"control":false/);
      assert.match(events, /"mode":"dashboard"/);
      const post = await fetch(`http://127.0.0.1:${port}/api/control`, {
        method: 'POST',
        headers: { origin: `http://127.0.0.1:${port}`, 'content-type': 'application/json' },
        body: '{"action":"pause"}',
      });
      assert.equal(post.status, 404);
    } finally {
      p.kill('SIGTERM');
      assert.equal((await p.wait(10_000)).code, 0, p.stderr);
    }
  });

  test('--allow-control: the stream says control is on and the endpoint answers same-origin requests', async () => {
    const root = uniqueRoot('dashboard-control');
    const port = await freePort();
    const etcd = sharedEndpoints().join(',');
    const p = new CliProcess([
      'dashboard',
      '--etcd',
      etcd,
      '--root',
      root,
      '--listen',
      `127.0.0.1:${port}`,
      '--allow-control',
    ]);
    try {
      await waitFor('the dashboard to listen', () => p.stdout.includes('control ON'), 20_000, 50);
      const events = await readEvents(`http://127.0.0.1:${port}/api/events`, /event: snapshot/);
      assert.match(events, /"control":true/);
      const url = `http://127.0.0.1:${port}/api/control`;
      const headers = { origin: `http://127.0.0.1:${port}`, 'content-type': 'application/json' };
      const pause = await fetch(url, { method: 'POST', headers, body: '{"action":"pause","reason":"test"}' });
      assert.equal(pause.status, 200, await pause.text());
      const cross = await fetch(url, {
        method: 'POST',
        headers: { ...headers, origin: 'http://evil.example' },
        body: '{"action":"resume"}',
      });
      assert.equal(cross.status, 403);
      const bad = await fetch(url, {
        method: 'POST',
        headers,
        body: '{"action":"cordon","worker":"nobody"}',
      });
      assert.equal(bad.status, 409, 'Admin refuses a worker that is not online');
      assert.match(((await bad.json()) as { error: string }).error, /nobody/);
      const resume = await fetch(url, { method: 'POST', headers, body: '{"action":"resume"}' });
      assert.equal(resume.status, 200);
    } finally {
      p.kill('SIGTERM');
      await p.wait(10_000);
    }
  });
});

describe('escheduler run --http: the read-only page beside /metrics', () => {
  test('page, stream (control off), and only GET answers', async () => {
    const port = await freePort();
    const p = new CliProcess([
      'run',
      '--generator',
      join(FIXTURES, 'tasks.json'),
      '--root',
      uniqueRoot('run-http'),
      '--http',
      `127.0.0.1:${port}`,
      '--log-level',
      'warn',
    ]);
    try {
      await waitFor(
        'run --http to answer',
        async () => (await fetch(`http://127.0.0.1:${port}/healthz`)).ok,
        20_000,
        100,
      );
      const page = await fetch(`http://127.0.0.1:${port}/`);
      assert.equal(page.status, 200);
      assert.match(await page.text(), /escheduler dashboard/);
      const events = await readEvents(
        `http://127.0.0.1:${port}/api/events`,
        /event: snapshot[\s\S]*worker\//,
      );
      assert.match(events, /"control":false/);
      assert.match(events, /"mode":"run"/);
      for (const method of ['POST', 'PUT', 'DELETE']) {
        const res = await fetch(`http://127.0.0.1:${port}/api/control`, {
          method,
          headers: { origin: `http://127.0.0.1:${port}`, 'content-type': 'application/json' },
          body: '{"action":"pause"}',
        });
        assert.equal(res.status, 405, `${method} /api/control`);
      }
      assert.equal((await fetch(`http://127.0.0.1:${port}/metrics`)).status, 200);
    } finally {
      p.kill('SIGTERM');
      await p.wait(15_000);
    }
  });
});
