/**
 * One raw etcd watch on its own gRPC `Watch` stream, as an async iterator of batches.
 *
 * Built on etcd3's rpc `WatchClient` rather than its `Watcher`, because the `Watcher` resumes by itself
 * after a reconnect from the last *header* revision + 1 (which skips events when a catch-up batch was
 * cut) and only emits an error on compaction. Here nothing resumes: when the stream breaks, the iterator
 * first delivers the batches it already received and then throws, so the caller resumes from its last
 * event's mod revision + 1 and loses nothing.
 *
 * State machine: starting → created → (failed | finished); `teardown()` is the one exit path. One stream
 * per watch keeps watches independent (one broken or slow watch cannot stall another); gRPC still
 * multiplexes them over one HTTP/2 connection per endpoint.
 */
import type { IDuplexStream, IKeyValue, IWatchRequest, IWatchResponse, WatchClient } from 'etcd3';
import { CompactedError, StoreRequestError, StoreUnavailableError } from '../errors.js';
import { AsyncQueue } from '../util/queue.js';
import type { KeyValue, WatchBatch, WatchEvent } from './port.js';

/** What one watch needs from its store. */
export interface EtcdWatchContext {
  readonly watchClient: WatchClient;
  /** Deadline for the server to confirm the watch (ms). */
  readonly callTimeout: number;
  /** Converts a raw key-value. */
  toKeyValue(kv: IKeyValue): KeyValue;
  /** Maps a stream error to one of our error classes. */
  mapError(err: unknown): Error;
  /** Called once when the watch is over, whatever the reason. */
  onClosed(watch: EtcdWatch): void;
}

export interface EtcdWatchRequest {
  key: Buffer;
  /** Absent for a single key. */
  rangeEnd?: Buffer;
  /** 0 = from now on. */
  startRevision: number;
  prevKv: boolean;
  signal?: AbortSignal;
  /** For error messages: the watched key as the caller named it. */
  label: string;
}

export class EtcdWatch implements AsyncIterableIterator<WatchBatch> {
  /** Batches received and not yet read; `return()` (a `break`) tears the watch down. */
  private readonly queue = new AsyncQueue<WatchBatch>([], () => this.teardown());
  /** No batch will be added any more (aborted, closed, or failed). */
  private over = false;
  private stream?: IDuplexStream<IWatchRequest, IWatchResponse>;
  private createTimer?: NodeJS.Timeout;
  private readonly onAbort = () => this.finish();

  constructor(
    private readonly ctx: EtcdWatchContext,
    private readonly request: EtcdWatchRequest,
  ) {
    if (request.signal?.aborted) {
      this.finish();
      return;
    }
    request.signal?.addEventListener('abort', this.onAbort, { once: true });
    this.createTimer = setTimeout(
      () =>
        this.fail(
          new StoreUnavailableError(
            `etcd watch ${request.label}: not created within ${ctx.callTimeout} ms (endpoint unreachable or paused)`,
          ),
        ),
      ctx.callTimeout,
    );
    ctx.watchClient.watch().then(
      (stream) => this.attach(stream),
      (err: unknown) => this.fail(ctx.mapError(err)),
    );
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<WatchBatch> {
    return this;
  }

  next(): Promise<IteratorResult<WatchBatch>> {
    return this.queue.next();
  }

  /** `break` out of `for await`: cancels the watch. */
  return(): Promise<IteratorResult<WatchBatch>> {
    return this.queue.return();
  }

  /** Ends the watch without error (abort, `break`, store closed); queued batches are dropped. */
  finish(): void {
    this.queue.stop();
    this.teardown();
  }

  private attach(stream: IDuplexStream<IWatchRequest, IWatchResponse>): void {
    if (this.over) {
      closeStream(stream);
      return;
    }
    this.stream = stream;
    stream.on('data', (res) => this.onResponse(res));
    stream.on('error', (err) => this.fail(this.ctx.mapError(err)));
    stream.on('end', () =>
      this.fail(new StoreUnavailableError(`etcd watch ${this.request.label}: stream ended by the server`)),
    );
    const { key, rangeEnd, startRevision, prevKv } = this.request;
    stream.write({
      create_request: {
        key,
        range_end: rangeEnd,
        start_revision: startRevision,
        prev_kv: prevKv,
        progress_notify: false,
      },
    });
  }

  private onResponse(res: IWatchResponse): void {
    if (this.over) return;
    if (res.created) clearTimeout(this.createTimer);
    if (res.events.length > 0) {
      this.queue.push({
        events: res.events.map((e) => this.toEvent(e)),
        revision: Number(res.header.revision),
      });
    }
    if (res.canceled) this.fail(this.cancelError(res));
  }

  private toEvent(e: IWatchResponse['events'][number]): WatchEvent {
    const event: WatchEvent = {
      // The proto loader gives enum names ('PUT' / 'DELETE').
      type: String(e.type).toUpperCase() === 'DELETE' ? 'delete' : 'put',
      kv: this.ctx.toKeyValue(e.kv),
    };
    if (e.prev_kv) event.prevKv = this.ctx.toKeyValue(e.prev_kv);
    return event;
  }

  private cancelError(res: IWatchResponse): Error {
    const compactRevision = Number(res.compact_revision);
    if (compactRevision > 0) return new CompactedError(compactRevision);
    const reason = res.cancel_reason || 'no reason given';
    const message = `etcd watch ${this.request.label}: canceled by the server: ${reason}`;
    // A refused watch (permission) fails again when retried; anything else (no leader...) may pass.
    return /permission denied|invalid auth|authentication/.test(reason)
      ? new StoreRequestError(message)
      : new StoreUnavailableError(message);
  }

  /** Breaks the watch: the reader gets the batches already received, then `err`. */
  private fail(err: Error): void {
    if (this.over) return;
    this.queue.fail(err);
    this.teardown();
  }

  private teardown(): void {
    if (this.over) return;
    this.over = true;
    clearTimeout(this.createTimer);
    this.request.signal?.removeEventListener('abort', this.onAbort);
    if (this.stream) closeStream(this.stream);
    this.ctx.onClosed(this);
  }
}

/**
 * Half-closes, then cancels the gRPC stream: the server drops every watcher of the stream. Ending first
 * makes the stream non-writable, so etcd3's pool does not take our own cancellation for a host failure
 * (which would reset every connection to that host).
 */
function closeStream(stream: IDuplexStream<IWatchRequest, IWatchResponse>): void {
  stream.end();
  stream.cancel();
}
