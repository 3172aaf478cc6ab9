/**
 * The dashboard server on a memory store, without a browser: the event stream (hello, snapshot, changes in
 * order, payloads left out) and the lazy mode of `run --http` (watching only while a page is open).
 */
import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import { after, describe, test } from 'node:test';
import { listenDashboard, pageUrl } from '../src/cli/dashboard/command.js';
import { DashboardServer } from '../src/cli/dashboard/server.js';
import { closeHttp } from '../src/cli/http.js';
import { keys } from '../src/scheduler/keys.js';
import { MemoryStore } from '../src/store/memory.js';
import { encodeTask } from '../src/task.js';
import { waitFor } from './helpers/async.js';

/** An open event stream: the text so far, and a way to wait for a pattern in it. */
function open(url: string) {
  const controller = new AbortController();
  const stream = { text: '', close: () => controller.abort() };
  void (async () => {
    const res = await fetch(`${url}api/events`, { signal: controller.signal });
    const decoder = new TextDecoder();
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      stream.text += decoder.decode(chunk, { stream: true });
    }
  })().catch(() => undefined);
  return stream;
}

describe('dashboard server (memory store)', () => {
  const store = new MemoryStore();
  const k = keys('dash');
  const servers: { d: DashboardServer; s: Server }[] = [];
  after(async () => {
    for (const { d, s } of servers) {
      await d.close();
      await closeHttp(s);
    }
    await store.close();
  });

  async function serve(lazy: boolean) {
    const d = new DashboardServer({ store, root: 'dash', mode: 'test', lazy, idleMs: 50 });
    const s = await listenDashboard('127.0.0.1:0', d);
    d.start();
    servers.push({ d, s });
    return { d, url: pageUrl(s) };
  }

  test('a snapshot, then each change in order; task payloads are not sent', async () => {
    await store.put(k.worker('w1'), 'running');
    await store.put(
      k.task('w1', 'big'),
      encodeTask({ id: 'big', group: 'g', raw: new Uint8Array(5000).fill(7) }),
    );
    const { url } = await serve(false);
    const events = open(url);
    try {
      await waitFor('the snapshot', () => events.text.includes('event: snapshot'), 10_000);
      assert.match(events.text, /event: hello\ndata: \{"root":"\/dash","control":false/);
      assert.match(events.text, /\["task\/w1\/big","\{\\"P\\":0,\\"Key\\":\\"\\",\\"Group\\":\\"g\\"\}"/);
      assert.doesNotMatch(events.text, /BwcHBwcH/, 'the base64 payload stays on the server');
      await store.put(k.worker('w2'), 'running');
      await store.delete(k.worker('w1'));
      const changesOf = () => events.text.slice(Math.max(0, events.text.indexOf('event: changes')));
      await waitFor('both changes', () => /"worker\/w2"[\s\S]*"worker\/w1"/.test(changesOf()), 10_000);
      assert.ok(changesOf().indexOf('"worker/w2"') < changesOf().indexOf('"worker/w1"'), changesOf());
    } finally {
      events.close();
    }
  });

  test('lazy: no watch until a page opens, and none after the last page left', async () => {
    const { d, url } = await serve(true);
    assert.equal(d.watching, false);
    const events = open(url);
    await waitFor('the snapshot', () => events.text.includes('event: snapshot'), 10_000);
    assert.equal(d.watching, true);
    events.close();
    await waitFor('the watch to stop after the page left', () => !d.watching, 10_000);
    const again = open(url);
    await waitFor('a fresh snapshot', () => again.text.includes('event: snapshot'), 10_000);
    assert.equal(d.watching, true);
    again.close();
  });
});
