/**
 * Signal helpers. Long-lived signals (a worker's stop signal, a session's) outlive many short waits: a
 * wait must detach from them when it ends. `AbortSignal.any` does not (its source keeps a reference until
 * the source aborts or is collected), so combine signals with {@link linkedSignal} and dispose it.
 */

/** The reason of an aborted signal as an Error (an `AbortError` when the signal carries none). */
export function abortReason(signal: AbortSignal): Error {
  const r: unknown = signal.reason;
  if (r instanceof Error) return r;
  const e = new Error(r === undefined ? 'The operation was aborted' : String(r));
  e.name = 'AbortError';
  return e;
}

/**
 * Aborts `target` when `source` aborts (at once if it already has); returns the function that unlinks
 * them. Unlike `AbortSignal.any`, nothing stays attached to a long-lived source after the unlink.
 */
export function linkSignal(target: AbortController, source: AbortSignal | undefined): () => void {
  if (!source) return () => {};
  if (source.aborted) {
    target.abort(source.reason);
    return () => {};
  }
  const onAbort = () => target.abort(source.reason);
  source.addEventListener('abort', onAbort, { once: true });
  return () => source.removeEventListener('abort', onAbort);
}

/**
 * Settles like `promise`, or rejects with the signal's reason as soon as it aborts — so a call that hangs
 * (a frozen etcd member) never holds up a stop. The promise keeps running; its late outcome is ignored.
 */
export function raceSignal<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) {
    promise.catch(() => undefined); // the caller gave up on this call; its outcome no longer matters
    return Promise.reject(abortReason(signal));
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(abortReason(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

/** A signal that aborts when any source does, and a `dispose()` that detaches it from every source. */
export interface LinkedSignal {
  readonly signal: AbortSignal;
  /** Aborts the linked signal (if it has not) and removes its listeners from the sources. */
  dispose(): void;
}

/**
 * Like `AbortSignal.any(sources)`, but detachable: call `dispose()` when the wait it serves is over, so
 * nothing stays attached to a long-lived source. Undefined sources are ignored.
 */
export function linkedSignal(...sources: (AbortSignal | undefined)[]): LinkedSignal {
  const controller = new AbortController();
  const unlinks = sources.map((s) => linkSignal(controller, s));
  return {
    signal: controller.signal,
    dispose() {
      for (const u of unlinks) u();
      if (!controller.signal.aborted) controller.abort(new Error('linked signal disposed'));
    },
  };
}

/** Resolves when `signal` aborts (at once if it has), detaching its listener when `until` settles first. */
export function onAbort(signal: AbortSignal, until?: Promise<unknown>): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const done = () => {
      signal.removeEventListener('abort', done);
      resolve();
    };
    signal.addEventListener('abort', done, { once: true });
    until?.then(done, done);
  });
}
