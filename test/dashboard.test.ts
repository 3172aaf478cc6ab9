/**
 * The dashboard in a real browser: Debian's Chromium (playwright-core) on the page served by a
 * DashboardServer watching a fleet of real masters and workers on the shared etcd of the run. Never
 * skipped: a missing Chromium fails (npm test installs it when it can). Waits are bounded (`waitFor*`
 * with a deadline), never timed assertions.
 */
import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { adminControl } from '../src/cli/dashboard/admin-control.js';
import { listenDashboard, pageUrl } from '../src/cli/dashboard/command.js';
import { DashboardServer } from '../src/cli/dashboard/server.js';
import { closeHttp } from '../src/cli/http.js';
import { keys } from '../src/scheduler/keys.js';
import { EtcdStore } from '../src/store/etcd.js';
import type { Task } from '../src/task.js';
import { waitFor } from './helpers/async.js';
import { consoleErrors, launchBrowser } from './helpers/browser.js';
import { sharedEndpoints, uniqueRoot } from './helpers/etcd.js';
import { Fleet } from './helpers/fleet.js';
import { etcdStores } from './helpers/stores.js';

const WAIT = 15_000;

function groupTasks(): Task[] {
  const tasks: Task[] = [];
  for (const group of ['spot', 'futures', 'options']) {
    for (let i = 0; i < 6; i++) tasks.push({ id: `${group}-${i}`, group });
  }
  return tasks;
}

/** Waits (bounded) until the element's text matches. */
async function shows(page: Page, selector: string, want: RegExp): Promise<void> {
  let last: string | null = null;
  await waitFor(
    `${selector} to show ${want} (last: ${JSON.stringify(last)})`,
    async () => {
      last = await page.locator(selector).first().textContent({ timeout: 1_000 });
      return want.test(last ?? '');
    },
    WAIT,
  );
}

/** Waits (bounded) until a worker's running/assigned cell reads `want`, e.g. `6/6`. */
function showsCounts(page: Page, worker: string, want: string): Promise<void> {
  return shows(page, `tr[data-worker="${worker}"] td.num >> nth=1`, new RegExp(`^${want}$`));
}

describe('dashboard in Chromium against a real etcd', () => {
  let store: EtcdStore;
  let fleet: Fleet;
  let dashboard: DashboardServer;
  let server: Server;
  let url: string;
  let browser: Browser;
  let page: Page;
  let errors: string[];

  before(async () => {
    store = new EtcdStore({ hosts: sharedEndpoints() });
    fleet = new Fleet(store, 'dashboard', 10);
    fleet.tasks = groupTasks();
    await Promise.all([fleet.worker('w1').start(), fleet.worker('w2').start()]);
    fleet.master('m1');
    await fleet.balanced(['w1', 'w2']);
    dashboard = new DashboardServer({ store, root: fleet.root, mode: 'dashboard' });
    server = await listenDashboard('127.0.0.1:0', dashboard);
    dashboard.start();
    url = pageUrl(server);
    browser = await launchBrowser();
    page = await browser.newPage();
    errors = consoleErrors(page);
  });

  after(async () => {
    await browser?.close();
    await dashboard?.close();
    if (server) await closeHttp(server);
    await fleet?.close();
    await store?.delete(`${fleet.k.root}/`, { prefix: true }).catch(() => undefined);
    await store?.close();
  });

  test('the page loads and shows the fleet: leader, workers, tasks by group, last schedule', async () => {
    await page.goto(url);
    await page.waitForSelector('#conn.live', { timeout: WAIT });
    await page.waitForSelector('tr[data-worker="w1"]', { timeout: WAIT });
    await page.waitForSelector('tr[data-worker="w2"]', { timeout: WAIT });
    assert.equal(await page.textContent('#leader'), 'm1');
    await shows(page, '#task-count', /^18 assigned · 18 claimed$/);
    const a = await fleet.assignment();
    for (const w of ['w1', 'w2']) await showsCounts(page, w, `${a.get(w)!.length}/${a.get(w)!.length}`);
    const groups = await page.locator('#groups tbody th').allTextContents();
    assert.deepEqual(groups, ['futures', 'options', 'spot', 'all groups']);
    assert.match((await page.textContent('#timeline')) ?? '', /first schedule/);
    assert.match((await page.textContent('#overview')) ?? '', /passed at/);
  });

  test('a worker join and a drain show up live, without a reload', async () => {
    await page.evaluate('window.marker = 42');
    await fleet.worker('w3').start();
    await page.waitForSelector('tr[data-worker="w3"]', { timeout: WAIT });
    await fleet.balanced(['w1', 'w2', 'w3']);
    await showsCounts(page, 'w3', '6/6');
    // Drain: w1 stops gracefully (runs settle, claims released, key deleted); its tasks move.
    await fleet.workers.find((w) => w.name === 'w1')!.stop();
    await page.waitForSelector('tr[data-worker="w1"]', { state: 'detached', timeout: WAIT });
    await fleet.balanced(['w2', 'w3']);
    await showsCounts(page, 'w2', '9/9');
    await showsCounts(page, 'w3', '9/9');
    assert.equal(await page.evaluate('window.marker'), 42, 'the page was not reloaded');
  });

  test('the search box finds a task and shows where it runs and since when', async () => {
    const a = await fleet.assignment();
    const worker = [...a].find(([, ids]) => ids.includes('options-3'))![0];
    await page.fill('#search', 'options-3');
    const row = page.locator('#results tr[data-task="options-3"]');
    await row.waitFor({ timeout: WAIT });
    const cells = await row.locator('td').allTextContents();
    assert.equal(cells[0], 'options-3');
    assert.equal(cells[1], 'options');
    assert.equal(cells[2], worker);
    assert.equal(cells[3], worker, 'the claim is held by the worker it is assigned to');
    assert.notEqual(cells[4], '?');
    await page.fill('#search', 'no-such-task');
    await page.waitForSelector('#results >> text=No task matches', { timeout: WAIT });
    await page.fill('#search', '');
  });

  test('without --allow-control no write endpoint answers, and nothing is written', async () => {
    const origin = new URL(url).origin;
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH']) {
      for (const path of ['/api/control', '/api/control/cordon', '/api/events', '/', '/assets/app.js']) {
        const res = await fetch(new URL(path, url), {
          method,
          headers: { origin, 'content-type': 'application/json' },
          body: JSON.stringify({ action: 'cordon', worker: 'w2' }),
        });
        await res.arrayBuffer();
        assert.ok(res.status === 404 || res.status === 405, `${method} ${path} answered ${res.status}`);
      }
    }
    const control = await store.range(`${fleet.k.root}/control/`, { prefix: true, countOnly: true });
    assert.equal(control.count, 0);
    assert.equal(await page.locator('button', { hasText: 'Cordon' }).count(), 0, 'no control button shown');
  });

  test('the page reconnects by itself after the server restarts, and catches up', async () => {
    assert.deepEqual(errors, [], 'no console errors before the restart');
    const port = new URL(url).port;
    await dashboard.close();
    await closeHttp(server);
    await page.waitForSelector('#conn.down', { timeout: WAIT });
    await fleet.worker('w4').start();
    dashboard = new DashboardServer({ store, root: fleet.root, mode: 'dashboard' });
    server = await listenDashboard(`127.0.0.1:${port}`, dashboard);
    dashboard.start();
    await page.waitForSelector('#conn.live', { timeout: WAIT });
    await page.waitForSelector('tr[data-worker="w4"]', { timeout: WAIT });
    // The browser logs the refused connections while the server is away: expected here, not after.
    errors.length = 0;
    await fleet.worker('w5').start();
    await page.waitForSelector('tr[data-worker="w5"]', { timeout: WAIT });
  });

  test('with --allow-control a Cordon button writes the control key (through Admin) and the page shows it; drain, pause and pin too; cross-origin writes are refused', async () => {
    const control = new DashboardServer({
      store,
      root: fleet.root,
      mode: 'dashboard',
      control: adminControl(store, fleet.root),
    });
    const controlServer = await listenDashboard('127.0.0.1:0', control);
    control.start();
    const controlUrl = pageUrl(controlServer);
    const page2 = await browser.newPage();
    const errors2 = consoleErrors(page2);
    try {
      // Forged requests first: no Origin, another origin, a form's content type. Nothing may be written.
      const attempts: Record<string, string>[] = [
        { 'content-type': 'application/json' },
        { origin: 'http://evil.example', 'content-type': 'application/json' },
        { origin: new URL(controlUrl).origin, 'content-type': 'text/plain' },
      ];
      for (const headers of attempts) {
        const res = await fetch(new URL('/api/control', controlUrl), {
          method: 'POST',
          headers,
          body: JSON.stringify({ action: 'cordon', worker: 'w3' }),
        });
        await res.arrayBuffer();
        assert.equal(res.status, 403, JSON.stringify(headers));
      }
      assert.equal(
        (await store.range(`${fleet.k.root}/control/`, { prefix: true, countOnly: true })).count,
        0,
      );

      await page2.goto(controlUrl);
      await page2.waitForSelector('#conn.live', { timeout: WAIT });
      await page2.click('tr[data-worker="w2"] button:has-text("Cordon")', { timeout: WAIT });
      const kv = await waitFor(
        'the control key of w2',
        () => store.get(`${fleet.k.root}/control/worker/w2`),
        WAIT,
      );
      const value = JSON.parse(kv.value) as { state: string; by: string };
      assert.equal(value.state, 'cordoned');
      assert.match(value.by, /^dashboard@/);
      await shows(page2, 'tr[data-worker="w2"] td.status', /cordoned/);
      await shows(page2, '#control li[data-control="w2"]', /w2: cordoned by dashboard@/);
      // The read-only page shows it too, live, and still has no button.
      await shows(page, 'tr[data-worker="w2"] td.status', /cordoned/);
      assert.equal(await page.locator('button', { hasText: 'Cordon' }).count(), 0);
      // And back: Uncordon deletes the key.
      await page2.click('tr[data-worker="w2"] button:has-text("Uncordon")', { timeout: WAIT });
      await waitFor(
        'the control key to go',
        async () => !(await store.get(`${fleet.k.root}/control/worker/w2`)),
        WAIT,
      );
      await shows(page2, 'tr[data-worker="w2"] td.status', /^(running|starting)$/);
      // Drain w3: the key says draining, the page shows it and offers no second Drain; Uncordon ends it.
      await page2.click('tr[data-worker="w3"] button:has-text("Drain")', { timeout: WAIT });
      const drain = await waitFor(
        'the control key of w3',
        () => store.get(`${fleet.k.root}/control/worker/w3`),
        WAIT,
      );
      assert.equal((JSON.parse(drain.value) as { state: string }).state, 'draining');
      await shows(page2, 'tr[data-worker="w3"] td.status', /draining/);
      assert.equal(await page2.locator('tr[data-worker="w3"] button', { hasText: 'Drain' }).count(), 0);
      await page2.click('tr[data-worker="w3"] button:has-text("Uncordon")', { timeout: WAIT });
      await waitFor(
        'the drain to end',
        async () => !(await store.get(`${fleet.k.root}/control/worker/w3`)),
        WAIT,
      );
      // Pause and resume from the header.
      await page2.click('#fleet-actions button:has-text("Pause scheduling")', { timeout: WAIT });
      await waitFor('control/pause', () => store.get(`${fleet.k.root}/control/pause`), WAIT);
      await shows(page2, '#overview .banner', /Scheduling is paused by dashboard@/);
      await page2.click('#fleet-actions button:has-text("Resume scheduling")', { timeout: WAIT });
      await waitFor(
        'control/pause to go',
        async () => !(await store.get(`${fleet.k.root}/control/pause`)),
        WAIT,
      );
      // Pin a task from the search box (to the first worker the list offers), then unpin it.
      await page2.fill('#search', 'spot-0');
      await page2.click('#results tr[data-task="spot-0"] button:has-text("Pin")', { timeout: WAIT });
      const pin = await waitFor(
        'control/pin/spot-0',
        () => store.get(`${fleet.k.root}/control/pin/spot-0`),
        WAIT,
      );
      assert.equal((JSON.parse(pin.value) as { worker: string }).worker, 'w2');
      await shows(page2, '#results tr[data-task="spot-0"]', /pinned to w2/);
      await page2.click('#results tr[data-task="spot-0"] button:has-text("Unpin")', { timeout: WAIT });
      await waitFor(
        'the pin to go',
        async () => !(await store.get(`${fleet.k.root}/control/pin/spot-0`)),
        WAIT,
      );
      assert.deepEqual(errors2, []);
    } finally {
      await page2.close();
      await control.close();
      await closeHttp(controlServer);
    }
  });

  test('no console errors', () => {
    assert.deepEqual(errors, []);
  });
});

describe('dashboard in Chromium: etcd goes away and comes back', () => {
  test('the page says the server cannot reach etcd, then is live again and shows what changed meanwhile', async () => {
    const isolated = await etcdStores.createIsolated({ callTimeout: 1_000 });
    const { store } = isolated;
    const root = uniqueRoot('dashboard-etcd-outage');
    const k = keys(root);
    const dashboard = new DashboardServer({ store, root, mode: 'dashboard' });
    const server = await listenDashboard('127.0.0.1:0', dashboard);
    dashboard.start();
    const browser = await launchBrowser();
    try {
      await store.put(k.worker('before'), 'running');
      const page = await browser.newPage();
      await page.goto(pageUrl(server));
      await page.waitForSelector('tr[data-worker="before"]', { timeout: WAIT });
      await isolated.cut();
      await shows(page, '#conn', /server cannot reach etcd/);
      await isolated.restore();
      await waitFor(
        'etcd to answer again',
        () => store.put(k.worker('after'), 'running').then(() => true),
        WAIT,
      );
      await page.waitForSelector('#conn.live', { timeout: WAIT });
      await page.waitForSelector('tr[data-worker="after"]', { timeout: WAIT });
      assert.equal(await page.locator('tr[data-worker="before"]').count(), 1);
    } finally {
      await browser.close();
      await dashboard.close();
      await closeHttp(server);
      await isolated.close();
    }
  });
});
