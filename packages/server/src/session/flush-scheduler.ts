export interface Flushable {
  flush(): void;
}

/**
 * Coalesces writes: targets marked during this tick are flushed once each, together,
 * after the current synchronous work (e.g. a whole fan-out loop) is done, so a session
 * writes one frame per tick however many messages it got.
 */
export class FlushScheduler {
  private dirty = new Set<Flushable>();

  mark(target: Flushable): void {
    if (this.dirty.size === 0) queueMicrotask(this.run);
    this.dirty.add(target);
  }

  private readonly run = (): void => {
    const batch = this.dirty;
    this.dirty = new Set();
    for (const target of batch) target.flush();
  };
}
