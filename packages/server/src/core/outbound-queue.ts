/** Delivery lanes, drained in this order. Control is replies, pings, unsubscribe and disconnect pushes. */
export const lanes = ['control', 'high', 'normal', 'bulk'] as const;
export type Lane = (typeof lanes)[number];

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

const droppable = (policy: OverflowPolicy | undefined) => policy === 'drop-oldest' || policy === 'coalesce';

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

  constructor(
    readonly limitBytes: number,
    /** Above this share of the limit, pause-policy channels stop being delivered. */
    readonly highWater = 0.75,
  ) {}

  get bytes(): number {
    return this.queuedBytes;
  }

  get empty(): boolean {
    return this.queuedBytes === 0 && this.lanes.every((lane, i) => lane.length === this.heads[i]);
  }

  push(item: QueueItem<M>, socketBytes: number): PushOutcome<M> {
    if (item.lane === 'control') {
      this.append(item);
      return { kind: 'queued', dropped: [], coalesced: 0 };
    }
    if (item.policy === 'pause' && this.queuedBytes + socketBytes + item.size > this.limitBytes * this.highWater) return { kind: 'paused' };
    let coalesced = 0;
    const existing = item.policy === 'coalesce' && item.key !== undefined ? this.byKey.get(item.key) : undefined;
    if (existing?.item !== undefined) {
      this.queuedBytes += item.size - existing.item.size;
      existing.item = item;
      coalesced = 1;
    }
    const dropped = this.makeRoom(socketBytes + (coalesced ? 0 : item.size), existing);
    if (this.queuedBytes + socketBytes + (coalesced ? 0 : item.size) > this.limitBytes) {
      if (coalesced) return { kind: 'queued', dropped, coalesced };
      if (droppable(item.policy)) return { kind: 'dropped', dropped: [...dropped, item] };
      return { kind: 'overflow' };
    }
    if (!coalesced) this.append(item);
    return { kind: 'queued', dropped, coalesced };
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
        this.forget(slot, slot.item);
        slot.item = undefined;
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
  }

  /** Drops droppable publications, lowest lane and oldest first, until `incoming` more bytes fit; never `keep`. */
  private makeRoom(incoming: number, keep: Slot<M> | undefined): QueueItem<M>[] {
    const dropped: QueueItem<M>[] = [];
    for (let l = lanes.length - 1; l >= 1 && this.queuedBytes + incoming > this.limitBytes; l--) {
      const lane = this.lanes[l] as Slot<M>[];
      for (let i = this.heads[l] as number; i < lane.length && this.queuedBytes + incoming > this.limitBytes; i++) {
        const slot = lane[i] as Slot<M>;
        const item = slot.item;
        if (item === undefined || slot === keep || !droppable(item.policy)) continue;
        this.forget(slot, item);
        slot.item = undefined;
        dropped.push(item);
      }
    }
    return dropped;
  }

  private append(item: QueueItem<M>): void {
    const slot: Slot<M> = { item };
    (this.lanes[lanes.indexOf(item.lane)] as Slot<M>[]).push(slot);
    this.queuedBytes += item.size;
    if (item.policy === 'coalesce' && item.key !== undefined) this.byKey.set(item.key, slot);
  }

  private forget(slot: Slot<M>, item: QueueItem<M>): void {
    this.queuedBytes -= item.size;
    if (item.key !== undefined && this.byKey.get(item.key) === slot) this.byKey.delete(item.key);
  }

  /** Drops the consumed prefix once it is the larger half of the lane. */
  private compact(l: number): void {
    const lane = this.lanes[l] as Slot<M>[];
    const head = this.heads[l] as number;
    if (head === lane.length) {
      this.lanes[l] = [];
      this.heads[l] = 0;
    } else if (head > 64 && head * 2 > lane.length) {
      this.lanes[l] = lane.slice(head);
      this.heads[l] = 0;
    }
  }
}
