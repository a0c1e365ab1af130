import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type Lane, lanes, OutboundQueue, type OverflowPolicy, type PushOutcome, type QueueItem } from '../src/core/outbound-queue.js';
import { FlushScheduler } from '../src/session/flush-scheduler.js';
import { Outbound, type OutboundHost, type OutgoingItem } from '../src/session/outbound.js';
import type { Transport } from '../src/session/transport.js';
import { TrafficStats } from '../src/core/traffic.js';

/**
 * The outbound queue (core/outbound-queue.ts) on its own: examples of each policy, then
 * property tests over random sequences of push / drain / removeChannel checked against a
 * shadow of what must be pending, derived only from the outcomes the queue reports.
 * Last, the Outbound wrapper (session/outbound.ts) over a fake transport and fake timers.
 */

type Item = QueueItem<string>;
let ids = 0;

function pub(size: number, fields: { lane?: Lane; channel?: string; policy?: OverflowPolicy; key?: string } = {}): Item {
  return { message: `m${++ids}`, size, lane: fields.lane ?? 'normal', policy: fields.policy ?? 'drop-oldest', channel: fields.channel ?? 'c', ...(fields.key !== undefined && { key: fields.key }) };
}

function control(size: number): Item {
  return { message: `ctl${++ids}`, size, lane: 'control' };
}

/** Everything pending, control lane first (a few drains at most: each one empties every lane). */
function drainAll<M>(q: OutboundQueue<M>): QueueItem<M>[] {
  const out: QueueItem<M>[] = [];
  for (let i = 0; i < 3; i++) out.push(...q.drain(Number.MAX_SAFE_INTEGER));
  return out;
}

const messages = (items: readonly Item[]) => items.map((i) => i.message);

describe('OutboundQueue: examples', () => {
  it('control messages are queued past the byte limit and drained first', () => {
    const q = new OutboundQueue<string>(100);
    const a = pub(60, { policy: 'disconnect' });
    expect(q.push(a, 0)).toEqual({ kind: 'queued', dropped: [], coalesced: 0 });
    const ping = control(500);
    expect(q.push(ping, 10_000)).toEqual({ kind: 'queued', dropped: [], coalesced: 0 });
    expect(q.bytes).toBe(560);
    expect(messages(drainAll(q))).toEqual([ping.message, a.message]);
    expect(q.bytes).toBe(0);
    expect(q.empty).toBe(true);
  });

  it('disconnect policy: overflow when the item does not fit (socket bytes count), queued when it does', () => {
    const q = new OutboundQueue<string>(100);
    expect(q.push(pub(60, { policy: 'disconnect' }), 0).kind).toBe('queued');
    expect(q.push(pub(40, { policy: 'disconnect' }), 0).kind).toBe('queued');
    expect(q.push(pub(1, { policy: 'disconnect' }), 0)).toEqual({ kind: 'overflow' });
    const empty = new OutboundQueue<string>(100);
    expect(empty.push(pub(30, { policy: 'disconnect' }), 70).kind).toBe('queued');
    expect(empty.push(pub(1, { policy: 'disconnect' }), 70)).toEqual({ kind: 'overflow' });
  });

  it('drop-oldest drops the oldest publication of the lowest lane first, only as many as needed', () => {
    const q = new OutboundQueue<string>(100);
    const n1 = pub(20, { lane: 'normal' });
    const b1 = pub(20, { lane: 'bulk' });
    const h1 = pub(20, { lane: 'high' });
    const b2 = pub(20, { lane: 'bulk' });
    const n2 = pub(20, { lane: 'normal' });
    for (const i of [n1, b1, h1, b2, n2]) expect(q.push(i, 0).kind).toBe('queued');
    const h2 = pub(50, { lane: 'high' });
    const outcome = q.push(h2, 0);
    // 100 + 50 > 100: both bulk items go (oldest first), then the oldest normal one.
    expect(outcome).toEqual({ kind: 'queued', dropped: [b1, b2, n1], coalesced: 0 });
    expect(q.bytes).toBe(90);
    expect(messages(drainAll(q))).toEqual(messages([h1, h2, n2]));
  });

  it('drop-oldest never drops items of other policies; the new item is dropped itself when there is no room', () => {
    const q = new OutboundQueue<string>(100);
    const keep = pub(80, { lane: 'bulk', policy: 'disconnect' });
    q.push(keep, 0);
    const big = pub(30, { lane: 'high', policy: 'drop-oldest' });
    expect(q.push(big, 0)).toEqual({ kind: 'dropped', dropped: [big] });
    expect(q.bytes).toBe(80);
    expect(messages(drainAll(q))).toEqual([keep.message]);
  });

  it('pause: paused once queued + socket + item would pass 75 % of the limit; nothing is queued', () => {
    const q = new OutboundQueue<string>(100);
    expect(q.push(pub(50, { policy: 'pause' }), 0).kind).toBe('queued');
    expect(q.push(pub(25, { policy: 'pause' }), 0).kind).toBe('queued'); // 75: at the mark, not above
    expect(q.push(pub(1, { policy: 'pause' }), 0)).toEqual({ kind: 'paused' });
    expect(q.bytes).toBe(75);
    const fresh = new OutboundQueue<string>(100);
    expect(fresh.push(pub(10, { policy: 'pause' }), 70)).toEqual({ kind: 'paused' });
    expect(fresh.bytes).toBe(0);
    const custom = new OutboundQueue<string>(100, 0.5);
    expect(custom.push(pub(51, { policy: 'pause' }), 0)).toEqual({ kind: 'paused' });
  });

  it('coalesce replaces the pending value of the same key in place; other keys are kept', () => {
    const q = new OutboundQueue<string>(1000);
    const a1 = pub(10, { policy: 'coalesce', key: 'a' });
    const b1 = pub(10, { policy: 'coalesce', key: 'b' });
    const a2 = pub(12, { policy: 'coalesce', key: 'a' });
    q.push(a1, 0);
    q.push(b1, 0);
    expect(q.push(a2, 0)).toEqual({ kind: 'queued', dropped: [], coalesced: 1 });
    expect(q.bytes).toBe(22);
    expect(messages(drainAll(q))).toEqual(messages([a2, b1]));
    // Drained: the key starts over.
    const a3 = pub(10, { policy: 'coalesce', key: 'a' });
    expect(q.push(a3, 0)).toEqual({ kind: 'queued', dropped: [], coalesced: 0 });
  });

  it('coalesce: a newer, bigger value never takes the queue past its limit', () => {
    // limit 100: a 60-byte value is pending; its 150-byte successor does not fit.
    const q = new OutboundQueue<string>(100);
    expect(q.push(pub(60, { policy: 'coalesce', key: 'k' }), 0).kind).toBe('queued');
    const outcome = q.push(pub(150, { policy: 'coalesce', key: 'k' }), 0);
    if (outcome.kind === 'queued') expect(q.bytes, `queued ${JSON.stringify(outcome)} with ${q.bytes} bytes pending, limit 100`).toBeLessThanOrEqual(100);
  });

  it('removeChannel removes only that channel’s pending publications, never control messages', () => {
    const q = new OutboundQueue<string>(1000);
    const x1 = pub(10, { channel: 'x' });
    const y1 = pub(10, { channel: 'y', lane: 'bulk' });
    const x2 = pub(10, { channel: 'x', lane: 'high', policy: 'coalesce', key: 'x' });
    const unsub = { ...control(5), channel: 'x' };
    for (const i of [x1, y1, x2, unsub]) q.push(i, 0);
    expect(q.removeChannel('x')).toBe(2);
    expect(q.bytes).toBe(15);
    // The coalesce key is forgotten with its item.
    const x3 = pub(10, { channel: 'x', policy: 'coalesce', key: 'x' });
    expect(q.push(x3, 0)).toMatchObject({ kind: 'queued', coalesced: 0 });
    expect(messages(drainAll(q))).toEqual(messages([unsub, x3, y1]));
  });

  it('drops nothing for nothing: an item that cannot fit even in an empty queue is dropped alone; empty follows what is pending', () => {
    const q = new OutboundQueue<string>(50);
    const first = pub(10);
    q.push(first, 0);
    // 51 > 50 even with the 10 dropped: only the new item goes.
    const outcome = q.push(pub(51), 0);
    expect(outcome.kind).toBe('dropped');
    expect(outcome.kind === 'dropped' && outcome.dropped.map((i) => i.size)).toEqual([51]);
    expect(q.bytes).toBe(10);
    expect(q.empty).toBe(false);
    expect(q.drain(1000)).toEqual([first]);
    expect(q.empty, 'nothing is pending and bytes is 0, but empty is false').toBe(true);
    expect(q.drain(1000)).toEqual([]);
  });

  it('drain takes about maxBytes (at least one item), control lane first, FIFO within a lane', () => {
    const q = new OutboundQueue<string>(10_000);
    const items = [pub(40, { lane: 'bulk' }), pub(40, { lane: 'high' }), control(40), pub(40, { lane: 'normal' }), pub(40, { lane: 'high' })];
    for (const i of items) q.push(i, 0);
    const [b, h1, c, n, h2] = items as [Item, Item, Item, Item, Item];
    expect(messages(q.drain(0))).toEqual([c.message]);
    expect(messages(q.drain(41))).toEqual([h1.message, h2.message]);
    expect(messages(q.drain(1000))).toEqual([n.message, b.message]);
    expect(q.drain(1000)).toEqual([]);
  });
});

// ---- property tests ----

const droppable = (p: OverflowPolicy | undefined) => p === 'drop-oldest' || p === 'coalesce';
const laneIndex = (i: Item) => lanes.indexOf(i.lane);

interface ChannelSpec {
  readonly lane: Exclude<Lane, 'control'>;
  readonly policy: OverflowPolicy;
}

type Op =
  | { readonly op: 'push'; readonly channel: number; readonly tag: string | undefined; readonly size: number; readonly socket: number }
  | { readonly op: 'control'; readonly size: number; readonly socket: number; readonly channel: number | undefined; readonly policy: OverflowPolicy | undefined }
  | { readonly op: 'drain'; readonly maxBytes: number }
  | { readonly op: 'remove'; readonly channel: number };

const channelSpecs = fc.array(
  fc.record({ lane: fc.constantFrom('high', 'normal', 'bulk'), policy: fc.constantFrom<OverflowPolicy>('disconnect', 'coalesce', 'drop-oldest', 'pause') }),
  { minLength: 1, maxLength: 5 },
);
const socketBytes = fc.oneof({ weight: 3, arbitrary: fc.constant(0) }, { weight: 2, arbitrary: fc.integer({ min: 0, max: 2500 }) });
const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.record({
      op: fc.constant('push' as const),
      channel: fc.nat({ max: 4 }),
      tag: fc.option(fc.constantFrom('x', 'y'), { nil: undefined }),
      size: fc.integer({ min: 1, max: 400 }),
      socket: socketBytes,
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('control' as const),
      size: fc.integer({ min: 1, max: 400 }),
      socket: socketBytes,
      channel: fc.option(fc.nat({ max: 4 }), { nil: undefined }),
      policy: fc.option(fc.constantFrom<OverflowPolicy>('disconnect', 'coalesce', 'drop-oldest', 'pause'), { nil: undefined }),
    }),
  },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('drain' as const), maxBytes: fc.integer({ min: 1, max: 900 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('remove' as const), channel: fc.nat({ max: 4 }) }) },
);
const scenario = fc.record({
  limit: fc.integer({ min: 50, max: 2000 }),
  highWater: fc.constantFrom(0.75, 0.5, 0.9),
  channels: channelSpecs,
  ops: fc.array(opArb, { maxLength: 120 }),
});

/** Which properties a run checks: all of them, or all but the strict limit check (a). */
interface Checks {
  readonly limit: boolean;
}

/**
 * Runs `ops` against a queue and a shadow of its pending items (with the slot order each
 * holds: a coalesced value keeps the slot of the value it replaced). Every check is an
 * expect(); a failure carries the op index.
 */
function run(s: { limit: number; highWater: number; channels: ChannelSpec[]; ops: Op[] }, checks: Checks): void {
  const q = new OutboundQueue<string>(s.limit, s.highWater);
  /** Pending items → slot order. */
  const pending = new Map<Item, number>();
  /** Coalesce key → its pending item. */
  const byKey = new Map<string, Item>();
  /** Coalesce key → the newest value pushed and queued. */
  const newest = new Map<string, Item>();
  const controls = new Set<Item>();
  let seq = 0;
  const order = (a: Item, b: Item) => laneIndex(a) - laneIndex(b) || (pending.get(a) as number) - (pending.get(b) as number);
  const forget = (item: Item) => {
    pending.delete(item);
    if (item.key !== undefined && byKey.get(item.key) === item) byKey.delete(item.key);
  };
  const sum = (items: Iterable<Item>) => [...items].reduce((n, i) => n + i.size, 0);

  s.ops.forEach((op, step) => {
    const at = `op ${step} ${JSON.stringify(op)}`;
    if (op.op === 'drain') {
      const before = [...pending.keys()].sort(order);
      const out = q.drain(op.maxBytes);
      // (d) the items taken are the first ones by lane (control > high > normal > bulk), then slot order.
      expect(messages(out), at).toEqual(messages(before.slice(0, out.length)));
      expect(out.length > 0, at).toBe(before.length > 0);
      const taken = sum(out);
      if (out.length > 1) expect(taken - (out.at(-1) as Item).size, `${at}: drained past maxBytes`).toBeLessThan(op.maxBytes);
      if (out.length < before.length) expect(taken, `${at}: stopped early`).toBeGreaterThanOrEqual(op.maxBytes);
      for (const item of out) {
        // (c) a drained coalesce value is the newest one pushed for its key.
        if (item.policy === 'coalesce' && item.key !== undefined && item.lane !== 'control') expect(item.message, `${at}: stale value for ${item.key}`).toBe(newest.get(item.key)?.message);
        forget(item);
        controls.delete(item);
      }
    } else if (op.op === 'remove') {
      const channel = `c${op.channel}`;
      const gone = [...pending.keys()].filter((i) => i.lane !== 'control' && i.channel === channel);
      expect(q.removeChannel(channel), at).toBe(gone.length);
      for (const item of gone) forget(item);
    } else if (op.op === 'control') {
      const item: Item = {
        message: `ctl${++ids}`,
        size: op.size,
        lane: 'control',
        ...(op.channel !== undefined && { channel: `c${op.channel}` }),
        ...(op.policy !== undefined && { policy: op.policy }),
      };
      // (b) control messages are always queued, whatever the bytes.
      expect(q.push(item, op.socket), at).toEqual({ kind: 'queued', dropped: [], coalesced: 0 });
      pending.set(item, seq++);
      controls.add(item);
    } else {
      const spec = s.channels[op.channel % s.channels.length] as ChannelSpec;
      const channel = `c${op.channel % s.channels.length}`;
      const key = spec.policy === 'coalesce' ? (op.tag === undefined ? channel : `${channel}\u0000${op.tag}`) : undefined;
      const item: Item = { message: `p${++ids}`, size: op.size, lane: spec.lane, channel, policy: spec.policy, ...(key !== undefined && { key }) };
      const bytesBefore = sum(pending.keys());
      const replaced = key === undefined ? undefined : byKey.get(key);
      const droppableBefore = [...pending.keys()].filter((i) => i !== replaced && i.lane !== 'control' && droppable(i.policy)).sort((a, b) => laneIndex(b) - laneIndex(a) || (pending.get(a) as number) - (pending.get(b) as number));
      const fixedBytes = bytesBefore - sum(droppableBefore) - (replaced?.size ?? 0);
      const outcome: PushOutcome<string> = q.push(item, op.socket);
      const summary = `${at} → ${JSON.stringify(outcome, (k, v) => (k === 'dropped' ? messages(v as Item[]) : v))}`;

      // (e) pause: paused exactly when queued + socket + item would pass the high-water mark.
      const abovePause = bytesBefore + op.socket + op.size > s.limit * s.highWater;
      if (spec.policy === 'pause') expect(outcome.kind === 'paused', summary).toBe(abovePause);
      else expect(outcome.kind, summary).not.toBe('paused');

      if (outcome.kind === 'paused') {
        // nothing changes
      } else if (outcome.kind === 'overflow') {
        // (e) disconnect (and pause below its mark) overflow only when dropping every droppable item would not make room.
        expect(droppable(spec.policy), summary).toBe(false);
        expect(fixedBytes + op.socket + op.size, summary).toBeGreaterThan(s.limit);
        // Control messages are still there (the queue never drops them)...
        expect(q.bytes, summary).toBeGreaterThanOrEqual(sum(controls));
        // ...but the connection closes now: Outbound clears the queue.
        q.clear();
        pending.clear();
        byKey.clear();
        newest.clear();
        controls.clear();
      } else if (outcome.kind === 'dropped') {
        expect(droppable(spec.policy), summary).toBe(true);
        expect(outcome.dropped.at(-1), summary).toBe(item);
        expect(fixedBytes + op.socket + op.size, `${summary}: dropped although dropping older items would have made room`).toBeGreaterThan(s.limit);
        // Nothing else is dropped for nothing; a coalesced key loses its older value with the newer one.
        const others = outcome.dropped.slice(0, -1);
        expect(messages(others), `${summary}: only the key's older value goes with the new one`).toEqual(replaced === undefined ? [] : [replaced.message]);
        for (const i of others) forget(i);
        if (key !== undefined) byKey.delete(key);
      } else {
        const coalesced = replaced !== undefined;
        expect(outcome.coalesced, summary).toBe(coalesced ? 1 : 0);
        // (e) drop-oldest: the dropped items are the oldest of the lowest lanes, in that order, never control
        // or non-droppable items, never the slot being coalesced into.
        expect(messages(outcome.dropped), `${summary}: drops oldest first, lowest lane first`).toEqual(messages(droppableBefore.slice(0, outcome.dropped.length)));
        // ...and no more than needed: without the last drop the item would not have fitted.
        if (outcome.dropped.length > 0) {
          const incoming = coalesced ? 0 : op.size;
          const afterReplace = bytesBefore + (coalesced ? op.size - (replaced as Item).size : 0);
          const beforeLastDrop = afterReplace - sum(outcome.dropped.slice(0, -1));
          expect(beforeLastDrop + op.socket + incoming, `${summary}: dropped more than needed`).toBeGreaterThan(s.limit);
        }
        for (const i of outcome.dropped) forget(i);
        if (replaced !== undefined) {
          pending.set(item, pending.get(replaced) as number);
          pending.delete(replaced);
        } else {
          pending.set(item, seq++);
        }
        if (key !== undefined) {
          byKey.set(key, item);
          newest.set(key, item);
        }
        // (a) a queued publication keeps queued + socket bytes within the limit.
        if (checks.limit) expect(q.bytes + op.socket, `${summary}: ${q.bytes} queued + ${op.socket} in the socket > limit ${s.limit}`).toBeLessThanOrEqual(s.limit);
      }
    }
    // Byte accounting equals the sum of what is pending, at all times.
    expect(q.bytes, `${at}: byte accounting`).toBe(sum(pending.keys()));
    // (c) at most one pending value per coalesce key.
    const keys = [...pending.keys()].filter((i) => i.lane !== 'control' && i.policy === 'coalesce' && i.key !== undefined).map((i) => i.key);
    expect(new Set(keys).size, `${at}: two pending values for one key`).toBe(keys.length);
  });

  // (b) every control message comes out, once, whatever happened; then the queue is empty.
  const rest = drainAll(q);
  for (const c of controls) expect(rest.filter((i) => i === c).length, `control ${c.message} drained once`).toBe(1);
  expect(q.bytes).toBe(0);
}

describe('OutboundQueue: properties', () => {
  it('(a) a queued publication never takes queued + socket bytes past the limit', () => {
    fc.assert(
      fc.property(scenario, (s) => run(s, { limit: true })),
      { numRuns: 400 },
    );
  });

  it('(b–e) control never dropped and always drained; coalesce keeps the newest per key; FIFO per lane, lanes in priority order; drops oldest of the lowest lane, only as needed; pause above the high-water mark; overflow only without room; byte accounting exact', () => {
    fc.assert(
      fc.property(scenario, (s) => run(s, { limit: false })),
      { numRuns: 600 },
    );
  });

  it('(a) holds when no coalesce value ever replaces another (the other policies alone)', () => {
    const noCoalesce = scenario.map((s) => ({ ...s, channels: s.channels.map((c) => (c.policy === 'coalesce' ? { ...c, policy: 'drop-oldest' as const } : c)) }));
    fc.assert(
      fc.property(noCoalesce, (s) => run(s, { limit: true })),
      { numRuns: 400 },
    );
  });

  it('coalesce: over any sequence of values for a few keys, draining yields exactly the newest value per key', () => {
    fc.assert(
      fc.property(fc.array(fc.record({ key: fc.constantFrom('a', 'b', 'c', 'd'), size: fc.integer({ min: 1, max: 50 }) }), { minLength: 1, maxLength: 60 }), (pushes) => {
        const q = new OutboundQueue<string>(1_000_000);
        const last = new Map<string, Item>();
        for (const { key, size } of pushes) {
          const item = pub(size, { policy: 'coalesce', key, lane: 'bulk' });
          expect(q.push(item, 0).kind).toBe('queued');
          last.set(key, item);
        }
        const out = drainAll(q);
        expect(new Set(messages(out))).toEqual(new Set(messages([...last.values()])));
        expect(out).toHaveLength(last.size);
        // One slot per key, in the order the keys first appeared.
        expect(out.map((i) => i.key)).toEqual([...new Set(pushes.map((p) => p.key))]);
      }),
      { numRuns: 300 },
    );
  });
});

// ---- Outbound over a fake transport ----

class FakeTransport implements Transport {
  readonly name = 'fake';
  readonly bidirectional = true;
  readonly remoteAddress = '127.0.0.1';
  bufferedBytes = 0;
  readonly frames: (string | Buffer)[] = [];
  private drainWaiters: (() => void)[] = [];

  /** Writes go straight to the network (a reader that keeps up) instead of staying buffered. */
  flowing = false;

  write(frame: string | Buffer): void {
    this.frames.push(frame);
    if (!this.flowing) this.bufferedBytes += frame.length;
  }
  close(): void {}
  onDrain(callback: () => void): void {
    this.drainWaiters.push(callback);
  }
  pause(): void {}
  resume(): void {}

  /** The network takes `bytes` (all by default); 'drain' fires when the buffer is empty. */
  sent(bytes = this.bufferedBytes): void {
    this.bufferedBytes = Math.max(0, this.bufferedBytes - bytes);
    if (this.bufferedBytes > 0) return;
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const w of waiters) w();
  }
}

class RecordingHost implements OutboundHost {
  readonly calls: string[] = [];
  overflow(queued: number, socket: number): void {
    this.calls.push(`overflow ${queued} ${socket}`);
  }
  dropped(items: readonly OutgoingItem[]): void {
    this.calls.push(`dropped ${items.length}`);
  }
  coalesced(): void {
    this.calls.push('coalesced');
  }
  paused(): void {
    this.calls.push('paused');
    this.hasPaused = true;
  }
  relieved(): void {
    this.calls.push('relieved');
    this.hasPaused = false;
  }
  hasPaused = false;
}

function outbound(maxBytes: number, slowTimeoutMs = 1000) {
  const transport = new FakeTransport();
  const host = new RecordingHost();
  const out = new Outbound(transport, new FlushScheduler(), new TrafficStats(), { maxBytes, slowTimeoutMs }, host);
  return { transport, host, out };
}

const tick = () => new Promise<void>((resolve) => queueMicrotask(resolve));

/** Pushes 8 KiB pause-policy publications, a tick apart, until the channel pauses; returns where in the host's calls. */
async function floodUntilPaused(host: RecordingHost, out: Outbound): Promise<number> {
  const frame = 'p'.repeat(8192);
  for (let i = 0; i < 40 && !host.calls.includes('paused'); i++) {
    out.push({ message: frame, size: frame.length, lane: 'normal', channel: 'c', policy: 'pause' });
    await tick();
  }
  const pausedAt = host.calls.indexOf('paused');
  expect(pausedAt).toBeGreaterThanOrEqual(0);
  return pausedAt;
}

describe('Outbound (fake transport)', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('messages queued in one tick go out as one newline-joined frame', async () => {
    const { transport, out } = outbound(1 << 20);
    for (let i = 0; i < 5; i++) out.push({ message: `m${i}`, size: 2, lane: 'normal', channel: 'c', policy: 'disconnect' });
    out.push({ message: 'reply', size: 5, lane: 'control' });
    expect(transport.frames).toEqual([]);
    await tick();
    expect(transport.frames).toEqual(['reply\nm0\nm1\nm2\nm3\nm4']);
  });

  it('frames are capped near 64 KiB; a backed-up socket is not written to until it drains', async () => {
    const { transport, out } = outbound(1 << 20);
    const big = 'x'.repeat(10_000);
    for (let i = 0; i < 20; i++) out.push({ message: big, size: big.length, lane: 'normal', channel: 'c', policy: 'disconnect' });
    await tick();
    // socketHighWater is 64 KiB: one frame of at least 64 KiB (7 × 10 000), then it waits.
    expect(transport.frames.map((f) => f.length)).toEqual([7 * 10_000 + 6]);
    transport.sent();
    await tick();
    expect(transport.frames).toHaveLength(2);
    transport.sent();
    await tick();
    transport.sent();
    await tick();
    expect(transport.frames.reduce((n, f) => n + f.length, 0)).toBe(20 * 10_000 + 17);
    expect(out.pendingBytes).toBe(0);
  });

  it('slowTimeout: above the limit (control messages + socket) for that long is an overflow; back under in time is not', () => {
    vi.useFakeTimers();
    const { transport, host, out } = outbound(1000, 300);
    transport.bufferedBytes = 900;
    out.push({ message: 'r'.repeat(200), size: 200, lane: 'control' });
    vi.advanceTimersByTime(299);
    expect(host.calls).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(host.calls).toEqual(['overflow 200 900']);

    const second = outbound(1000, 300);
    second.transport.bufferedBytes = 900;
    second.out.push({ message: 'r'.repeat(200), size: 200, lane: 'control' });
    vi.advanceTimersByTime(200);
    second.transport.sent(900);
    second.out.flush();
    vi.advanceTimersByTime(1000);
    expect(second.host.calls).not.toContain('overflow 200 0');
    expect(second.host.calls.filter((c) => c.startsWith('overflow'))).toEqual([]);
  });

  it('disconnect policy: no room is an overflow at once', () => {
    const { transport, host, out } = outbound(1000);
    transport.bufferedBytes = 990;
    out.push({ message: 'p'.repeat(20), size: 20, lane: 'normal', channel: 'c', policy: 'disconnect' });
    expect(host.calls).toEqual(['overflow 0 990']);
  });

  it('pause: a paused channel is relieved once the reader catches up and everything pending is sent', async () => {
    // limit 256 KiB: the socket takes up to 64 KiB before the queue holds.
    const { transport, host, out } = outbound(262_144);
    const pausedAt = await floodUntilPaused(host, out);
    expect(host.calls.slice(pausedAt)).not.toContain('relieved');
    // The reader is back: every write goes straight to the network.
    transport.flowing = true;
    transport.sent();
    await tick();
    expect(out.pendingBytes).toBe(0);
    expect(host.calls.slice(pausedAt), `host calls after the pause`).toContain('relieved');
  });

  it('pause: relieved even when the queue empties while the socket is still above the low-water mark (it drains later)', async () => {
    const { transport, host, out } = outbound(262_144);
    const pausedAt = await floodUntilPaused(host, out);
    // The network takes only part of the socket buffer each time: when the queue empties,
    // the last frame (up to 64 KiB) still sits in the socket buffer, above 64 KiB = limit / 4.
    for (let i = 0; i < 100 && out.pendingBytes > 0; i++) {
      transport.sent(Math.min(transport.bufferedBytes, 16_384));
      await tick();
    }
    expect(out.pendingBytes, 'everything sent').toBe(0);
    expect(host.calls.slice(pausedAt), 'a paused channel must resume once everything was sent, without waiting for another push').toContain('relieved');
  });
});
