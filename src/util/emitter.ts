/**
 * A typed event emitter with one payload object per event. A listener that throws cannot break the
 * loop that emits: the error is handed to `onListenerError` (logged by the owner) instead.
 */
export type Listener<T> = (payload: T) => void;

export class TypedEmitter<Events extends { [K in keyof Events]: object }> {
  /** Per event: the listener as registered → the function called (a wrapper for `once`). */
  private readonly listeners = new Map<keyof Events, Map<Listener<never>, Listener<never>>>();

  constructor(private readonly onListenerError: (event: string, err: unknown) => void = () => {}) {}

  on<K extends keyof Events>(event: K, listener: Listener<Events[K]>): this {
    return this.#add(event, listener, listener);
  }

  /** Calls `listener` on the next `event` only; `off(event, listener)` removes it before that. */
  once<K extends keyof Events>(event: K, listener: Listener<Events[K]>): this {
    const wrapped: Listener<Events[K]> = (p) => {
      this.off(event, listener);
      listener(p);
    };
    return this.#add(event, listener, wrapped);
  }

  off<K extends keyof Events>(event: K, listener: Listener<Events[K]>): this {
    const map = this.listeners.get(event);
    map?.delete(listener as Listener<never>);
    if (map?.size === 0) this.listeners.delete(event);
    return this;
  }

  /** Listeners of `event` now. */
  listenerCount<K extends keyof Events>(event: K): number {
    return this.listeners.get(event)?.size ?? 0;
  }

  /** Calls every listener of `event`; returns whether there was any. */
  protected emit<K extends keyof Events>(event: K, payload: Events[K]): boolean {
    const map = this.listeners.get(event);
    if (!map || map.size === 0) return false;
    for (const l of [...map.values()]) {
      try {
        (l as Listener<Events[K]>)(payload);
      } catch (err) {
        this.onListenerError(String(event), err);
      }
    }
    return true;
  }

  #add<K extends keyof Events>(event: K, key: Listener<Events[K]>, fn: Listener<Events[K]>): this {
    let map = this.listeners.get(event);
    if (!map) {
      map = new Map();
      this.listeners.set(event, map);
    }
    map.set(key as Listener<never>, fn as Listener<never>);
    return this;
  }
}
