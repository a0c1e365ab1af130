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

interface Slot<M> {
  item: QueueItem<M> | undefined;
}

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
  private readonly lanes: Slot<M>[][] = lanes.map(() => []);
  private readonly heads = lanes.map(() => 0);
  private readonly byKey = new Map<string, Slot<M>>();
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
      return { kind: 'queued', dropped: [], coalesced: 0 };
    }
    if (item.policy === 'pause' && this.queuedBytes + socketBytes + item.size > this.limitBytes * this.highWater) return { kind: 'paused' };
    const existing = item.policy === 'coalesce' && item.key !== undefined ? this.byKey.get(item.key) : undefined;
    const older = existing?.item;
    const fixed = this.queuedBytes - this.droppableBytes;
    if (fixed + socketBytes + item.size > this.limitBytes) {
      // No room even after dropping every droppable publication: nothing else is dropped for nothing.
      if (!droppable(item)) return { kind: 'overflow' };
      // A coalesced key loses its older value too: it is no longer the newest.
      if (existing !== undefined && older !== undefined) this.discard(existing, older);
      return { kind: 'dropped', dropped: older === undefined ? [item] : [older, item] };
    }
    if (existing !== undefined && older !== undefined) {
      this.account(older, -1);
      existing.item = item;
      this.account(item, 1);
    }
    const incoming = older === undefined ? item.size : 0;
    const dropped = this.makeRoom(socketBytes + incoming, existing);
    if (older === undefined) this.append(item);
    return { kind: 'queued', dropped, coalesced: older === undefined ? 0 : 1 };
  }

  /** Takes queued items, control lane first, FIFO within a lane, up to about `maxBytes` (at least one). */
  drain(maxBytes: number): QueueItem<M>[] {
    const out: QueueItem<M>[] = [];
    let taken = 0;
    for (let l = 0; l < lanes.length; l++) {
      const lane = this.lanes[l] as Slot<M>[];
      let head = this.heads[l] as number;
      while (head < lane.length && (taken < maxBytes || out.length === 0)) {
        const slot = lane[head++] as Slot<M>;
        const item = slot.item;
        if (item === undefined) continue;
        this.forget(slot, item);
        out.push(item);
        taken += item.size;
      }
      this.heads[l] = head;
      this.compact(l);
      if (taken >= maxBytes && out.length > 0) break;
    }
    return out;
  }

  /** Removes a channel's pending publications (the connection left it or must resync it). */
  removeChannel(channel: string): number {
    let removed = 0;
    for (let l = 1; l < lanes.length; l++) {
      const lane = this.lanes[l] as Slot<M>[];
      for (let i = this.heads[l] as number; i < lane.length; i++) {
        const slot = lane[i] as Slot<M>;
        if (slot.item?.channel !== channel) continue;
        this.discard(slot, slot.item);
        removed += 1;
      }
    }
    return removed;
  }

  clear(): void {
    for (let l = 0; l < lanes.length; l++) {
      this.lanes[l] = [];
      this.heads[l] = 0;
    }
    this.byKey.clear();
    this.queuedBytes = 0;
    this.droppableBytes = 0;
    this.liveItems = 0;
  }

  /** Drops droppable publications, lowest lane and oldest first, until `incoming` more bytes fit; never `keep`. */
  private makeRoom(incoming: number, keep: Slot<M> | undefined): QueueItem<M>[] {
    const dropped: QueueItem<M>[] = [];
    for (let l = lanes.length - 1; l >= 1 && this.queuedBytes + incoming > this.limitBytes; l--) {
      const lane = this.lanes[l] as Slot<M>[];
      for (let i = this.heads[l] as number; i < lane.length && this.queuedBytes + incoming > this.limitBytes; i++) {
        const slot = lane[i] as Slot<M>;
        const item = slot.item;
        if (item === undefined || slot === keep || !droppable(item)) continue;
        this.discard(slot, item);
        dropped.push(item);
      }
    }
    return dropped;
  }

  private append(item: QueueItem<M>): void {
    const slot: Slot<M> = { item };
    (this.lanes[laneIndex[item.lane]] as Slot<M>[]).push(slot);
    this.account(item, 1);
    this.liveItems += 1;
    if (item.policy === 'coalesce' && item.key !== undefined) this.byKey.set(item.key, slot);
  }

  private forget(slot: Slot<M>, item: QueueItem<M>): void {
    this.account(item, -1);
    this.liveItems -= 1;
    if (item.key !== undefined && this.byKey.get(item.key) === slot) this.byKey.delete(item.key);
  }

  /** Removes a queued item, leaving its slot empty. */
  private discard(slot: Slot<M>, item: QueueItem<M>): void {
    this.forget(slot, item);
    slot.item = undefined;
  }

  private account(item: QueueItem<M>, sign: 1 | -1): void {
    this.queuedBytes += sign * item.size;
    if (droppable(item)) this.droppableBytes += sign * item.size;
  }

  /** Drops the consumed prefix once it is the larger half of the lane. */
  private compact(l: number): void {
    const lane = this.lanes[l] as Slot<M>[];
    const head = this.heads[l] as number;
    if (head === lane.length) {
      lane.length = 0;
      this.heads[l] = 0;
    } else if (head > 64 && head * 2 > lane.length) {
      this.lanes[l] = lane.slice(head);
      this.heads[l] = 0;
    }
  }
}
