/**
 * etcd-specific behaviour of `EtcdStore` that the store-agnostic conformance suite cannot show: deadlines
 * against a paused member, watches broken by a dying member, no retried writes, lease id conversion and
 * the mapping of server errors. Each fault test starts its own etcd; the others use the shared one.
 */
import assert from 'node:assert/strict';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { Etcd3 } from 'etcd3';
import {
  CompactedError,
  LeaseNotFoundError,
  OptionError,
  StoreRequestError,
  StoreUnavailableError,
} from '../src/errors.js';
import {
  EtcdStore,
  leaseIdFromDecimal,
  leaseIdToDecimal,
  mapEtcdError,
  parseEndpoints,
} from '../src/store/etcd.js';
import type { Op, WatchBatch, WatchStream } from '../src/store/port.js';
import { waitFor, within } from './helpers/async.js';
import { type EtcdCluster, sharedEndpoints, startEtcd, uniqueRoot } from './helpers/etcd.js';

/** Resolves after the iterator threw (the error) or ended (undefined); the batches seen are collected. */
async function drain(stream: WatchStream, seen: WatchBatch[]): Promise<unknown> {
  try {
    for await (const batch of stream) seen.push(batch);
    return undefined;
  } catch (err) {
    return err;
  }
}

/** A watch's events as `type key=value` lines. */
function lines(batches: WatchBatch[]): string[] {
  return batches.flatMap((b) => b.events.map((e) => `${e.type} ${e.kv.key}=${e.kv.value}`));
}

/**
 * A TCP proxy in front of one etcd endpoint that can drop the connection right when the server answers:
 * `cutAtNextAnswer()` arms it, and the next server→client chunk holding an HTTP/2 DATA frame (a gRPC
 * response message) is dropped and both sockets are destroyed. The request was applied; the client only
 * sees the connection drop — the case where an automatic retry would apply a write twice.
 */
class CuttingProxy {
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private armed = false;
  cuts = 0;

  constructor(private readonly target: { host: string; port: number }) {
    this.server = createServer((client) => this.pipe(client));
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    const addr = this.server.address();
    if (!addr || typeof addr === 'string') throw new Error('proxy has no port');
    return `127.0.0.1:${addr.port}`;
  }

  cutAtNextAnswer(): void {
    this.armed = true;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private pipe(client: Socket): void {
    const upstream = connect(this.target.port, this.target.host);
    const scanner = new Http2FrameScanner();
    const drop = () => {
      client.destroy();
      upstream.destroy();
    };
    for (const s of [client, upstream]) {
      this.sockets.add(s);
      s.on('error', drop);
      s.on('close', () => {
        this.sockets.delete(s);
        drop();
      });
    }
    client.on('data', (d: Buffer) => upstream.write(d));
    upstream.on('data', (d: Buffer) => {
      if (scanner.hasData(d) && this.armed) {
        this.armed = false;
        this.cuts++;
        drop();
        return;
      }
      client.write(d);
    });
  }
}

/** Follows HTTP/2 frame boundaries in one direction of a connection (server side: no preface). */
class Http2FrameScanner {
  private head = Buffer.alloc(0);
  private skip = 0;

  /** True when the chunk holds the start of a DATA frame (type 0). */
  hasData(chunk: Buffer): boolean {
    let found = false;
    let i = 0;
    while (i < chunk.length) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, chunk.length - i);
        this.skip -= n;
        i += n;
        continue;
      }
      const take = Math.min(9 - this.head.length, chunk.length - i);
      this.head = Buffer.concat([this.head, chunk.subarray(i, i + take)]);
      i += take;
      if (this.head.length === 9) {
        if (this.head[3] === 0) found = true;
        this.skip = this.head.readUIntBE(0, 3);
        this.head = Buffer.alloc(0);
      }
    }
    return found;
  }
}

describe('parseEndpoints', () => {
  test('accepts host:port lists with or without http://, keeps https://', () => {
    assert.deepEqual(parseEndpoints('a:1, http://b:2,'), ['a:1', 'b:2']);
    assert.deepEqual(parseEndpoints(['https://a:1', 'https://[::1]:2/']), ['https://a:1', 'https://[::1]:2']);
  });
  test('names the bad entry', () => {
    assert.throws(
      () => parseEndpoints('a:1,nope'),
      (e: Error) => e instanceof OptionError && /"nope"/.test(e.message),
    );
    assert.throws(() => parseEndpoints(' , '), OptionError);
    assert.throws(() => parseEndpoints('a:1,https://b:2'), /mixes/);
    assert.throws(() => new EtcdStore({ hosts: 'a:1', callTimeout: 0 }), /callTimeout/);
  });
});

describe('lease ids', () => {
  test('hex <-> decimal, up to int64', () => {
    assert.equal(leaseIdToDecimal('ff'), '255');
    assert.equal(leaseIdFromDecimal('255'), 'ff');
    assert.equal(leaseIdFromDecimal('0'), '0');
    const max = '7fffffffffffffff';
    assert.equal(leaseIdToDecimal(max), '9223372036854775807');
    assert.equal(leaseIdFromDecimal(leaseIdToDecimal(max)), max);
    assert.throws(() => leaseIdToDecimal('FF'), StoreRequestError);
    assert.throws(() => leaseIdToDecimal('12345678901234567'), StoreRequestError);
  });

  test('a granted lease is the hex of the id etcd knows', async (t) => {
    const store = new EtcdStore({ hosts: sharedEndpoints() });
    t.after(() => store.close());
    const root = `/${uniqueRoot('lease-hex')}`;
    const grant = await store.grantLease(30);
    assert.match(grant.id, /^[0-9a-f]+$/);
    // Ask etcd through its HTTP gateway, with the decimal id: it must know the lease.
    const res = await fetch(`http://${sharedEndpoints()[0]}/v3/lease/timetolive`, {
      method: 'POST',
      body: JSON.stringify({ ID: BigInt(`0x${grant.id}`).toString(10), keys: true }),
    });
    const body = (await res.json()) as { ID: string; TTL: string; grantedTTL: string };
    assert.equal(BigInt(body.ID).toString(16), grant.id);
    assert.equal(body.grantedTTL, '30');

    await store.put(`${root}/k`, 'v', { lease: grant.id });
    assert.equal((await store.get(`${root}/k`))?.lease, grant.id);
    const info = await store.leaseTimeToLive(grant.id, { keys: true });
    assert.equal(info.id, grant.id);
    assert.equal(info.grantedTtl, 30);
    assert.ok(info.ttl > 0 && info.ttl <= 30);
    assert.deepEqual(info.keys, [`${root}/k`]);
    assert.equal((await store.keepAliveOnce(grant.id)).ttl, 30);
    const txn = await store.txn({
      compare: [{ key: `${root}/k`, target: 'lease', op: '=', value: grant.id }],
      success: [{ type: 'put', key: `${root}/k2`, value: 'x', lease: grant.id }],
    });
    assert.equal(txn.succeeded, true);

    await store.revokeLease(grant.id);
    await store.revokeLease(grant.id); // revoking a missing lease is not an error
    assert.equal(await store.get(`${root}/k`), undefined);
    assert.equal((await store.leaseTimeToLive(grant.id)).ttl, -1);
    await assert.rejects(
      store.keepAliveOnce(grant.id),
      (e: Error) => e instanceof LeaseNotFoundError && e.leaseId === grant.id,
    );
    await assert.rejects(
      store.put(`${root}/k`, 'v', { lease: grant.id }),
      (e: Error) => e instanceof LeaseNotFoundError && e.leaseId === grant.id,
    );
  });
});

describe('error mapping (shared etcd)', () => {
  let store: EtcdStore;
  before(() => {
    store = new EtcdStore({ hosts: sharedEndpoints() });
  });
  after(() => store.close());

  test('txn limits: too many ops, duplicate key, request too large', async () => {
    const root = `/${uniqueRoot('limits')}`;
    const ops: Op[] = Array.from({ length: 129 }, (_, i) => ({
      type: 'put',
      key: `${root}/${i}`,
      value: '',
    }));
    await assert.rejects(
      store.txn({ compare: [], success: ops }),
      (e: Error) => e instanceof StoreRequestError && /too many operations/.test(e.message),
    );
    await assert.rejects(
      store.txn({
        compare: [],
        success: [
          { type: 'put', key: `${root}/a`, value: '1' },
          { type: 'put', key: `${root}/a`, value: '2' },
        ],
      }),
      (e: Error) => e instanceof StoreRequestError && /duplicate key/.test(e.message),
    );
    await assert.rejects(
      store.put(`${root}/big`, 'x'.repeat(1.6 * 1024 * 1024)),
      (e: Error) => e instanceof StoreRequestError && !(e instanceof StoreUnavailableError),
    );
    assert.equal((await store.range(`${root}/`, { prefix: true })).count, 0);
  });

  test('server errors carry operation, key and endpoints; unknown errors are wrapped', () => {
    const err = mapEtcdError(new Error('etcdserver: permission denied'), { operation: 'put', key: '/x' }, [
      'h:1',
    ]);
    assert.ok(err instanceof StoreRequestError);
    assert.match(err.message, /put "\/x" \(endpoints h:1\): etcdserver: permission denied/);
    assert.ok(
      mapEtcdError(new TypeError('boom'), { operation: 'get', key: 'k' }, []) instanceof StoreRequestError,
    );
  });

  test('txn maps compares (incl. value, version, mod) and returns prev kvs and ranges', async () => {
    const root = `/${uniqueRoot('txn')}`;
    const first = await store.put(`${root}/a`, '1');
    await store.put(`${root}/b`, '2');
    const res = await store.txn({
      compare: [
        { key: `${root}/a`, target: 'value', op: '=', value: '1' },
        { key: `${root}/a`, target: 'version', op: '=', value: 1 },
        { key: `${root}/a`, target: 'mod', op: '=', value: first.revision },
        { key: `${root}/a`, target: 'create', op: '<', value: first.revision + 1 },
        { key: `${root}/a`, target: 'lease', op: '=', value: '0' },
        { key: `${root}/none`, target: 'create', op: '=', value: 0 },
      ],
      success: [
        { type: 'put', key: `${root}/a`, value: '3', prevKv: true },
        { type: 'delete', key: `${root}/b`, prevKv: true },
        { type: 'range', key: `${root}/`, prefix: true, sortBy: 'create', sortOrder: 'descend', limit: 1 },
      ],
    });
    assert.equal(res.succeeded, true);
    const [put, del, range] = res.responses;
    assert.equal(put.type === 'put' && put.prevKv?.value, '1');
    assert.equal(del.type === 'delete' && del.deleted, 1);
    assert.equal(del.type === 'delete' && del.prevKvs?.[0].value, '2');
    assert.deepEqual(
      range.type === 'range' && { keys: range.kvs.map((kv) => kv.key), count: range.count, more: range.more },
      { keys: [`${root}/a`], count: 1, more: false },
    );
    const failed = await store.txn({
      compare: [{ key: `${root}/a`, target: 'value', op: '!=', value: '3' }],
      success: [],
      failure: [{ type: 'range', key: `${root}/a` }],
    });
    assert.equal(failed.succeeded, false);
    assert.equal(failed.responses[0].type === 'range' && failed.responses[0].kvs[0].value, '3');
  });
});

describe('with its own etcd', () => {
  let etcd: EtcdCluster;
  before(async () => {
    etcd = await startEtcd();
  });
  after(() => etcd.destroy());

  test('compaction: range and watch report the compact revision; compacting twice is refused', async (t) => {
    const store = new EtcdStore({ hosts: etcd.endpoints });
    t.after(() => store.close());
    const root = `/${uniqueRoot('compact')}`;
    const { revision: r1 } = await store.put(`${root}/k`, '1');
    const { revision: r2 } = await store.put(`${root}/k`, '2');
    await store.compact(r2);
    await assert.rejects(
      store.range(`${root}/k`, { revision: r1 }),
      (e: Error) => e instanceof CompactedError && e.compactRevision === r2,
    );
    assert.equal((await store.range(`${root}/k`, { revision: r2 })).kvs[0].value, '2');
    const seen: WatchBatch[] = [];
    const err = await within(
      drain(store.watch(`${root}/`, { prefix: true, startRevision: r1 }), seen),
      5_000,
      'compacted watch',
    );
    assert.ok(err instanceof CompactedError && err.compactRevision === r2, String(err));
    await assert.rejects(
      store.compact(r1),
      (e: Error) => e instanceof CompactedError && e.compactRevision === r2,
    );
  });

  test('a paused member makes every call fail within callTimeout, and calls work again after', async (t) => {
    const callTimeout = 1_000;
    const store = new EtcdStore({ hosts: etcd.endpoints, callTimeout });
    const member = etcd.members[0];
    t.after(async () => {
      member.resume();
      await store.close();
    });
    const root = `/${uniqueRoot('paused')}`;
    const lease = await store.grantLease(60);
    await store.put(`${root}/k`, 'v');

    member.pause();
    const calls: [string, () => Promise<unknown>][] = [
      ['get', () => store.get(`${root}/k`)],
      ['put', () => store.put(`${root}/k`, 'w')],
      ['txn', () => store.txn({ compare: [], success: [{ type: 'delete', key: `${root}/k` }] })],
      ['keepAliveOnce', () => store.keepAliveOnce(lease.id)],
      ['grantLease', () => store.grantLease(10)],
      ['watch', () => drain(store.watch(`${root}/`, { prefix: true }), []).then((e) => Promise.reject(e))],
    ];
    for (const [name, call] of calls) {
      const started = Date.now();
      await within(
        assert.rejects(call(), (e: Error) => e instanceof StoreUnavailableError && e.retryable),
        callTimeout + 1_500,
        name,
      );
      const took = Date.now() - started;
      assert.ok(took < callTimeout + 1_000, `${name} took ${took} ms`);
    }

    member.resume();
    await waitFor(
      'calls to work again',
      async () => (await store.get(`${root}/k`)) !== undefined,
      15_000,
      100,
    );
  });

  test('a write whose answer was lost is not sent again', async (t) => {
    const [host, port] = etcd.endpoints[0].split(':');
    const proxy = new CuttingProxy({ host, port: Number(port) });
    const store = new EtcdStore({ hosts: await proxy.listen(), callTimeout: 2_000 });
    t.after(async () => {
      await store.close();
      await proxy.close();
    });
    const key = `/${uniqueRoot('answer-lost')}/k`;
    await store.put(key, 'start');
    const before = (await store.get(key))!.version;

    proxy.cutAtNextAnswer();
    await assert.rejects(store.put(key, 'once'), StoreUnavailableError);
    assert.equal(proxy.cuts, 1);
    // Applied once (the server answered), never twice: etcd3's default policy would have re-sent it.
    const after = await waitFor('the store to answer again', () => store.get(key), 10_000, 50);
    assert.equal(after.value, 'once');
    assert.equal(after.version - before, 1);
  });

  test('a write to a paused member fails once, within callTimeout, and is applied at most once', async (t) => {
    const callTimeout = 800;
    const store = new EtcdStore({ hosts: etcd.endpoints, callTimeout });
    const member = etcd.members[0];
    t.after(async () => {
      member.resume();
      await store.close();
    });
    const key = `/${uniqueRoot('no-retry')}/counter`;
    await store.put(key, 'start');
    const before = (await store.get(key))!.version;

    member.pause();
    const started = Date.now();
    await assert.rejects(store.put(key, 'again'), StoreUnavailableError);
    const took = Date.now() - started;
    // One attempt: etcd3's default policy would have made 3 (3 × callTimeout).
    assert.ok(took < 2 * callTimeout, `the failed put took ${took} ms`);
    member.resume();

    // Requests the paused server had buffered are processed once it runs again; a later write on the same
    // connection is served after them.
    await waitFor('etcd to answer', () => store.put(`${key}-after`, 'x'), 15_000, 100);
    const version = (await store.get(key))!.version;
    assert.ok(version - before <= 1, `the timed-out put was applied ${version - before} times`);
  });

  test('abort ends a watch cleanly and cancels it on the server; close() ends watches and is idempotent', async () => {
    const store = new EtcdStore({ hosts: etcd.endpoints });
    const root = `/${uniqueRoot('abort')}`;
    const watchers = async () => {
      const res = await fetch(`http://${etcd.endpoints[0]}/metrics`);
      const m = /^etcd_debugging_mvcc_watcher_total (\d+)/m.exec(await res.text());
      return Number(m?.[1]);
    };
    const baseline = await watchers();
    const controller = new AbortController();
    const seen: WatchBatch[] = [];
    const ended = drain(store.watch(`${root}/`, { prefix: true, signal: controller.signal }), seen);
    await waitFor('the watch to be created', async () => (await watchers()) === baseline + 1);
    await store.put(`${root}/a`, '1');
    await waitFor('the first event', () => seen.length === 1);
    controller.abort();
    assert.equal(await within(ended, 2_000, 'aborted watch'), undefined);
    await waitFor('the server-side watch to be cancelled', async () => (await watchers()) === baseline);

    const open = drain(store.watch(`${root}/`, { prefix: true }), []);
    await waitFor('the second watch to be created', async () => (await watchers()) === baseline + 1);
    await store.close();
    await store.close();
    assert.equal(await within(open, 2_000, 'watch ended by close'), undefined);
    await assert.rejects(
      store.get(`${root}/a`),
      (e: Error) => e instanceof StoreRequestError && /closed/.test(e.message),
    );
  });

  test('a watch whose member is killed throws StoreUnavailableError; resuming from the last event + 1 loses nothing', async (t) => {
    const store = new EtcdStore({ hosts: etcd.endpoints, callTimeout: 1_000 });
    t.after(() => store.close());
    const root = `/${uniqueRoot('watch-restart')}`;
    const seen: WatchBatch[] = [];
    const first = drain(store.watch(`${root}/`, { prefix: true }), seen);
    await waitFor('the watch to deliver', async () => {
      await store.put(`${root}/a`, '1');
      return seen.length > 0;
    });
    // A last marker, once delivered, means every put before it was too: the resume must yield exactly b, c.
    await store.put(`${root}/a`, 'marker');
    await waitFor('the watch to deliver the marker', () => lines(seen).includes(`put ${root}/a=marker`));
    const member = etcd.members[0];
    await member.stop();
    const err = await within(first, 5_000, 'broken watch');
    assert.ok(err instanceof StoreUnavailableError, String(err));
    member.start();
    await etcd.ready();
    await waitFor('etcd to accept writes', () => store.put(`${root}/b`, '2'), 15_000, 100);
    await store.put(`${root}/c`, '3');

    const last = seen.at(-1)!.events.at(-1)!.kv.modRevision;
    const resumed: WatchBatch[] = [];
    const controller = new AbortController();
    const second = drain(
      store.watch(`${root}/`, { prefix: true, startRevision: last + 1, signal: controller.signal }),
      resumed,
    );
    await waitFor('the resumed watch to catch up', () => lines(resumed).length >= 2);
    controller.abort();
    assert.equal(await second, undefined);
    assert.deepEqual(lines(resumed), [`put ${root}/b=2`, `put ${root}/c=3`]);
  });
});

describe('with a 3-member cluster', () => {
  let etcd: EtcdCluster;
  before(async () => {
    etcd = await startEtcd({ size: 3 });
  });
  after(() => etcd.destroy());

  test('a watch on a killed member breaks while the others keep writing; a resumed watch sees every event', async (t) => {
    const [m1, m2, m3] = etcd.members;
    const watching = new EtcdStore({ hosts: [m1.endpoint], callTimeout: 1_000 });
    const writer = new EtcdStore({ hosts: [m2.endpoint, m3.endpoint], callTimeout: 2_000 });
    const resumer = new EtcdStore({ hosts: [m3.endpoint], callTimeout: 2_000 });
    t.after(async () => {
      await Promise.all([watching.close(), writer.close(), resumer.close()]);
    });
    const root = `/${uniqueRoot('cluster-watch')}`;
    const seen: WatchBatch[] = [];
    const first = drain(watching.watch(`${root}/`, { prefix: true }), seen);
    let n = 0;
    await waitFor('the watch to deliver', async () => {
      await writer.put(`${root}/${n}`, String(n++));
      return seen.length > 0;
    });
    await m1.stop();
    const err = await within(first, 5_000, 'broken watch');
    assert.ok(err instanceof StoreUnavailableError, String(err));
    // The cluster keeps working without m1 (after a possible leader election).
    const until = n + 5;
    while (n < until) {
      // Put-if-absent: a write that timed out during the leader election but was applied is not applied
      // twice when retried (the adapter never retries by itself, so the retry here is the caller's).
      const key = `${root}/${n}`;
      await waitFor(
        'a write to the remaining members',
        () =>
          writer.txn({
            compare: [{ key, target: 'create', op: '=', value: 0 }],
            success: [{ type: 'put', key, value: String(n) }],
          }),
        10_000,
        50,
      );
      n++;
    }
    const last = seen.at(-1)!.events.at(-1)!.kv.modRevision;
    const seenKeys = lines(seen);
    // The first watch starts "from now" once its stream is up: puts made before that are not its to see.
    const firstSeen = Number(seen[0].events[0].kv.value);
    const resumed: WatchBatch[] = [];
    const controller = new AbortController();
    // The caller's resume loop (PrefixWatcher's, in small): if the resumed watch breaks too while the
    // cluster settles, resume again after the last event it delivered.
    const resuming = (async () => {
      for (let tries = 0; tries < 20 && !controller.signal.aborted; tries++) {
        const from = (resumed.at(-1)?.events.at(-1)?.kv.modRevision ?? last) + 1;
        const err = await drain(
          resumer.watch(`${root}/`, { prefix: true, startRevision: from, signal: controller.signal }),
          resumed,
        );
        if (err === undefined) return undefined;
        if (!(err instanceof StoreUnavailableError)) return err;
        await new Promise((r) => setTimeout(r, 200));
      }
      return new Error('the resumed watch kept breaking');
    })();
    try {
      await waitFor(
        'the resumed watch to catch up',
        () => seenKeys.length + lines(resumed).length >= n - firstSeen,
      );
    } catch (err) {
      const now = await writer.range(`${root}/`, { prefix: true });
      throw new Error(
        `${(err as Error).message}: n=${n}, seen ${seenKeys.length} (last rev ${last}), resumed ${JSON.stringify(
          lines(resumed),
        )}, store has ${now.count} keys at revision ${now.revision}`,
      );
    }
    controller.abort();
    assert.equal(await resuming, undefined);
    const all = [...seenKeys, ...lines(resumed)];
    assert.deepEqual(
      all,
      Array.from({ length: n - firstSeen }, (_, i) => `put ${root}/${firstSeen + i}=${firstSeen + i}`),
    );
  });
});

describe('authentication and permissions', () => {
  let etcd: EtcdCluster;
  before(async () => {
    etcd = await startEtcd();
    const admin = new Etcd3({ hosts: etcd.endpoints });
    try {
      await admin.role('root').create();
      await admin.user('root').create('rootpw');
      await admin.user('root').addRole('root');
      await admin.user('alice').create('alicepw');
      await admin.auth.authEnable();
    } finally {
      admin.close();
    }
  });
  after(() => etcd.destroy());

  test('wrong password and missing permission are StoreRequestErrors with the server message', async () => {
    const wrong = new EtcdStore({ hosts: etcd.endpoints, auth: { username: 'root', password: 'nope' } });
    const alice = new EtcdStore({ hosts: etcd.endpoints, auth: { username: 'alice', password: 'alicepw' } });
    const root = new EtcdStore({ hosts: etcd.endpoints, auth: { username: 'root', password: 'rootpw' } });
    try {
      await assert.rejects(
        wrong.get('/k'),
        (e: Error) =>
          e instanceof StoreRequestError && !e.retryable && /authentication failed/.test(e.message),
      );
      await assert.rejects(
        alice.put('/k', 'v'),
        (e: Error) => e instanceof StoreRequestError && /permission denied/.test(e.message),
      );
      const err = await within(drain(alice.watch('/k'), []), 5_000, 'refused watch');
      assert.ok(err instanceof StoreRequestError && /permission denied/.test(err.message), String(err));
      await root.put('/k', 'v');
      assert.equal((await root.get('/k'))?.value, 'v');
    } finally {
      await Promise.all([wrong.close(), alice.close(), root.close()]);
    }
  });
});
