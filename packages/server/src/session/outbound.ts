import { type Outgoing, OutboundQueue, type QueueItem } from '../core/outbound-queue.js';
import type { TrafficStats } from '../core/traffic.js';
import type { Flushable, FlushScheduler } from './flush-scheduler.js';
import type { Transport } from './transport.js';

export type { Outgoing };
export type OutgoingItem = QueueItem<Outgoing>;

/** A frame never grows past this when coalescing; more messages go into the next frame. */
const maxFrameBytes = 64 * 1024;
const newline = Buffer.from('\n');

/** How the session reacts to what the queue decides. */
export interface OutboundHost {
  /** No room under the disconnect policy, or over the limit for longer than the slow timeout. */
  overflow(queuedBytes: number, socketBytes: number): void;
  /** Publications dropped to make room (or instead of queuing). */
  dropped(items: readonly OutgoingItem[]): void;
  /** An older pending publication was replaced by this newer one. */
  coalesced(item: OutgoingItem): void;
  /** A pause-policy publication was not queued: its channel pauses. */
  paused(item: OutgoingItem): void;
  /** The queue went back under its low-water mark: paused channels may resume. */
  relieved(): void;
  /** Whether some channel waits for relief (then the socket's drain is awaited too). */
  readonly hasPaused: boolean;
}

export interface OutboundLimits {
  readonly maxBytes: number;
  readonly slowTimeoutMs: number;
}

/**
 * A connection's outbound side: a bounded, prioritised queue (core/outbound-queue) that
 * is written to the socket only while the socket keeps up. Messages queued in one tick
 * go out as one frame and one write; a socket that falls behind makes the queue hold
 * (and drop, coalesce or pause per policy) instead of growing the socket's buffer.
 */
export class Outbound implements Flushable {
  private readonly queue: OutboundQueue<Outgoing>;
  /** The socket keeps at most this much buffered before we wait for it to drain. */
  private readonly socketHighWater: number;
  private waitingForDrain = false;
  /** Reused for every frame, so flushing allocates nothing but the frame. */
  private readonly batch: OutgoingItem[] = [];
  private slowTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly transport: Transport,
    private readonly scheduler: FlushScheduler,
    private readonly traffic: TrafficStats,
    private readonly limits: OutboundLimits,
    private readonly host: OutboundHost,
  ) {
    this.queue = new OutboundQueue(limits.maxBytes);
    this.socketHighWater = Math.min(maxFrameBytes, Math.max(1024, limits.maxBytes / 4));
  }

  /** Queued bytes plus what the socket still buffers. */
  get pendingBytes(): number {
    return this.queue.bytes + this.transport.bufferedBytes;
  }

  push(item: OutgoingItem, batchMs = 0): void {
    const socketBytes = this.transport.bufferedBytes;
    const outcome = this.queue.push(item, socketBytes);
    switch (outcome.kind) {
      case 'overflow':
        return this.overflow();
      case 'paused':
        return this.host.paused(item);
      case 'dropped':
        this.host.dropped(outcome.dropped);
        break;
      case 'queued':
        if (outcome.dropped.length > 0) this.host.dropped(outcome.dropped);
        if (outcome.coalesced > 0) this.host.coalesced(item);
        if (batchMs > 0) this.scheduler.markLater(this, batchMs);
        else this.scheduler.mark(this);
    }
    this.watchLimit(this.queue.bytes + socketBytes);
  }

  clear(): void {
    this.queue.clear();
    clearTimeout(this.slowTimer);
    this.slowTimer = undefined;
  }

  removeChannel(channel: string): void {
    this.queue.removeChannel(channel);
  }

  flush(): void {
    if (this.waitingForDrain) return;
    while (!this.queue.empty) {
      if (this.transport.bufferedBytes >= this.socketHighWater) return this.waitForDrain();
      const items = this.batch;
      this.queue.drainInto(items, maxFrameBytes);
      if (items.length === 0) break;
      const frame = joinFrame(items);
      items.length = 0;
      this.write(frame);
    }
    const pending = this.pendingBytes;
    this.watchLimit(pending);
    if (pending < this.limits.maxBytes / 4) this.host.relieved();
    // Paused channels resume once the socket, too, is under the low-water mark.
    else if (this.host.hasPaused) this.waitForDrain();
  }

  private waitForDrain(): void {
    this.waitingForDrain = true;
    this.transport.onDrain(() => {
      this.waitingForDrain = false;
      this.flush();
    });
  }

  private write(frame: Outgoing): void {
    this.traffic.framesOut += 1;
    this.traffic.bytesOut += frame.length;
    this.transport.write(frame);
  }

  /** Above the limit (socket buffer plus control messages) for `slowTimeout`: 3008 whatever the policy. */
  private watchLimit(pending: number): void {
    if (pending <= this.limits.maxBytes) {
      if (this.slowTimer === undefined) return;
      clearTimeout(this.slowTimer);
      this.slowTimer = undefined;
    } else if (this.slowTimer === undefined) {
      this.slowTimer = setTimeout(() => {
        this.slowTimer = undefined;
        if (this.pendingBytes > this.limits.maxBytes) this.overflow();
      }, this.limits.slowTimeoutMs);
    }
  }

  private overflow(): void {
    const queued = this.queue.bytes;
    this.clear();
    this.host.overflow(queued, this.transport.bufferedBytes);
  }
}

/** One frame from several messages: "\n" between them; text stays text unless a message is bytes. */
function joinFrame(items: readonly OutgoingItem[]): Outgoing {
  if (items.length === 1) return (items[0] as OutgoingItem).message;
  if (items.every((i) => typeof i.message === 'string')) return items.map((i) => i.message).join('\n');
  const parts: Buffer[] = [];
  for (const { message } of items) {
    if (parts.length > 0) parts.push(newline);
    parts.push(typeof message === 'string' ? Buffer.from(message) : message);
  }
  return Buffer.concat(parts);
}
