/**
 * What every subcommand shares: the error type that becomes a one-line message and an exit code, the etcd
 * connection flags (endpoints, auth, TLS) and the pino logger.
 */
import { readFileSync } from 'node:fs';
import type { Command, Option } from 'commander';
import { type Logger as PinoLogger, pino } from 'pino';
import { EschedulerError } from '../errors.js';
import { EtcdStore, parseEndpoints } from '../store/etcd.js';
import { MemoryStore } from '../store/memory.js';
import type { Store } from '../store/port.js';

/** A problem the user can fix: printed as one line (no stack trace), exit code `exitCode`. */
export class CliError extends Error {
  override name = 'CliError';
  constructor(
    message: string,
    readonly exitCode = 2,
  ) {
    super(message);
  }
}

/** The etcd connection flags, as commander parses them. */
export interface ConnectionFlags {
  etcd?: string;
  user?: string;
  passwordFile?: string;
  cacert?: string;
  cert?: string;
  key?: string;
  connectTimeout?: number;
}

/** Adds `--etcd`, `--user`, `--password-file`, `--cacert`, `--cert`, `--key`, `--connect-timeout`. */
export function addConnectionFlags(
  cmd: Command,
  durationOption: (flag: string, description: string, defaultMs: number) => Option,
): Command {
  return cmd
    .option(
      '--etcd <endpoints>',
      'etcd endpoints, comma-separated: host:port or http(s)://host:port (env ESCHEDULER_ETCD)',
    )
    .option('--user <name>', 'etcd user for password authentication (env ESCHEDULER_ETCD_USER)')
    .option(
      '--password-file <file>',
      'file holding the etcd password (or env ESCHEDULER_ETCD_PASSWORD); never logged',
    )
    .option('--cacert <file>', 'CA certificate (PEM) to verify the etcd server (TLS)')
    .option('--cert <file>', 'client certificate (PEM) for mutual TLS')
    .option('--key <file>', 'client private key (PEM) for mutual TLS')
    .addOption(
      durationOption(
        '--connect-timeout',
        'deadline of every etcd call, and for reaching etcd at start-up',
        5_000,
      ),
    );
}

function readSecretFile(path: string, flag: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new CliError(
      `${flag}: cannot read ${JSON.stringify(path)}: ${(err as NodeJS.ErrnoException).code ?? err}`,
    );
  }
}

/** Endpoints from `--etcd` or `ESCHEDULER_ETCD`, or undefined for the memory store. */
export function etcdEndpoints(flags: ConnectionFlags): string[] | undefined {
  const raw = flags.etcd ?? process.env.ESCHEDULER_ETCD;
  if (raw === undefined || raw.trim() === '') return undefined;
  try {
    return parseEndpoints(raw, '--etcd');
  } catch (err) {
    throw new CliError((err as Error).message);
  }
}

/** Builds the EtcdStore options from the flags; reads the password and certificates, never prints them. */
export function etcdOptions(
  flags: ConnectionFlags,
  hosts: string[],
): ConstructorParameters<typeof EtcdStore>[0] {
  const user = flags.user ?? process.env.ESCHEDULER_ETCD_USER;
  let password = process.env.ESCHEDULER_ETCD_PASSWORD;
  if (flags.passwordFile)
    password = readSecretFile(flags.passwordFile, '--password-file').toString('utf8').trim();
  if (password !== undefined && !user) {
    throw new CliError(
      'an etcd password was given (--password-file or ESCHEDULER_ETCD_PASSWORD) but no --user',
    );
  }
  if (user && password === undefined) {
    throw new CliError(`--user ${user}: give the password with --password-file or ESCHEDULER_ETCD_PASSWORD`);
  }
  if ((flags.cert === undefined) !== (flags.key === undefined)) {
    throw new CliError('--cert and --key go together (client certificate and its private key)');
  }
  if (flags.cert && !flags.cacert) {
    throw new CliError('--cert/--key need --cacert (the CA that signed the etcd server certificate)');
  }
  const options: ConstructorParameters<typeof EtcdStore>[0] = {
    hosts,
    callTimeout: flags.connectTimeout ?? 5_000,
  };
  if (user && password !== undefined) options.auth = { username: user, password };
  if (flags.cacert) {
    options.credentials = {
      rootCertificate: readSecretFile(flags.cacert, '--cacert'),
      ...(flags.cert ? { certChain: readSecretFile(flags.cert, '--cert') } : {}),
      ...(flags.key ? { privateKey: readSecretFile(flags.key, '--key') } : {}),
    };
  }
  return options;
}

export interface OpenedStore {
  store: Store;
  /** For messages: `etcd 127.0.0.1:2379` or `memory (single process)`. */
  describe: string;
}

/**
 * Opens the store the flags name and, for etcd, checks within `--connect-timeout` that it answers
 * (reading `probeKey`), so an unreachable etcd is a clear message instead of endless retries.
 */
export async function openStore(flags: ConnectionFlags, probeKey: string): Promise<OpenedStore> {
  const hosts = etcdEndpoints(flags);
  if (!hosts) return { store: new MemoryStore(), describe: 'memory (single process)' };
  let store: EtcdStore;
  try {
    store = new EtcdStore(etcdOptions(flags, hosts));
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw new CliError(`--etcd: ${(err as Error).message}`);
  }
  const timeout = flags.connectTimeout ?? 5_000;
  try {
    await Promise.race([
      store.get(probeKey),
      new Promise((_, reject) => setTimeout(() => reject(new Error('no answer')), timeout + 1_000).unref()),
    ]);
  } catch (err) {
    await store.close().catch(() => undefined);
    const why = err instanceof EschedulerError || err instanceof Error ? err.message : String(err);
    throw new CliError(`cannot reach etcd at ${hosts.join(',')} within ${timeout} ms: ${why}`, 1);
  }
  return { store, describe: `etcd ${hosts.join(',')}` };
}

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** A pino logger writing JSON lines to stderr (fd 2), or stdout with `toStdout`; secrets redacted. */
export function makeLogger(level: LogLevel, toStdout = false): PinoLogger {
  return pino(
    {
      level,
      base: { pid: process.pid },
      redact: { paths: ['password', '*.password', 'auth', '*.auth'], censor: '[redacted]' },
    },
    pino.destination({ fd: toStdout ? 1 : 2, sync: true }),
  );
}
