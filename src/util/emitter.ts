/**
 * A typed event emitter with one payload object per event. A listener that throws cannot break the
 * loop that emits: the error is handed to `onListenerError` (logged by the owner) instead.
 */
export type Listener<T> = (payload: T) => void;

export class TypedEmitter<Events extends { [K in keyof Events]: object }> {
  private readonly listeners = new Map<keyof Events, Set<Listener<never>>>();

  constructor(private readonly onListenerError: (event: string, err: unknown) => void = () => {}) {}

  on<K extends keyof Events>(event: K, listener: Listener<Events[K]>): this {
    let set = this.listeners.get(event);
    if (!set) {
      set = new Set();
      this.listeners.set(event, set);
    }
    set.add(listener as Listener<never>);
    return this;
  }

  once<K extends keyof Events>(event: K, listener: Listener<Events[K]>): this {
    const wrapped: Listener<Events[K]> = (p) => {
      this.off(event, wrapped);
      listener(p);
    };
    return this.on(event, wrapped);
  }

  off<K extends keyof Events>(event: K, listener: Listener<Events[K]>): this {
    this.listeners.get(event)?.delete(listener as Listener<never>);
    return this;
  }

  /** Calls every listener of `event`; returns whether there was any. */
  protected emit<K extends keyof Events>(event: K, payload: Events[K]): boolean {
    const set = this.listeners.get(event);
    if (!set || set.size === 0) return false;
    for (const l of [...set]) {
      try {
        (l as Listener<Events[K]>)(payload);
      } catch (err) {
        this.onListenerError(String(event), err);
      }
    }
    return true;
  }
}
