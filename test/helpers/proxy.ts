/**
 * A TCP proxy in front of an etcd member, to cut a client's connection at a chosen moment without
 * touching the member (etcd3's own tests do the same). `hold(bytes)` lets only that many more bytes flow
 * from the server to the clients and then stops reading from the server, so a test can freeze a watch
 * in the middle of its catch-up; `cut()` then resets every connection.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

export class TcpProxy {
  private server?: Server;
  private readonly pairs = new Set<{ client: Socket; upstream: Socket }>();
  private budget = Number.POSITIVE_INFINITY;
  /** Bytes sent from the server to clients so far. */
  downstreamBytes = 0;
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
      upstream.destroy();
    }
    this.pairs.clear();
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private accept(client: Socket): void {
    const upstream = connect(this.upstreamPort, this.upstreamHost);
    const pair = { client, upstream };
    this.pairs.add(pair);
    const drop = () => {
      this.pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', drop);
    upstream.on('error', drop);
    client.on('close', drop);
    upstream.on('close', drop);
    client.on('data', (d) => upstream.write(d));
    upstream.on('data', (d: Buffer) => {
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
