/**
 * In a reconnect storm, subscribes that recover (clients that were connected a moment
 * ago and are owed publications) go first: a new subscription waits while recoveries
 * are running, up to `maxWaitMs`, so the history reads of returning clients are not
 * queued behind clients that have nothing to catch up on.
 */
export class RecoveryFirst {
  private running = 0;
  private waiters: (() => void)[] = [];

  async recovering<T>(work: () => Promise<T>): Promise<T> {
    this.running += 1;
    try {
      return await work();
    } finally {
      this.running -= 1;
      if (this.running === 0) for (const wake of this.waiters.splice(0)) wake();
    }
  }

  /** Resolves when no recovery is running, or after `maxWaitMs`. */
  giveWay(maxWaitMs: number): Promise<void> {
    if (this.running === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, maxWaitMs);
      this.waiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}
