type Op = 'subscribe' | 'unsubscribe';

interface Pending {
  readonly op: Op;
  readonly channels: readonly string[];
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

/**
 * Batches a node's broker interest changes: everything asked in one tick goes out as
 * few commands as possible (consecutive subscribes merged into one command, likewise
 * unsubscribes), in the order asked, so a storm of first subscribers costs a handful of
 * round trips instead of one per channel.
 */
export class InterestBatcher {
  private pending: Pending[] = [];

  constructor(private readonly send: (op: Op, channels: readonly string[]) => Promise<void>) {}

  request(op: Op, channels: readonly string[]): Promise<void> {
    if (channels.length === 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      if (this.pending.length === 0) queueMicrotask(() => this.flush());
      this.pending.push({ op, channels, resolve, reject });
    });
  }

  private flush(): void {
    const batch = this.pending;
    this.pending = [];
    let start = 0;
    while (start < batch.length) {
      const op = (batch[start] as Pending).op;
      let end = start;
      while (end < batch.length && (batch[end] as Pending).op === op) end++;
      const group = batch.slice(start, end);
      this.send(op, [...new Set(group.flatMap((p) => p.channels))]).then(
        () => group.forEach((p) => p.resolve()),
        (err: unknown) => group.forEach((p) => p.reject(err)),
      );
      start = end;
    }
  }
}
