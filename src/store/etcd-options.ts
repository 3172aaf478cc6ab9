/**
 * The etcd adapter's options, their defaults and checks, and the `etcd3` client they configure: one
 * attempt per call (no global retry policy), a gRPC deadline on every unary call, keep-alive pings and a
 * per-endpoint circuit breaker.
 */
import { ConsecutiveBreaker, circuitBreaker, handleWhen, noop } from 'cockatiel';
import { Etcd3, type IOptions, isRecoverableError } from 'etcd3';
import { OptionError } from '../errors.js';

/** @default 5_000 (ms) */
export const DEFAULT_CALL_TIMEOUT = 5_000;
/** gRPC keep-alive ping interval on connections with open streams; detects a paused member under a watch. */
export const DEFAULT_GRPC_KEEPALIVE_TIME = 10_000;

/** Extra `etcd3` client options. Retries and call options are not among them: they are this adapter's job. */
export interface EtcdClientExtras {
  /** gRPC channel options, merged over ours (keep-alive, reconnect backoff, unlimited receive size). */
  grpcOptions?: IOptions['grpcOptions'];
  /** Per-endpoint policy. @default circuit breaker: skip an endpoint for 2 s after 3 consecutive failures */
  hostPolicy?: NonNullable<IOptions['faultHandling']>['host'];
}

export interface EtcdStoreOptions {
  /**
   * Client endpoints: `host:port`, `http://host:port` or `https://host:port` (TLS), as an array or one
   * comma-separated string (see {@link parseEndpoints}).
   */
  hosts: string | string[];
  /** Password authentication. @default none */
  auth?: { username: string; password: string };
  /** TLS: CA certificate, and client key and certificate for mutual TLS. @default none (plain text) */
  credentials?: { rootCertificate: Buffer; privateKey?: Buffer; certChain?: Buffer };
  /**
   * Deadline of every call, including creating a watch and one lease keep-alive. Connecting to an
   * endpoint is bounded by it too (etcd3 1.1.2 has no working dial timeout of its own).
   * @default 5_000 (ms)
   */
  callTimeout?: number;
  /** Extra options for the `etcd3` client. */
  etcd3?: EtcdClientExtras;
}

/**
 * Parses endpoints such as `"a:2379,b:2379"` or `"http://a:2379, https://b:2379"`: returns `host:port`
 * for plain-text endpoints and keeps `https://` (it switches etcd3 to TLS). Throws `OptionError` naming
 * the bad entry.
 */
export function parseEndpoints(value: string | string[], option = 'hosts'): string[] {
  const entries = (Array.isArray(value) ? value : value.split(','))
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (entries.length === 0) {
    throw new OptionError(`${option} must name at least one etcd endpoint, got ${JSON.stringify(value)}`);
  }
  const endpoints = entries.map((entry) => {
    const m = /^(https?:\/\/)?(\[[0-9a-fA-F:.]+\]|[^\s/:[\]]+):(\d{1,5})\/?$/.exec(entry);
    if (!m || Number(m[3]) > 65535) {
      throw new OptionError(
        `${option}: an etcd endpoint must be host:port or http(s)://host:port, got ${JSON.stringify(entry)}`,
      );
    }
    return `${m[1] === 'https://' ? 'https://' : ''}${m[2]}:${m[3]}`;
  });
  const secure = endpoints.filter((e) => e.startsWith('https://')).length;
  if (secure > 0 && secure < endpoints.length) {
    throw new OptionError(`${option}: mixes https:// and plain endpoints: ${endpoints.join(',')}`);
  }
  return endpoints;
}

/** `callTimeout` with its default; throws `OptionError` unless it is a positive number of ms. */
export function parseCallTimeout(value: number | undefined): number {
  const callTimeout = value ?? DEFAULT_CALL_TIMEOUT;
  if (!Number.isFinite(callTimeout) || callTimeout <= 0) {
    throw new OptionError(`callTimeout must be a positive number of ms, got ${String(value)}`);
  }
  return callTimeout;
}

/** The `etcd3` client on parsed endpoints: no global retries, a deadline on each unary call. */
export function createEtcdClient(
  options: EtcdStoreOptions,
  endpoints: readonly string[],
  callTimeout: number,
): Etcd3 {
  return new Etcd3({
    hosts: [...endpoints],
    auth: options.auth,
    credentials: options.credentials,
    defaultCallOptions: (context) => (context.isStream ? {} : { deadline: Date.now() + callTimeout }),
    grpcOptions: {
      'grpc.keepalive_time_ms': DEFAULT_GRPC_KEEPALIVE_TIME,
      'grpc.keepalive_timeout_ms': callTimeout,
      'grpc.initial_reconnect_backoff_ms': 100,
      'grpc.max_reconnect_backoff_ms': 2_000,
      'grpc.max_receive_message_length': -1,
      ...options.etcd3?.grpcOptions,
    },
    faultHandling: {
      global: noop,
      host:
        options.etcd3?.hostPolicy ??
        (() =>
          circuitBreaker(handleWhen(isRecoverableError), {
            halfOpenAfter: 2_000,
            breaker: new ConsecutiveBreaker(3),
          })),
    },
  });
}
