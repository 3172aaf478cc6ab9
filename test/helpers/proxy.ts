/**
 * A TCP proxy in front of an etcd member, to cut a client's connection at a chosen moment without
 * touching the member (etcd3's own tests do the same). `hold(bytes)` lets only that many more bytes flow
 * from the server to the clients and then stops reading from the server, so a test can freeze a watch
 * in the middle of its catch-up; `cut()` then resets every connection.
 *
 * Partitions (issue 18): `isolate()` resets every connection and every new one until `heal()` (a refused
 * route: the client sees errors at once); `blackhole()` keeps every connection open and lets nothing
 * through in either direction, new connections included (a dropped route, half-open TCP: the client sees
 * nothing at all). A blackholed connection stays dead after `heal()` (as after a NAT or firewall dropped
 * its state): only new connections work again, so a client recovers only if its deadlines and keep-alive
 * pings notice the dead ones.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

interface Pair {
  client: Socket;
  upstream?: Socket;
  /** Blackholed: nothing is forwarded on this connection, ever again. */
  dead: boolean;
}

export class TcpProxy {
  private server?: Server;
  private readonly pairs = new Set<Pair>();
  /** Every socket not yet closed, both sides: `close()` waits for them. */
  private readonly sockets = new Set<Socket>();
  private budget = Number.POSITIVE_INFINITY;
  private mode: 'open' | 'isolated' | 'blackhole' = 'open';
  /** Bytes sent from the server to clients so far. */
  downstreamBytes = 0;
  /** Bytes the blackhole swallowed (both directions). */
  swallowedBytes = 0;
  port = 0;

  constructor(
    private readonly upstreamHost: string,
    private readonly upstreamPort: number,
  ) {}

  /** `host:port` of the proxy. */
  get endpoint(): string {
    return `127.0.0.1:${this.port}`;
  }

  async listen(): Promise<void> {
    const server = createServer((client) => this.accept(client));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const addr = server.address();
    this.port = typeof addr === 'object' && addr ? addr.port : 0;
  }

  /** From now on, forward at most `bytes` more from the server, then stall (the server's data waits). */
  hold(bytes: number): void {
    this.budget = this.downstreamBytes + bytes;
  }

  /** True when a server-to-client transfer is stalled by {@link hold}. */
  get holding(): boolean {
    return this.downstreamBytes >= this.budget;
  }

  /** Resets every open connection (the clients see a broken connection) and lifts any hold. */
  cut(): void {
    this.budget = Number.POSITIVE_INFINITY;
    for (const { client, upstream } of this.pairs) {
      client.resetAndDestroy();
      upstream?.destroy();
    }
    this.pairs.clear();
  }

  /** Resets every connection, and every new one, until {@link heal}. */
  isolate(): void {
    this.mode = 'isolated';
    this.cut();
  }

  /** Nothing flows any more on open connections, nor on new ones; they all stay open. */
  blackhole(): void {
    this.mode = 'blackhole';
    for (const p of this.pairs) p.dead = true;
  }

  /** New connections work again; blackholed ones stay dead until their client gives up on them. */
  heal(): void {
    this.mode = 'open';
  }

  /** Connections open now: live ones and blackholed ones. */
  get connections(): { live: number; dead: number } {
    let dead = 0;
    for (const p of this.pairs) if (p.dead) dead++;
    return { live: this.pairs.size - dead, dead };
  }

  async close(): Promise<void> {
    const closing = this.server
      ? new Promise<void>((resolve) => this.server!.close(() => resolve()))
      : undefined;
    this.mode = 'isolated';
    // Plain destroy, not a reset: a reset of a socket whose peer is gone can leave a request pending that
    // keeps Node from exiting (seen with killed clients).
    this.pairs.clear();
    for (const s of this.sockets) s.destroy();
    await Promise.all([...this.sockets].map((s) => new Promise((resolve) => s.once('close', resolve))));
    await closing;
  }

  private track(s: Socket): void {
    this.sockets.add(s);
    s.once('close', () => this.sockets.delete(s));
  }

  private accept(client: Socket): void {
    this.track(client);
    if (this.mode === 'isolated') {
      client.on('error', () => undefined);
      client.resetAndDestroy();
      return;
    }
    const pair: Pair = { client, dead: this.mode === 'blackhole' };
    this.pairs.add(pair);
    const drop = () => {
      this.pairs.delete(pair);
      client.destroy();
      pair.upstream?.destroy();
    };
    client.on('error', drop);
    client.on('close', drop);
    if (pair.dead) {
      // Accepted by the kernel, then silence: the client's connect "succeeds" and nothing ever answers.
      client.on('data', (d: Buffer) => {
        this.swallowedBytes += d.length;
      });
      return;
    }
    const upstream = connect(this.upstreamPort, this.upstreamHost);
    this.track(upstream);
    pair.upstream = upstream;
    upstream.on('error', drop);
    upstream.on('close', drop);
    client.on('data', (d: Buffer) => {
      if (pair.dead) this.swallowedBytes += d.length;
      else upstream.write(d);
    });
    upstream.on('data', (d: Buffer) => {
      if (pair.dead) {
        this.swallowedBytes += d.length;
        return;
      }
      const room = this.budget - this.downstreamBytes;
      if (room >= d.length) {
        this.downstreamBytes += d.length;
        client.write(d);
        return;
      }
      // Over budget: pass what fits, keep the rest, and stop reading until the connection is cut.
      if (room > 0) {
        this.downstreamBytes += room;
        client.write(d.subarray(0, room));
      }
      upstream.pause();
    });
  }
}
