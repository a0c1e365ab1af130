/**
 * A growable ring buffer addressed by absolute sequence numbers: `push` returns the
 * entry's sequence, which stays valid (for `at` and `set`) until the entry is shifted
 * out. No allocation in the steady state, which matters on a per-delivery path.
 */
export class Deque<T> {
  /** Allocated on first use: most lanes of most connections never hold anything. */
  private buffer: (T | undefined)[] = [];
  private mask = 0;
  /** Sequence of the oldest entry. */
  head = 0;
  /** Sequence the next pushed entry gets. */
  tail = 0;

  get size(): number {
    return this.tail - this.head;
  }

  push(value: T | undefined): number {
    if (this.tail - this.head === this.buffer.length) this.grow();
    this.buffer[this.tail & this.mask] = value;
    return this.tail++;
  }

  /** The entry at `seq`, or undefined once it was shifted out. */
  at(seq: number): T | undefined {
    return seq >= this.head && seq < this.tail ? this.buffer[seq & this.mask] : undefined;
  }

  /** Replaces (or, with undefined, empties) the entry at `seq`, which must still be held. */
  set(seq: number, value: T | undefined): void {
    if (seq >= this.head && seq < this.tail) this.buffer[seq & this.mask] = value;
  }

  /** Takes the oldest entry (undefined for an emptied one); call only while size > 0. */
  shift(): T | undefined {
    const i = this.head & this.mask;
    const value = this.buffer[i];
    this.buffer[i] = undefined;
    this.head += 1;
    return value;
  }

  clear(): void {
    this.buffer = [];
    this.mask = 0;
    this.head = this.tail = 0;
  }

  private grow(): void {
    const old = this.buffer;
    const oldMask = this.mask;
    this.buffer = new Array<T | undefined>(Math.max(4, old.length * 2));
    this.mask = this.buffer.length - 1;
    for (let seq = this.head; seq < this.tail; seq++) this.buffer[seq & this.mask] = old[seq & oldMask];
  }
}
