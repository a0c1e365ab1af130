/**
 * Loss, duplicates and reordering of one subscriber's stream from one publisher.
 * Sequences are per (publisher, channel), so a subscriber of one channel sees 0, 1, 2, …
 * Missing numbers wait in `gaps`: arriving later is a reordering, never arriving a loss,
 * arriving twice a duplicate.
 */

/** Gaps wider than this are counted as lost at once rather than remembered one by one. */
const maxRememberedGap = 100_000;

export class SequenceState {
  unique = 0;
  duplicates = 0;
  reordered = 0;
  /** Lost for sure: numbers skipped in gaps too wide to remember. */
  private forgotten = 0;
  private next: number;
  private last = -1;
  private gaps: Set<number> | undefined;

  /**
   * @param origin first sequence this subscriber must get: 0 when it subscribed before
   * publishing began; undefined when it joined mid-stream (then its first message is the start).
   */
  constructor(private readonly origin: number | undefined) {
    this.next = origin ?? -1;
  }

  record(s: number): void {
    if (this.next === -1) this.next = s;
    if (s === this.next) {
      this.next++;
      this.unique++;
    } else if (s > this.next) {
      if (s - this.next > maxRememberedGap) this.forgotten += s - this.next;
      else {
        this.gaps ??= new Set();
        for (let missing = this.next; missing < s; missing++) this.gaps.add(missing);
      }
      this.next = s + 1;
      this.unique++;
    } else if (this.gaps?.delete(s) === true) {
      this.reordered++;
      this.unique++;
    } else {
      this.duplicates++;
    }
    if (s > this.last) this.last = s;
  }

  /** Messages this subscriber should have had but did not get. With `expected` (messages sent), the whole stream counts. */
  loss(expected?: number): number {
    if (expected !== undefined && this.origin !== undefined) return Math.max(0, expected - this.origin - this.unique);
    return (this.gaps?.size ?? 0) + this.forgotten;
  }
}
