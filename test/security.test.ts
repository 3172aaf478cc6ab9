/**
 * Security (issue 6): escheduler against an etcd with authentication on, as a user whose role may only
 * read and write `/<root>/` (keys outside are refused by etcd); over TLS with client certificates made
 * here with openssl; wrong password or certificate fail fast with a clear error; the password never shows
 * in the output; names that could escape their prefix are refused.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { OptionError } from '../src/errors.js';
import { keys, rootPath } from '../src/scheduler/keys.js';
import { Master } from '../src/scheduler/master.js';
import { Worker } from '../src/scheduler/worker.js';
import { EtcdStore } from '../src/store/etcd.js';
import { MemoryStore } from '../src/store/memory.js';
import { validateTask } from '../src/task.js';
import { CliProcess, FIXTURES, killAll, runCli } from './fixtures/cli-process.js';
import { type EtcdCluster, etcdBinary, freePort, startEtcd, uniqueRoot } from './helpers/etcd.js';
import { waitFor } from './helpers/wait.js';

const dir = mkdtempSync(join(tmpdir(), 'escheduler-security-'));
const tasksFile = join(dir, 'tasks.json');
writeFileSync(tasksFile, JSON.stringify([{ id: 'a' }, { id: 'b' }, { id: 'c' }]));
const SECRET = 'S3cret-pa55-do-not-log';

after(() => {
  killAll();
  rmSync(dir, { recursive: true, force: true });
});

/** `escheduler run` args for one process of a fleet under `root`. */
function runArgs(endpoint: string, root: string, name: string, extra: string[] = []): string[] {
  return [
    'run',
    '--etcd',
    endpoint,
    '--root',
    root,
    '--name',
    name,
    '--max-nodes',
    '3',
    '--ttl',
    '2',
    '--rebalance-wait',
    '200ms',
    '--generator',
    tasksFile,
    '--handler',
    join(FIXTURES, 'handler.mjs'),
    '--connect-timeout',
    '2s',
    '--barrier-timeout',
    '1s',
    ...extra,
  ];
}

describe('etcd with authentication: a least-privilege user', () => {
  let etcd: EtcdCluster;
  const root = uniqueRoot('auth');
  let endpoint: string;
  const ctl = (...args: string[]) =>
    execFileSync('etcdctl', ['--endpoints', endpoint, ...args], {
      encoding: 'utf8',
      env: { ...process.env, ETCDCTL_API: '3' },
      timeout: 15_000,
    });

  before(async () => {
    etcd = await startEtcd();
    endpoint = etcd.endpoints[0];
    ctl('user', 'add', 'root:rootpw');
    ctl('user', 'grant-role', 'root', 'root');
    ctl('role', 'add', 'escheduler');
    ctl('role', 'grant-permission', 'escheduler', 'readwrite', `${keys(root).root}/`, '--prefix=true');
    ctl('user', 'add', `esch:${SECRET}`);
    ctl('user', 'grant-role', 'esch', 'escheduler');
    ctl('auth', 'enable');
  });
  after(async () => {
    await etcd?.destroy();
  });

  it('the user reads and writes under /<root>/ and etcd refuses keys outside', async () => {
    const store = new EtcdStore({ hosts: [endpoint], auth: { username: 'esch', password: SECRET } });
    try {
      await store.put(`${keys(root).root}/probe`, 'ok');
      assert.equal((await store.get(`${keys(root).root}/probe`))?.value, 'ok');
      await assert.rejects(store.put('/elsewhere/x', 'no'), /permission denied/);
      await assert.rejects(store.get(`${keys(root).root}-sibling/x`), /permission denied/);
    } finally {
      await store.close();
    }
  });

  it('escheduler run works as that user (password from a file or the environment), never printing it', async () => {
    const pwFile = join(dir, 'password');
    writeFileSync(pwFile, `${SECRET}\n`, { mode: 0o600 });
    const p1 = new CliProcess(runArgs(endpoint, root, 'n1', ['--user', 'esch', '--password-file', pwFile]));
    const p2 = new CliProcess(runArgs(endpoint, root, 'n2', ['--user', 'esch']), {
      ESCHEDULER_ETCD_PASSWORD: SECRET,
    });
    const store = new EtcdStore({ hosts: [endpoint], auth: { username: 'esch', password: SECRET } });
    try {
      const k = keys(root);
      await waitFor(
        'three tasks claimed by the two processes',
        async () => {
          const claims = await store.range(k.claimPrefix, { prefix: true });
          const holders = new Set(claims.kvs.map((kv) => kv.value));
          return claims.count === 3 && holders.size === 2;
        },
        40_000,
      );
    } catch (err) {
      throw new Error(`${(err as Error).message}\n--- n1:\n${p1.stderr}\n--- n2:\n${p2.stderr}`);
    } finally {
      await store.close();
      p1.kill('SIGTERM');
      p2.kill('SIGTERM');
      await Promise.all([p1.wait(15_000), p2.wait(15_000)]);
    }
    for (const p of [p1, p2]) {
      assert.ok(!p.stderr.includes(SECRET) && !p.stdout.includes(SECRET), 'the password never shows');
    }
  });

  it('a wrong password fails fast with a clear error', async () => {
    const r = await runCli(
      ['status', '--etcd', endpoint, '--root', root, '--user', 'esch', '--connect-timeout', '2s'],
      20_000,
      { ESCHEDULER_ETCD_PASSWORD: 'wrong' },
    );
    assert.notEqual(r.code, 0);
    assert.ok(r.ms < 10_000, `failed after ${r.ms} ms`);
    assert.match(r.stderr, /authentication failed|invalid user ID or password/i);
    assert.ok(!r.stderr.includes('wrong'), 'not even the wrong password is printed');
    const r2 = await runCli(runArgs(endpoint, root, 'n9', ['--user', 'esch']), 20_000, {
      ESCHEDULER_ETCD_PASSWORD: 'wrong',
    });
    assert.notEqual(r2.code, 0);
    assert.match(r2.stderr, /authentication failed|invalid user ID or password/i);
    assert.ok(r2.ms < 10_000, `run failed after ${r2.ms} ms`);
  });
});

describe('etcd over TLS with client certificates', () => {
  let etcdProc: ChildProcess | undefined;
  const certs = join(dir, 'certs');
  let endpoint = '';
  const root = uniqueRoot('tls');
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: certs, stdio: 'pipe' });

  /** A CA and a certificate signed by it (server: SAN 127.0.0.1; client: clientAuth). */
  function makeCa(name: string): void {
    ssl(
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '2',
      '-subj',
      `/CN=${name}`,
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.crt`,
    );
  }
  function makeCert(ca: string, name: string, ext: string): void {
    writeFileSync(join(certs, `${name}.ext`), ext);
    ssl(
      'req',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-subj',
      `/CN=${name}`,
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.csr`,
    );
    ssl(
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      `${ca}.crt`,
      '-CAkey',
      `${ca}.key`,
      '-CAcreateserial',
      '-days',
      '2',
      '-out',
      `${name}.crt`,
      '-extfile',
      `${name}.ext`,
    );
  }

  before(async () => {
    execFileSync('mkdir', ['-p', certs]);
    makeCa('ca');
    makeCa('other-ca');
    makeCert('ca', 'server', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
    makeCert('ca', 'client', 'extendedKeyUsage=clientAuth\n');
    makeCert('other-ca', 'rogue', 'extendedKeyUsage=clientAuth\n');
    const [cport, pport] = [await freePort(), await freePort()];
    endpoint = `https://127.0.0.1:${cport}`;
    const data = mkdtempSync(join(tmpdir(), 'escheduler-etcd-tls-'));
    etcdProc = spawn(
      etcdBinary(),
      [
        '--name',
        'tls',
        '--data-dir',
        data,
        '--listen-client-urls',
        endpoint,
        '--advertise-client-urls',
        endpoint,
        '--listen-peer-urls',
        `http://127.0.0.1:${pport}`,
        '--initial-advertise-peer-urls',
        `http://127.0.0.1:${pport}`,
        '--initial-cluster',
        `tls=http://127.0.0.1:${pport}`,
        '--cert-file',
        join(certs, 'server.crt'),
        '--key-file',
        join(certs, 'server.key'),
        '--client-cert-auth',
        '--trusted-ca-file',
        join(certs, 'ca.crt'),
        '--unsafe-no-fsync',
        '--log-level',
        'error',
      ],
      { stdio: 'ignore' },
    );
    const tls = tlsStore('client');
    try {
      await waitFor('etcd over TLS answers', () => tls.get('/x').then(() => true), 20_000, 200);
    } finally {
      await tls.close();
    }
  });
  after(() => {
    if (etcdProc?.pid && etcdProc.exitCode === null) process.kill(etcdProc.pid, 'SIGKILL');
  });

  const file = (name: string) => join(certs, name);
  function tlsStore(client: string, ca = 'ca'): EtcdStore {
    return new EtcdStore({
      hosts: [endpoint],
      callTimeout: 2_000,
      credentials: {
        rootCertificate: Buffer.from(execFileSync('cat', [file(`${ca}.crt`)])),
        certChain: Buffer.from(execFileSync('cat', [file(`${client}.crt`)])),
        privateKey: Buffer.from(execFileSync('cat', [file(`${client}.key`)])),
      },
    });
  }

  it('escheduler run schedules over mutual TLS', async () => {
    const tlsFlags = ['--cacert', file('ca.crt'), '--cert', file('client.crt'), '--key', file('client.key')];
    const p = new CliProcess(runArgs(endpoint, root, 'n1', tlsFlags));
    const store = tlsStore('client');
    try {
      await waitFor(
        'three tasks claimed over TLS',
        async () => (await store.range(keys(root).claimPrefix, { prefix: true })).count === 3,
        40_000,
      );
    } catch (err) {
      throw new Error(`${(err as Error).message}\n${p.stderr}`);
    } finally {
      await store.close();
      p.kill('SIGTERM');
      await p.wait(15_000);
    }
  });

  it('a client certificate from another CA, or none, fails fast with a clear error', async () => {
    const rogue = await runCli(
      [
        'status',
        '--etcd',
        endpoint,
        '--root',
        root,
        '--cacert',
        file('ca.crt'),
        '--cert',
        file('rogue.crt'),
        '--key',
        file('rogue.key'),
        '--connect-timeout',
        '2s',
      ],
      20_000,
    );
    assert.notEqual(rogue.code, 0);
    assert.ok(rogue.ms < 10_000, `failed after ${rogue.ms} ms`);
    assert.match(rogue.stderr, /cannot reach etcd|certificate|handshake|connect/i);
    const none = await runCli(
      ['status', '--etcd', endpoint, '--root', root, '--cacert', file('ca.crt'), '--connect-timeout', '2s'],
      20_000,
    );
    assert.notEqual(none.code, 0);
    assert.ok(none.ms < 10_000);
    const wrongCa = await runCli(
      [
        'status',
        '--etcd',
        endpoint,
        '--root',
        root,
        '--cacert',
        file('other-ca.crt'),
        '--cert',
        file('client.crt'),
        '--key',
        file('client.key'),
        '--connect-timeout',
        '2s',
      ],
      20_000,
    );
    assert.notEqual(wrongCa.code, 0);
    assert.ok(wrongCa.ms < 10_000);
    const missing = await runCli(
      ['status', '--etcd', endpoint, '--root', root, '--cacert', file('nope.crt')],
      20_000,
    );
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /--cacert: cannot read/);
  });
});

describe('names that could escape their prefix are refused', () => {
  const store = new MemoryStore();
  const base = { store, maxNumNodes: 3, ttl: 2 };

  it('rootName: .. segments and control characters', () => {
    for (const bad of ['..', '../x', 'a/../../b', 'a/..', '', '/', 'a\u0000b', 'a\nb']) {
      assert.throws(() => rootPath(bad), OptionError, JSON.stringify(bad));
      assert.throws(() => new Worker({ ...base, rootName: bad, name: 'w' }), OptionError);
      assert.throws(
        () => new Master({ ...base, rootName: bad, name: 'm', generator: () => [] }),
        OptionError,
      );
    }
    assert.equal(rootPath('a/b'), '/a/b');
    assert.equal(rootPath('/a//./b/'), '/a/b');
  });

  it('worker and master names: /, .., control characters', () => {
    for (const bad of ['a/b', '..', '.', '../x', 'x\u0007', '', 'a'.repeat(300)]) {
      assert.throws(
        () => new Worker({ ...base, rootName: 'r', name: bad }),
        OptionError,
        JSON.stringify(bad),
      );
      assert.throws(
        () => new Master({ ...base, rootName: 'r', name: bad, generator: () => [] }),
        OptionError,
      );
    }
  });

  it('task ids: /, .., ., control characters', () => {
    for (const bad of ['a/b', '..', '.', '../x', 'x/..', 'x\u0000', '']) {
      assert.throws(() => validateTask({ id: bad }), /task id|id must/, JSON.stringify(bad));
    }
    validateTask({ id: 'btc.usdt' });
  });

  it('the CLI refuses them with one line and exit code 2', async () => {
    const r = await runCli(['run', '--root', '../x', '--generator', tasksFile], 20_000);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /rootName must not contain '\.\.'/);
    assert.equal(r.stderr.trim().split('\n').length, 1);
    const r2 = await runCli(['run', '--root', 'ok', '--name', 'a/b', '--generator', tasksFile], 20_000);
    assert.equal(r2.code, 2);
    assert.match(r2.stderr, /must not contain '\/'/);
  });
});
