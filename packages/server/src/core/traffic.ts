/**
 * Traffic counters bumped on the hot path as plain numbers; metrics read them at
 * scrape time, so a delivery costs an addition, not a metrics-library call.
 */
export type OverflowAction = 'dropped' | 'coalesced' | 'paused' | 'skipped' | 'resynced' | 'shed';

export class TrafficStats {
  framesOut = 0;
  bytesOut = 0;
  framesIn = 0;
  bytesIn = 0;
  readonly messagesOut = { reply: 0, push: 0, ping: 0 };
  /** Overflow policy actions by "namespace, policy, action". */
  readonly overflow = new Map<string, number>();

  countOverflow(where: { readonly namespace: string; readonly policy: string }, action: OverflowAction): void {
    const key = `${where.namespace}\u0000${where.policy}\u0000${action}`;
    this.overflow.set(key, (this.overflow.get(key) ?? 0) + 1);
  }
}
