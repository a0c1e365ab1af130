import type { TrafficStats } from '../core/traffic.js';
import type { Flushable, FlushScheduler } from './flush-scheduler.js';
import type { Transport } from './transport.js';

/** An encoded message: text, or UTF-8 bytes shared by every subscriber of a publication. */
export type Outgoing = string | Buffer;

/** A frame never grows past this when coalescing; more messages go into the next frame. */
const maxCoalescedFrameBytes = 64 * 1024;
const newline = Buffer.from('\n');

/**
 * A connection's outbound queue: messages queued during a tick go out as one frame and
 * one write. Bounded in bytes, counting what already sits in the socket's buffer;
 * going past the bound calls `onOverflow` (the session closes with 3008).
 */
export class Outbound implements Flushable {
  private queued: Outgoing[] = [];
  private queuedBytes = 0;

  constructor(
    private readonly transport: Transport,
    private readonly scheduler: FlushScheduler,
    private readonly traffic: TrafficStats,
    private readonly maxBytes: number,
    private readonly onOverflow: (queuedBytes: number, socketBytes: number) => void,
  ) {}

  push(message: Outgoing): void {
    this.queued.push(message);
    this.queuedBytes += message.length;
    const socketBytes = this.transport.bufferedBytes;
    if (this.queuedBytes + socketBytes > this.maxBytes) {
      const queuedBytes = this.queuedBytes;
      this.clear();
      this.onOverflow(queuedBytes, socketBytes);
      return;
    }
    this.scheduler.mark(this);
  }

  clear(): void {
    this.queued = [];
    this.queuedBytes = 0;
  }

  flush(): void {
    if (this.queued.length === 0) return;
    const messages = this.queued;
    this.clear();
    let start = 0;
    let size = 0;
    for (let i = 0; i < messages.length; i++) {
      const length = (messages[i] as Outgoing).length + 1;
      if (size > 0 && size + length > maxCoalescedFrameBytes) {
        this.write(joinFrame(messages.slice(start, i)));
        start = i;
        size = 0;
      }
      size += length;
    }
    this.write(joinFrame(start === 0 ? messages : messages.slice(start)));
  }

  private write(frame: Outgoing): void {
    this.traffic.framesOut += 1;
    this.traffic.bytesOut += frame.length;
    this.transport.write(frame);
  }
}

/** One frame from several messages: "\n" between them; text stays text unless a message is bytes. */
function joinFrame(messages: readonly Outgoing[]): Outgoing {
  if (messages.length === 1) return messages[0] as Outgoing;
  if (messages.every((m) => typeof m === 'string')) return messages.join('\n');
  const parts: Buffer[] = [];
  for (const m of messages) {
    if (parts.length > 0) parts.push(newline);
    parts.push(typeof m === 'string' ? Buffer.from(m) : m);
  }
  return Buffer.concat(parts);
}
