export interface Flushable {
  flush(): void;
}

/**
 * Coalesces writes: targets marked during this tick are flushed once each, together,
 * after the current synchronous work (e.g. a whole fan-out loop) is done, so a session
 * writes one frame per tick however many messages it got. Targets marked "later" wait
 * for a shared timer of that delay (namespace `batchMs`): one timer per distinct delay,
 * not one per connection.
 */
export class FlushScheduler {
  private dirty = new Set<Flushable>();
  private readonly later = new Map<number, Set<Flushable>>();

  mark(target: Flushable): void {
    if (this.dirty.size === 0) queueMicrotask(this.run);
    this.dirty.add(target);
  }

  markLater(target: Flushable, delayMs: number): void {
    let batch = this.later.get(delayMs);
    if (batch === undefined) {
      const pending = (batch = new Set());
      this.later.set(delayMs, pending);
      setTimeout(() => {
        this.later.delete(delayMs);
        for (const t of pending) t.flush();
      }, delayMs);
    }
    batch.add(target);
  }

  private readonly run = (): void => {
    const batch = this.dirty;
    this.dirty = new Set();
    for (const target of batch) target.flush();
  };
}
