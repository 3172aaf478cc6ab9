/**
 * `escheduler demo`: a fleet in one process — two master candidates and `--workers` workers on the
 * memory store (or a real etcd with `--etcd`) — playing a short story: start-up barrier, first schedule,
 * a worker joins, a worker crashes (its lease revoked, no drain), the task set changes. Shown live as a
 * table on a terminal, as plain lines otherwise. Ends after `--duration` with exit code 0.
 */
import { keys, rootPath } from '../scheduler/keys.js';
import { CliError, type ConnectionFlags, openStore } from './common.js';
import { Demo, type DemoOptions } from './demo-fleet.js';

export interface DemoFlags extends ConnectionFlags, DemoOptions {
  root?: string;
}

const MIN_DURATION = 4_000;

export async function demoCommand(flags: DemoFlags): Promise<number> {
  if (flags.duration < MIN_DURATION) {
    throw new CliError(`--duration: at least ${MIN_DURATION / 1000}s, for the story to fit`);
  }
  const generated = flags.root === undefined;
  const root = flags.root ?? `escheduler-demo-${process.pid}-${Date.now().toString(36)}`;
  try {
    rootPath(root);
  } catch (err) {
    throw new CliError((err as Error).message);
  }
  const { store, describe } = await openStore(flags, keys(root).barrierLeft);
  const storeName = store.kind === 'memory' ? 'memory store (one process, not distributed)' : describe;
  if (store.kind === 'etcd') {
    const existing = await store.range(`${keys(root).root}/`, { prefix: true, countOnly: true });
    if (existing.count > 0) {
      await store.close();
      throw new CliError(
        `demo: root ${keys(root).root} holds ${existing.count} keys already; pick a fresh --root`,
      );
    }
  }
  const demo = new Demo(store, storeName, root, flags);
  const abort = new AbortController();
  let interrupted = 0;
  const onSignal = () => {
    interrupted++;
    if (interrupted > 1) process.exit(130);
    abort.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    await demo.play(abort.signal);
  } finally {
    await demo.finish();
    if (store.kind === 'etcd' && generated) {
      await store.delete(`${keys(root).root}/`, { prefix: true }).catch(() => undefined);
    }
    await store.close().catch(() => undefined);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  return 0;
}
