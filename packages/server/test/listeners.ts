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
