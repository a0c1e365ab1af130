/** Synchronous listeners for a stream of messages, with "wait for the next one that matches". */
export class Listeners<M> {
  private readonly fns = new Set<(m: M) => void>();

  emit(m: M): void {
    for (const fn of [...this.fns]) fn(m);
  }

  /** Calls `fn` for every later message, in order; returns the unsubscribe function. */
  on(fn: (m: M) => void): () => void {
    this.fns.add(fn);
    return () => this.fns.delete(fn);
  }

  /** The next message (from now on) that satisfies `match`. */
  waitFor(match: (m: M) => boolean): Promise<M> {
    return new Promise((resolve) => {
      const off = this.on((m) => {
        if (!match(m)) return;
        off();
        resolve(m);
      });
    });
  }
}

/** A message of the JSON protocol, parsed. */
export type Msg = Record<string, any>;

/**
 * A raw protocol client's command side: ids counted from 1, `call` resolves with the
 * reply to its command. Subclasses say how a command goes out and feed what comes in
 * to `listeners`.
 */
export abstract class CommandPeer {
  protected readonly listeners = new Listeners<Msg>();
  private lastId = 0;

  protected abstract transmit(id: number, method: string, params: unknown): void;

  /** Calls `fn` for every later message, in order; returns the unsubscribe function. */
  on(fn: (m: Msg) => void): () => void {
    return this.listeners.on(fn);
  }

  /** The next message (from now on) that satisfies `match`. */
  waitFor(match: (m: Msg) => boolean): Promise<Msg> {
    return this.listeners.waitFor(match);
  }

  /** Sends `{id, [method]: params}`; returns the id. */
  send(method: string, params: unknown): number {
    const id = ++this.lastId;
    this.transmit(id, method, params);
    return id;
  }

  /** Sends a command and resolves with its whole reply message (`{id, method: …}` or `{id, error}`). */
  call(method: string, params: unknown): Promise<Msg> {
    const id = this.lastId + 1;
    const reply = this.waitFor((m) => m['id'] === id);
    this.send(method, params);
    return reply;
  }
}
