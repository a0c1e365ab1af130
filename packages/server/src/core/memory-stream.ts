import type { Clock } from './clock.js';

export interface StreamPosition {
  readonly offset: number;
  readonly epoch: string;
}

export interface StreamLimits {
  /** Publications kept; older ones are trimmed. */
  readonly size: number;
  /** How long a publication stays in history. */
  readonly ttlMs: number;
  /** How long the stream's position (top offset + epoch) outlives its last publication. */
  readonly metaTtlMs: number;
}

export interface StreamQuery {
  /** Only publications after this offset (before it, when `reverse`). */
  readonly sinceOffset?: number;
  /** -1: all, 0: none (position only), N: at most N. */
  readonly limit: number;
  readonly reverse?: boolean;
}

export interface StreamEntry<T> {
  readonly offset: number;
  readonly value: T;
  readonly expires: number;
}

/**
 * One channel's history: offsets count up from 1 within an epoch; entries are trimmed
 * by count and by age (all share one TTL, so the oldest expire first).
 */
class Stream<T> {
  top = 0;
  metaExpires: number;
  private entries: StreamEntry<T>[] = [];
  private head = 0;

  constructor(
    readonly epoch: string,
    now: number,
    metaTtlMs: number,
  ) {
    this.metaExpires = now + metaTtlMs;
  }

  get position(): StreamPosition {
    return { offset: this.top, epoch: this.epoch };
  }

  append(make: (position: StreamPosition) => T, limits: StreamLimits, now: number): number {
    this.top += 1;
    this.entries.push({ offset: this.top, value: make({ offset: this.top, epoch: this.epoch }), expires: now + limits.ttlMs });
    this.metaExpires = now + limits.metaTtlMs;
    this.trim(limits.size, now);
    return this.top;
  }

  read(query: StreamQuery, now: number): StreamEntry<T>[] {
    this.trim(Number.POSITIVE_INFINITY, now);
    if (query.limit === 0) return [];
    const live = this.entries.slice(this.head);
    const since = query.sinceOffset;
    const selected = query.reverse
      ? live.filter((e) => since === undefined || e.offset < since).reverse()
      : live.filter((e) => since === undefined || e.offset > since);
    return query.limit < 0 ? selected : selected.slice(0, query.limit);
  }

  private trim(size: number, now: number): void {
    let count = this.entries.length - this.head;
    while (count > 0) {
      const first = this.entries[this.head] as StreamEntry<T>;
      if (count <= size && first.expires > now) break;
      this.head += 1;
      count -= 1;
    }
    // Compact once the dead prefix is the larger half, so trimming stays amortised O(1).
    if (this.head > 32 && this.head * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.head = 0;
    }
  }
}

/**
 * In-memory history for every channel: the memory broker's store, and the model the
 * Redis and NATS brokers implement. A stream whose position expired (or that never
 * existed) starts over at offset 0 with a new epoch, so clients holding the old epoch
 * learn that their position is gone.
 */
export class MemoryStreams<T> {
  private readonly streams = new Map<string, Stream<T>>();

  constructor(
    private readonly clock: Clock,
    private readonly newEpoch: () => string,
  ) {}

  /** Appends the value `make` builds for its position (so values can carry their offset). */
  append(channel: string, limits: StreamLimits, make: (position: StreamPosition) => T): StreamPosition {
    const now = this.clock();
    const stream = this.stream(channel, now, limits.metaTtlMs);
    return { offset: stream.append(make, limits, now), epoch: stream.epoch };
  }

  read(channel: string, query: StreamQuery, metaTtlMs: number): { entries: StreamEntry<T>[]; position: StreamPosition } {
    const now = this.clock();
    const stream = this.stream(channel, now, metaTtlMs);
    return { entries: stream.read(query, now), position: stream.position };
  }

  remove(channel: string): void {
    this.streams.delete(channel);
  }

  /** Forgets streams whose position expired; returns how many. */
  sweep(): number {
    const now = this.clock();
    let removed = 0;
    for (const [channel, stream] of this.streams) {
      if (stream.metaExpires <= now) {
        this.streams.delete(channel);
        removed += 1;
      }
    }
    return removed;
  }

  get size(): number {
    return this.streams.size;
  }

  private stream(channel: string, now: number, metaTtlMs: number): Stream<T> {
    let stream = this.streams.get(channel);
    if (stream === undefined || stream.metaExpires <= now) {
      stream = new Stream<T>(this.newEpoch(), now, metaTtlMs);
      this.streams.set(channel, stream);
    }
    return stream;
  }
}
