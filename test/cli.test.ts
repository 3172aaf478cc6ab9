/**
 * The `escheduler` command, driven as a child process: bad input gets one clear line and a non-zero exit
 * (never a stack trace), and the demo plays its story and exits 0, on the memory store and on etcd.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { parseDuration } from '../src/cli/duration.js';
import { parseListen } from '../src/cli/http.js';
import { parseTaskList } from '../src/cli/load.js';
import { FIXTURES, killAll, runCli } from './fixtures/cli-process.js';
import { freePort, sharedEndpoints, uniqueRoot } from './helpers/etcd.js';

const scratch = mkdtempSync(join(tmpdir(), 'escheduler-cli-'));
// Written here, not kept in test/fixtures: a malformed JSON file would fail the formatter's check.
const malformed = join(scratch, 'malformed.json');
writeFileSync(malformed, '[{ "id": "a1" }, { "id": ]\n');

after(() => {
  killAll();
  rmSync(scratch, { recursive: true, force: true });
});

const fixture = (name: string) => join(FIXTURES, name);

function assertNoStack(stderr: string): void {
  assert.doesNotMatch(stderr, /^\s+at .+:\d+:\d+\)?$/m, `stack trace in stderr:\n${stderr}`);
}

describe('parsers', () => {
  test('durations', () => {
    assert.equal(parseDuration('500ms', '--x'), 500);
    assert.equal(parseDuration('10s', '--x'), 10_000);
    assert.equal(parseDuration('2m', '--x'), 120_000);
    assert.equal(parseDuration('1m30s', '--x'), 90_000);
    assert.equal(parseDuration('1.5s', '--x'), 1_500);
    assert.equal(parseDuration('0', '--x'), 0);
    for (const bad of ['', '5', 's', '10 s', '-1s', '1x']) {
      assert.throws(() => parseDuration(bad, '--x'), /--x: expected a duration/);
    }
  });

  test('listen addresses', () => {
    assert.deepEqual(parseListen('127.0.0.1:9090'), { host: '127.0.0.1', port: 9090 });
    assert.deepEqual(parseListen(':9090'), { host: '0.0.0.0', port: 9090 });
    assert.deepEqual(parseListen('[::1]:80'), { host: '::1', port: 80 });
    assert.throws(() => parseListen('9090'), /--http/);
  });

  test('JSON task lists', () => {
    const tasks = parseTaskList('[{"id":"a","priority":3,"group":"g","key":"k","raw":"hé"}]', 'f.json');
    assert.deepEqual(tasks[0].raw, new Uint8Array(Buffer.from('hé')));
    assert.equal(tasks[0].priority, 3);
    assert.throws(() => parseTaskList('{}', 'f.json'), /expected a JSON array/);
    assert.throws(() => parseTaskList('[{"id":1}]', 'f.json'), /entry 0: "id" must be a non-empty string/);
    assert.throws(
      () => parseTaskList('[{"id":"a","priority":"high"}]', 'f.json'),
      /"priority" must be a number/,
    );
    assert.equal(parseTaskList('[{"id":"a","weight":40}]', 'f.json')[0].weight, 40);
    assert.equal(parseTaskList('[{"id":"a"}]', 'f.json')[0].weight, undefined);
    for (const bad of ['0', '2.5', '"9"', '1000001']) {
      assert.throws(
        () => parseTaskList(`[{"id":"a","weight":${bad}}]`, 'f.json'),
        /f\.json: entry 0 \(a\): "weight" must be an integer in 1\.\.1000000/,
        bad,
      );
    }
  });
});

describe('--version', () => {
  test("prints the package's version", async () => {
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
    const r = await runCli(['--version']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), pkg.version);
  });
});

// Two at a time: each case is a Node process compiling the CLI with tsx, and CI machines may have 2 CPUs.
describe('bad input: a clear message, a non-zero exit, no stack trace', { concurrency: 2 }, () => {
  const cases: [string, () => Promise<string[]>, RegExp][] = [
    ['an unknown flag', async () => ['run', '--root', 'x', '--bogus'], /unknown option '--bogus'/],
    [
      'a missing --root',
      async () => ['run', '--generator', fixture('tasks.json')],
      /--root <name> is required/,
    ],
    [
      'a generator file that does not exist',
      async () => ['run', '--root', 'x', '--generator', fixture('nope.mjs')],
      /--generator: file not found: .*nope\.mjs/,
    ],
    [
      'a generator module without a default function',
      async () => ['run', '--root', 'x', '--generator', fixture('no-default.mjs')],
      /must export a function as default/,
    ],
    [
      'a malformed JSON task list',
      async () => ['run', '--root', 'x', '--generator', malformed],
      /malformed JSON/,
    ],
    [
      'a bad duration',
      async () => ['run', '--root', 'x', '--rebalance-wait', '5', '--generator', fixture('tasks.json')],
      /--rebalance-wait.*expected a duration like 500ms/,
    ],
    [
      'an unreachable etcd',
      async () => [
        'run',
        '--root',
        'x',
        '--max-nodes',
        '3',
        '--generator',
        fixture('tasks.json'),
        '--etcd',
        `127.0.0.1:${await freePort()}`,
        '--connect-timeout',
        '2s',
      ],
      /cannot reach etcd at 127\.0\.0\.1:\d+ within 2000 ms/,
    ],
    ['status without --etcd', async () => ['status', '--root', 'x'], /--etcd <endpoints>.*is required/],
  ];
  for (const [name, args, message] of cases) {
    test(name, async () => {
      // runCli throws unless the process exits by itself: an unreachable etcd ends the command after
      // --connect-timeout, not after endless retries. The bound only keeps a hung run from hanging the suite.
      const r = await runCli(await args(), 60_000);
      assert.notEqual(r.code, 0, `exit code for ${name}`);
      assert.match(r.stderr, message);
      assertNoStack(r.stderr);
    });
  }

  test('the password is never logged', async () => {
    const r = await runCli(
      [
        'run',
        '--root',
        'x',
        '--max-nodes',
        '3',
        '--generator',
        fixture('tasks.json'),
        '--etcd',
        `127.0.0.1:${await freePort()}`,
        '--user',
        'root',
        '--connect-timeout',
        '1s',
        '--log-level',
        'debug',
      ],
      15_000,
      { ESCHEDULER_ETCD_PASSWORD: 'sw0rdfish-secret' },
    );
    assert.notEqual(r.code, 0);
    assert.doesNotMatch(r.stderr + r.stdout, /sw0rdfish-secret/);
  });
});

describe('demo', { concurrency: true }, () => {
  function assertStory(stdout: string): void {
    assert.match(stdout, /barrier: full/);
    assert.match(stdout, /rebalance #1 .*first schedule/);
    assert.match(stdout, /balance: total \d+\/\d+\/\d+\/\d+ \(max−min [01]\)/);
    assert.match(stdout, /joins/);
    assert.match(stdout, /crashes/);
    assert.match(stdout, /task set changes/);
    assert.match(stdout, /moves \d+/);
    assert.match(stdout, /summary: \d+ rebalances/);
    assert.ok((stdout.match(/rebalance #\d+/g) ?? []).length >= 4, `at least 4 rebalances:\n${stdout}`);
  }

  test('plays the story on the memory store and exits 0', async () => {
    const r = await runCli(['demo', '--duration', '5s'], 30_000);
    assert.equal(r.code, 0, r.stderr);
    assertStory(r.stdout);
    assertNoStack(r.stderr);
  });

  test('plays the same story on etcd with --etcd', async () => {
    const root = uniqueRoot('cli-demo');
    const r = await runCli(
      ['demo', '--duration', '6s', '--root', root, '--etcd', sharedEndpoints().join(',')],
      40_000,
    );
    assert.equal(r.code, 0, r.stderr);
    assertStory(r.stdout);
    assert.match(r.stdout, /etcd 127\.0\.0\.1:\d+/);
  });
});
