export interface Flushable {
  flush(): void;
}

/**
 * Coalesces writes: sessions that queued messages during this tick are flushed once,
 * together, after the current synchronous work (e.g. a whole fan-out loop) is done,
 * so every session writes one frame per tick however many messages it got.
 */
export class FlushScheduler {
  private dirty: Flushable[] = [];
  private scheduled = false;

  mark(target: Flushable): void {
    this.dirty.push(target);
    if (this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(this.run);
  }

  private readonly run = (): void => {
    this.scheduled = false;
    const batch = this.dirty;
    this.dirty = [];
    for (const target of batch) target.flush();
  };
}
