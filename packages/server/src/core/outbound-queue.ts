import { Deque } from './deque.js';

/** Delivery lanes, drained in this order. Control is replies, pings, unsubscribe and disconnect pushes. */
export const lanes = ['control', 'high', 'normal', 'bulk'] as const;
export type Lane = (typeof lanes)[number];
const laneIndex: Readonly<Record<Lane, number>> = { control: 0, high: 1, normal: 2, bulk: 3 };

/** An encoded message: text, or UTF-8 bytes shared by every subscriber of a publication. */
export type Outgoing = string | Buffer;

/** What happens to a channel's publications when a subscriber's queue is full. */
export type OverflowPolicy = 'disconnect' | 'coalesce' | 'drop-oldest' | 'pause';

export interface QueueItem<M> {
  readonly message: M;
  /** Encoded bytes, as they will be written. */
  readonly size: number;
  readonly lane: Lane;
  /** Publications only: their channel, policy and (coalesce) key. */
  readonly channel?: string;
  readonly policy?: OverflowPolicy;
  readonly key?: string;
}

export type PushOutcome<M> =
  /** Queued; `dropped` made room or was replaced by a newer value (coalesce). */
  | { readonly kind: 'queued'; readonly dropped: readonly QueueItem<M>[]; readonly coalesced: number }
  /** Not queued: the queue is above its high-water mark and the channel's policy is pause. */
  | { readonly kind: 'paused' }
  /** Not queued: no room, and the item itself is droppable. */
  | { readonly kind: 'dropped'; readonly dropped: readonly QueueItem<M>[] }
  /** No room and the policy is disconnect: the connection must close (3008). */
  | { readonly kind: 'overflow' };

/** The common outcome, shared so that a delivery allocates nothing for it. */
const queuedNothingDropped = Object.freeze({ kind: 'queued', dropped: Object.freeze([]), coalesced: 0 } as const);

const droppablePolicy = (policy: OverflowPolicy | undefined) => policy === 'drop-oldest' || policy === 'coalesce';
/** What a policy may drop; nothing in the control lane is ever dropped. */
const droppable = (item: { readonly lane: Lane; readonly policy?: OverflowPolicy | undefined }) => item.lane !== 'control' && droppablePolicy(item.policy);

/**
 * A connection's outbound queue, bounded in bytes: what is queued plus what already
 * sits in the socket's buffer (`socketBytes`) stays within `limitBytes`, except for
 * control messages, which are never dropped. Pure: the caller supplies the socket's
 * buffered bytes and acts on the outcome.
 */
export class OutboundQueue<M> {
  private readonly lanes: Deque<QueueItem<M>>[] = lanes.map(() => new Deque<QueueItem<M>>());
  /** Coalesce key → where its pending value sits (lane, sequence). */
  private readonly byKey = new Map<string, { lane: number; seq: number }>();
  private queuedBytes = 0;
  /** Bytes of queued publications that a policy allows to drop. */
  private droppableBytes = 0;
  private liveItems = 0;

  constructor(
    readonly limitBytes: number,
    /** Above this share of the limit, pause-policy channels stop being delivered. */
    readonly highWater = 0.75,
  ) {}

  get bytes(): number {
    return this.queuedBytes;
  }

  get empty(): boolean {
    return this.liveItems === 0;
  }

  push(item: QueueItem<M>, socketBytes: number): PushOutcome<M> {
    if (item.lane === 'control') {
      this.append(item);
      return queuedNothingDropped;
    }
    if (item.policy === 'pause' && this.queuedBytes + socketBytes + item.size > this.limitBytes * this.highWater) return { kind: 'paused' };
    const at = item.policy === 'coalesce' && item.key !== undefined ? this.byKey.get(item.key) : undefined;
    const older = at === undefined ? undefined : this.lanes[at.lane]?.at(at.seq);
    const fixed = this.queuedBytes - this.droppableBytes;
    if (fixed + socketBytes + item.size > this.limitBytes) {
      // No room even after dropping every droppable publication: nothing else is dropped for nothing.
      if (!droppable(item)) return { kind: 'overflow' };
      // A coalesced key loses its older value too: it is no longer the newest.
      if (at !== undefined && older !== undefined) this.discard(at.lane, at.seq, older);
      return { kind: 'dropped', dropped: older === undefined ? [item] : [older, item] };
    }
    if (at !== undefined && older !== undefined) {
      this.account(older, -1);
      this.lanes[at.lane]?.set(at.seq, item);
      this.account(item, 1);
    }
    const incoming = socketBytes + (older === undefined ? item.size : 0);
    const dropped = this.queuedBytes + incoming > this.limitBytes ? this.makeRoom(incoming, older === undefined ? undefined : at) : [];
    if (older !== undefined) return { kind: 'queued', dropped, coalesced: 1 };
    this.append(item);
    return dropped.length === 0 ? queuedNothingDropped : { kind: 'queued', dropped, coalesced: 0 };
  }

  /** Moves queued items into `out`, control lane first, FIFO within a lane, up to about `maxBytes` (at least one). */
  drainInto(out: QueueItem<M>[], maxBytes: number): void {
    let taken = 0;
    for (let l = 0; l < this.lanes.length; l++) {
      const lane = this.lanes[l] as Deque<QueueItem<M>>;
      while (lane.size > 0 && (taken < maxBytes || out.length === 0)) {
        const seq = lane.head;
        const item = lane.shift();
        if (item === undefined) continue;
        this.forget(item, l, seq);
        out.push(item);
        taken += item.size;
      }
      if (taken >= maxBytes && out.length > 0) return;
    }
  }

  /** Takes queued items, control lane first, FIFO within a lane, up to about `maxBytes` (at least one). */
  drain(maxBytes: number): QueueItem<M>[] {
    const out: QueueItem<M>[] = [];
    this.drainInto(out, maxBytes);
    return out;
  }

  /** Removes a channel's pending publications (the connection left it or must resync it). */
  removeChannel(channel: string): number {
    let removed = 0;
    for (let l = 1; l < this.lanes.length; l++) {
      const lane = this.lanes[l] as Deque<QueueItem<M>>;
      for (let seq = lane.head; seq < lane.tail; seq++) {
        const item = lane.at(seq);
        if (item?.channel !== channel) continue;
        this.discard(l, seq, item);
        removed += 1;
      }
    }
    return removed;
  }

  clear(): void {
    for (const lane of this.lanes) lane.clear();
    this.byKey.clear();
    this.queuedBytes = 0;
    this.droppableBytes = 0;
    this.liveItems = 0;
  }

  /** Drops droppable publications, lowest lane and oldest first, until `incoming` more bytes fit; never the one at `keep`. */
  private makeRoom(incoming: number, keep: { lane: number; seq: number } | undefined): QueueItem<M>[] {
    const dropped: QueueItem<M>[] = [];
    for (let l = this.lanes.length - 1; l >= 1 && this.queuedBytes + incoming > this.limitBytes; l--) {
      const lane = this.lanes[l] as Deque<QueueItem<M>>;
      for (let seq = lane.head; seq < lane.tail && this.queuedBytes + incoming > this.limitBytes; seq++) {
        const item = lane.at(seq);
        if (item === undefined || (keep?.lane === l && keep.seq === seq) || !droppable(item)) continue;
        this.discard(l, seq, item);
        dropped.push(item);
      }
    }
    return dropped;
  }

  private append(item: QueueItem<M>): void {
    const l = laneIndex[item.lane];
    const seq = (this.lanes[l] as Deque<QueueItem<M>>).push(item);
    this.account(item, 1);
    this.liveItems += 1;
    if (item.policy === 'coalesce' && item.key !== undefined) this.byKey.set(item.key, { lane: l, seq });
  }

  /** Removes a queued item, leaving its place empty. */
  private discard(lane: number, seq: number, item: QueueItem<M>): void {
    this.forget(item, lane, seq);
    this.lanes[lane]?.set(seq, undefined);
  }

  private forget(item: QueueItem<M>, lane: number, seq: number): void {
    this.account(item, -1);
    this.liveItems -= 1;
    if (item.key === undefined) return;
    const at = this.byKey.get(item.key);
    if (at !== undefined && at.lane === lane && at.seq === seq) this.byKey.delete(item.key);
  }

  private account(item: QueueItem<M>, sign: 1 | -1): void {
    this.queuedBytes += sign * item.size;
    if (droppable(item)) this.droppableBytes += sign * item.size;
  }
}
