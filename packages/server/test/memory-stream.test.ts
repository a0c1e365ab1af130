/**
 * Channel history as the memory broker keeps it (MemoryStreams) and the recovery rules
 * built on it (isRecovered, checkPosition), with a hand-moved clock: offsets, trimming
 * by size and age, expiry of the whole stream (its position) after the meta TTL, reads
 * with since/limit/reverse, sweeping, and the MemoryBroker contract on top.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MemoryBroker } from '../src/broker/memory.js';
import type { BrokerHandler, Publication } from '../src/broker/broker.js';
import { newEpoch } from '../src/core/epoch.js';
import { MemoryStreams, type StreamLimits } from '../src/core/memory-stream.js';
import { checkPosition, isRecovered } from '../src/core/recovery.js';

/** A clock the test moves by hand, and epochs e1, e2, … in creation order. */
function setup() {
  const time = { now: 1_000_000 };
  let epochs = 0;
  const streams = new MemoryStreams<string>(
    () => time.now,
    () => `e${++epochs}`,
  );
  return { time, streams, epochsMade: () => epochs };
}

const limits = (size: number, ttlMs: number, metaTtlMs: number): StreamLimits => ({ size, ttlMs, metaTtlMs });
const roomy = limits(100, 60_000, 600_000);
const all = { limit: -1 };
const offsetsOf = (entries: readonly { offset: number }[]) => entries.map((e) => e.offset);

describe('MemoryStreams: offsets and epochs', () => {
  it('numbers publications 1, 2, 3 within one epoch and gives each value its position', () => {
    const { streams } = setup();
    const made: { offset: number; epoch: string }[] = [];
    const positions = ['a', 'b', 'c'].map((v) => streams.append('ch', roomy, (at) => (made.push(at), `${v}@${at.offset}`)));
    expect(positions).toEqual([
      { offset: 1, epoch: 'e1' },
      { offset: 2, epoch: 'e1' },
      { offset: 3, epoch: 'e1' },
    ]);
    expect(made).toEqual(positions);
    const read = streams.read('ch', all, roomy.metaTtlMs);
    expect(read.position).toEqual({ offset: 3, epoch: 'e1' });
    expect(read.entries.map((e) => [e.offset, e.value])).toEqual([
      [1, 'a@1'],
      [2, 'b@2'],
      [3, 'c@3'],
    ]);
  });

  it('keeps one stream per channel, each with its own offsets and epoch', () => {
    const { streams } = setup();
    streams.append('a', roomy, () => 'a1');
    streams.append('b', roomy, () => 'b1');
    expect(streams.append('a', roomy, () => 'a2')).toEqual({ offset: 2, epoch: 'e1' });
    expect(streams.append('b', roomy, () => 'b2')).toEqual({ offset: 2, epoch: 'e2' });
    expect(streams.size).toBe(2);
  });

  it('reading a channel that never existed creates its position (offset 0, an epoch) that later reads and appends keep', () => {
    const { streams, epochsMade } = setup();
    const first = streams.read('fresh', all, 10_000);
    expect(first.entries).toEqual([]);
    expect(first.position).toEqual({ offset: 0, epoch: 'e1' });
    expect(streams.read('fresh', all, 10_000).position).toEqual({ offset: 0, epoch: 'e1' });
    expect(streams.read('fresh', { limit: 0 }, 10_000).position).toEqual({ offset: 0, epoch: 'e1' });
    expect(epochsMade()).toBe(1);
    expect(streams.append('fresh', roomy, () => 'x')).toEqual({ offset: 1, epoch: 'e1' });
  });

  it('the default epochs are 8 random letters, a new one per stream', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 50; i++) {
      const epoch = newEpoch();
      expect(epoch).toMatch(/^[a-zA-Z]{8}$/);
      seen.add(epoch);
    }
    expect(seen.size).toBeGreaterThan(45);
  });
});

describe('MemoryStreams: trimming and expiry', () => {
  it('trims to the newest `size` publications; the top offset keeps counting', () => {
    const { streams } = setup();
    for (let i = 1; i <= 5; i++) streams.append('ch', limits(3, 60_000, 600_000), () => `v${i}`);
    const read = streams.read('ch', all, 600_000);
    expect(offsetsOf(read.entries)).toEqual([3, 4, 5]);
    expect(read.entries.map((e) => e.value)).toEqual(['v3', 'v4', 'v5']);
    expect(read.position).toEqual({ offset: 5, epoch: 'e1' });
  });

  it('keeps trimming right over many appends (compaction of the dropped prefix)', () => {
    const { streams } = setup();
    for (let i = 1; i <= 1000; i++) {
      streams.append('ch', limits(10, 60_000, 600_000), () => `v${i}`);
      if (i % 97 === 0) expect(offsetsOf(streams.read('ch', all, 600_000).entries)).toEqual(Array.from({ length: 10 }, (_, k) => i - 9 + k));
    }
    const read = streams.read('ch', all, 600_000);
    expect(offsetsOf(read.entries)).toEqual(Array.from({ length: 10 }, (_, k) => 991 + k));
    expect(read.entries.map((e) => e.value)).toEqual(Array.from({ length: 10 }, (_, k) => `v${991 + k}`));
  });

  it('expires publications after the TTL (the oldest first) but keeps the position', () => {
    const { time, streams } = setup();
    const l = limits(100, 1_000, 600_000);
    streams.append('ch', l, () => 'old'); // expires at t0 + 1000
    time.now += 400;
    streams.append('ch', l, () => 'new'); // expires at t0 + 1400
    time.now += 599; // t0 + 999
    expect(offsetsOf(streams.read('ch', all, l.metaTtlMs).entries)).toEqual([1, 2]);
    time.now += 1; // t0 + 1000: the first one is due
    expect(offsetsOf(streams.read('ch', all, l.metaTtlMs).entries)).toEqual([2]);
    time.now += 400; // t0 + 1400
    const read = streams.read('ch', all, l.metaTtlMs);
    expect(read.entries).toEqual([]);
    expect(read.position).toEqual({ offset: 2, epoch: 'e1' });
    // The next publication continues the same stream.
    expect(streams.append('ch', l, () => 'next')).toEqual({ offset: 3, epoch: 'e1' });
    expect(offsetsOf(streams.read('ch', all, l.metaTtlMs).entries)).toEqual([3]);
  });

  it('expires the whole stream after the meta TTL: it starts over at offset 0 with a new epoch', () => {
    const { time, streams } = setup();
    const l = limits(100, 60_000, 5_000);
    streams.append('ch', l, () => 'a');
    streams.append('ch', l, () => 'b');
    time.now += 4_999;
    expect(streams.read('ch', all, l.metaTtlMs).position).toEqual({ offset: 2, epoch: 'e1' });
    time.now += 1;
    const after = streams.read('ch', all, l.metaTtlMs);
    expect(after.position).toEqual({ offset: 0, epoch: 'e2' });
    expect(after.entries).toEqual([]);
    expect(streams.append('ch', l, () => 'c')).toEqual({ offset: 1, epoch: 'e2' });
  });

  it('an append after the meta TTL (without a read in between) also starts a new epoch at offset 1', () => {
    const { time, streams } = setup();
    const l = limits(100, 60_000, 5_000);
    streams.append('ch', l, () => 'a');
    time.now += 5_000;
    expect(streams.append('ch', l, () => 'b')).toEqual({ offset: 1, epoch: 'e2' });
    expect(streams.read('ch', all, l.metaTtlMs).entries.map((e) => e.value)).toEqual(['b']);
  });

  it('every append extends the meta TTL from its own time', () => {
    const { time, streams } = setup();
    const l = limits(100, 60_000, 5_000);
    streams.append('ch', l, () => 'a');
    time.now += 4_000;
    streams.append('ch', l, () => 'b');
    time.now += 4_999; // 8 999 ms after the first append, 4 999 after the last
    expect(streams.read('ch', all, l.metaTtlMs).position).toEqual({ offset: 2, epoch: 'e1' });
  });

  it('a position created by a read expires after the meta TTL that read asked for', () => {
    const { time, streams } = setup();
    expect(streams.read('ch', all, 1_000).position).toEqual({ offset: 0, epoch: 'e1' });
    time.now += 999;
    expect(streams.read('ch', all, 1_000).position).toEqual({ offset: 0, epoch: 'e1' });
    time.now += 1;
    expect(streams.read('ch', all, 1_000).position).toEqual({ offset: 0, epoch: 'e2' });
  });

  it('remove() forgets the stream: the next use starts a new epoch at offset 0', () => {
    const { streams } = setup();
    streams.append('ch', roomy, () => 'a');
    streams.remove('ch');
    expect(streams.size).toBe(0);
    expect(streams.read('ch', all, roomy.metaTtlMs)).toEqual({ entries: [], position: { offset: 0, epoch: 'e2' } });
    expect(streams.append('ch', roomy, () => 'b')).toEqual({ offset: 1, epoch: 'e2' });
  });

  it('sweep() removes exactly the streams whose position expired', () => {
    const { time, streams } = setup();
    streams.append('short', limits(10, 60_000, 1_000), () => 's');
    streams.append('long', limits(10, 60_000, 5_000), () => 'l');
    streams.read('read-only', all, 3_000);
    expect(streams.sweep()).toBe(0);
    time.now += 999;
    expect(streams.sweep()).toBe(0);
    time.now += 1;
    expect(streams.sweep()).toBe(1);
    expect(streams.size).toBe(2);
    time.now += 2_000;
    expect(streams.sweep()).toBe(1);
    expect(streams.size).toBe(1);
    expect(streams.read('long', all, 5_000).position).toEqual({ offset: 1, epoch: 'e2' });
    time.now += 2_000;
    expect(streams.sweep()).toBe(1);
    expect(streams.size).toBe(0);
    // A swept channel comes back with a new epoch.
    expect(streams.read('short', all, 1_000).position.epoch).toBe('e4');
  });
});

describe('MemoryStreams: reading', () => {
  function filled(n: number) {
    const s = setup();
    for (let i = 1; i <= n; i++) s.streams.append('ch', roomy, () => `v${i}`);
    const read = (query: { sinceOffset?: number; limit: number; reverse?: boolean }) => s.streams.read('ch', query, roomy.metaTtlMs);
    return { ...s, read };
  }

  it('limit -1 returns all, oldest first; 0 returns none but the position; N returns the oldest N', () => {
    const { read } = filled(5);
    expect(offsetsOf(read({ limit: -1 }).entries)).toEqual([1, 2, 3, 4, 5]);
    const none = read({ limit: 0 });
    expect(none.entries).toEqual([]);
    expect(none.position).toEqual({ offset: 5, epoch: 'e1' });
    expect(offsetsOf(read({ limit: 2 }).entries)).toEqual([1, 2]);
    expect(offsetsOf(read({ limit: 50 }).entries)).toEqual([1, 2, 3, 4, 5]);
  });

  it('sinceOffset returns what follows it, cut by limit', () => {
    const { read } = filled(5);
    expect(offsetsOf(read({ sinceOffset: 0, limit: -1 }).entries)).toEqual([1, 2, 3, 4, 5]);
    expect(offsetsOf(read({ sinceOffset: 2, limit: -1 }).entries)).toEqual([3, 4, 5]);
    expect(offsetsOf(read({ sinceOffset: 2, limit: 2 }).entries)).toEqual([3, 4]);
    expect(offsetsOf(read({ sinceOffset: 5, limit: -1 }).entries)).toEqual([]);
    expect(offsetsOf(read({ sinceOffset: 9, limit: -1 }).entries)).toEqual([]);
    expect(read({ sinceOffset: 2, limit: 0 }).entries).toEqual([]);
  });

  it('reverse returns newest first; with sinceOffset, what precedes it', () => {
    const { read } = filled(5);
    expect(offsetsOf(read({ reverse: true, limit: -1 }).entries)).toEqual([5, 4, 3, 2, 1]);
    expect(offsetsOf(read({ reverse: true, limit: 2 }).entries)).toEqual([5, 4]);
    expect(offsetsOf(read({ reverse: true, sinceOffset: 4, limit: -1 }).entries)).toEqual([3, 2, 1]);
    expect(offsetsOf(read({ reverse: true, sinceOffset: 4, limit: 2 }).entries)).toEqual([3, 2]);
    expect(offsetsOf(read({ reverse: true, sinceOffset: 1, limit: -1 }).entries)).toEqual([]);
    expect(read({ reverse: true, limit: 0 }).entries).toEqual([]);
  });

  it('reads only what is still kept after trimming', () => {
    const s = setup();
    for (let i = 1; i <= 8; i++) s.streams.append('ch', limits(4, 60_000, 600_000), () => `v${i}`);
    expect(offsetsOf(s.streams.read('ch', { sinceOffset: 2, limit: -1 }, 600_000).entries)).toEqual([5, 6, 7, 8]);
    expect(offsetsOf(s.streams.read('ch', { sinceOffset: 6, reverse: true, limit: -1 }, 600_000).entries)).toEqual([5]);
  });

  it('agrees with a simple model over random appends, clock moves, reads and removals', () => {
    type Op =
      | { t: 'append'; ch: number }
      | { t: 'tick'; ms: number }
      | { t: 'read'; ch: number; since: number | undefined; limit: number; reverse: boolean }
      | { t: 'remove'; ch: number };
    const op: fc.Arbitrary<Op> = fc.oneof(
      { weight: 5, arbitrary: fc.record({ t: fc.constant('append' as const), ch: fc.integer({ min: 0, max: 2 }) }) },
      {
        weight: 2,
        // Small steps, and jumps to the TTL (1 s) and meta TTL (3 s) boundaries.
        arbitrary: fc.record({ t: fc.constant('tick' as const), ms: fc.oneof(fc.integer({ min: 0, max: 1200 }), fc.constantFrom(1, 999, 1000, 2999, 3000)) }),
      },
      {
        weight: 3,
        arbitrary: fc.record({
          t: fc.constant('read' as const),
          ch: fc.integer({ min: 0, max: 2 }),
          since: fc.option(fc.integer({ min: 0, max: 30 }), { nil: undefined }),
          limit: fc.integer({ min: -1, max: 6 }),
          reverse: fc.boolean(),
        }),
      },
      { weight: 1, arbitrary: fc.record({ t: fc.constant('remove' as const), ch: fc.integer({ min: 0, max: 2 }) }) },
    );
    const l = limits(4, 1_000, 3_000);
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        const { time, streams } = setup();
        // The model: per channel the epoch, the top, each kept offset with its time, and when the position expires.
        type M = { epoch: string; top: number; items: { offset: number; at: number }[]; metaExpires: number };
        const model = new Map<number, M>();
        let epochs = 0;
        const stream = (ch: number, metaTtl: number): M => {
          let m = model.get(ch);
          if (m === undefined || m.metaExpires <= time.now) {
            m = { epoch: `e${++epochs}`, top: 0, items: [], metaExpires: time.now + metaTtl };
            model.set(ch, m);
          }
          return m;
        };
        for (const o of ops) {
          if (o.t === 'tick') time.now += o.ms;
          else if (o.t === 'remove') {
            model.delete(o.ch);
            streams.remove(`c${o.ch}`);
          } else if (o.t === 'append') {
            const m = stream(o.ch, l.metaTtlMs);
            m.top += 1;
            m.items.push({ offset: m.top, at: time.now });
            m.metaExpires = time.now + l.metaTtlMs;
            expect(streams.append(`c${o.ch}`, l, () => 'v')).toEqual({ offset: m.top, epoch: m.epoch });
          } else {
            const m = stream(o.ch, l.metaTtlMs);
            const kept = m.items.filter((i) => i.offset > m.top - l.size && i.at + l.ttlMs > time.now).map((i) => i.offset);
            let want = o.reverse ? kept.filter((x) => o.since === undefined || x < o.since).reverse() : kept.filter((x) => o.since === undefined || x > o.since);
            if (o.limit === 0) want = [];
            else if (o.limit > 0) want = want.slice(0, o.limit);
            const got = streams.read(`c${o.ch}`, { ...(o.since !== undefined && { sinceOffset: o.since }), limit: o.limit, reverse: o.reverse }, l.metaTtlMs);
            expect(got.position).toEqual({ offset: m.top, epoch: m.epoch });
            expect(offsetsOf(got.entries)).toEqual(want);
          }
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe('isRecovered', () => {
  const top = { offset: 5, epoch: 'E' };
  it.each([
    ['same epoch, contiguous from requested+1 to the top', { offset: 2, epoch: 'E' }, [3, 4, 5], top, true],
    ['nothing missed: empty history and top == requested', { offset: 5, epoch: 'E' }, [], top, true],
    ['empty requested epoch is accepted (the SDK omits an empty one)', { offset: 2, epoch: '' }, [3, 4, 5], top, true],
    ['empty requested epoch, nothing missed', { offset: 5, epoch: '' }, [], top, true],
    ['fresh stream, requested 0', { offset: 0, epoch: 'E' }, [], { offset: 0, epoch: 'E' }, true],
    ['gap at the start (history trimmed)', { offset: 2, epoch: 'E' }, [4, 5], top, false],
    ['gap at the end (cut by the recovery limit)', { offset: 2, epoch: 'E' }, [3, 4], top, false],
    ['hole in the middle', { offset: 2, epoch: 'E' }, [3, 5], top, false],
    ['empty history although the top moved on (expired by TTL)', { offset: 2, epoch: 'E' }, [], top, false],
    ['requested offset beyond the top', { offset: 7, epoch: 'E' }, [], top, false],
    ['epoch mismatch, even with matching offsets', { offset: 2, epoch: 'X' }, [3, 4, 5], top, false],
    ['epoch mismatch, nothing missed', { offset: 5, epoch: 'X' }, [], top, false],
  ] as const)('%s → %s', (_label, requested, offsets, at, want) => {
    expect(isRecovered(requested, offsets, at)).toBe(want);
  });
});

describe('checkPosition', () => {
  const current = { offset: 5, epoch: 'E' };
  it.each([
    ['the next offset is delivered', 6, 'E', 'deliver'],
    ['the current offset is a duplicate', 5, 'E', 'duplicate'],
    ['an older offset is a duplicate', 1, 'E', 'duplicate'],
    ['a skipped offset is a gap', 7, 'E', 'gap'],
    ['far ahead is a gap', 100, 'E', 'gap'],
    ['another epoch is a gap, even at the next offset', 6, 'F', 'gap'],
    ['another epoch is a gap, even for an old offset', 1, 'F', 'gap'],
  ] as const)('%s', (_label, offset, epoch, want) => {
    expect(checkPosition(current, offset, epoch)).toBe(want);
  });
});

describe('MemoryBroker', () => {
  function broker() {
    const time = { now: 5_000_000 };
    const b = new MemoryBroker({ clock: () => time.now, idempotencyWindowMs: 60_000 });
    const seen: [string, Publication][] = [];
    // Only publications matter here; the other callbacks (control, resync, health) are no-ops.
    const handler = { onPublication: (ch: string, p: Publication) => void seen.push([ch, p]), onControl() {}, onResync() {}, onHealth() {} };
    return { b, time, seen, start: () => b.start(handler as unknown as BrokerHandler) };
  }
  const pub = (n: number): Publication => ({ data: JSON.stringify({ n }), publishedAt: 0 });
  const history = roomy;

  it('publish with history returns the position and fans out the publication carrying it; without history neither', async () => {
    const { b, seen, start } = broker();
    await start();
    await b.subscribe(['ch']);
    const first = await b.publish('ch', pub(1), { history });
    const second = await b.publish('ch', pub(2), { history });
    expect(first.deduplicated).toBe(false);
    expect(first.position?.offset).toBe(1);
    expect(second.position).toEqual({ offset: 2, epoch: first.position?.epoch });
    expect(seen.map(([ch, p]) => [ch, p.data, p.offset, p.epoch])).toEqual([
      ['ch', '{"n":1}', 1, first.position?.epoch],
      ['ch', '{"n":2}', 2, first.position?.epoch],
    ]);
    const plain = await b.publish('ch', pub(3), {});
    expect(plain).toEqual({ deduplicated: false });
    expect(seen[2]?.[1].offset).toBeUndefined();
    expect(seen[2]?.[1].epoch).toBeUndefined();
    // A publication without history is not kept and does not move the offset.
    expect((await b.history('ch', { limit: -1, metaTtlMs: history.metaTtlMs })).position.offset).toBe(2);
    await b.close();
  });

  it('fans out only channels with interest, but keeps history for all', async () => {
    const { b, seen, start } = broker();
    await start();
    await b.publish('quiet', pub(1), { history });
    expect(seen).toEqual([]);
    await b.subscribe(['quiet']);
    await b.publish('quiet', pub(2), { history });
    await b.unsubscribe(['quiet']);
    await b.publish('quiet', pub(3), { history });
    expect(seen.map(([, p]) => p.offset)).toEqual([2]);
    const read = await b.history('quiet', { limit: -1, metaTtlMs: history.metaTtlMs });
    expect(read.publications.map((p) => [p.data, p.offset])).toEqual([
      ['{"n":1}', 1],
      ['{"n":2}', 2],
      ['{"n":3}', 3],
    ]);
    expect(read.publications.every((p) => p.epoch === read.position.epoch)).toBe(true);
    await b.close();
  });

  it('an idempotency key publishes once within the window and answers with the same position', async () => {
    const { b, time, seen, start } = broker();
    await start();
    await b.subscribe(['ch']);
    const once = await b.publish('ch', pub(1), { history, idempotencyKey: 'k' });
    const again = await b.publish('ch', pub(1), { history, idempotencyKey: 'k' });
    expect(again).toEqual({ ...once, deduplicated: true });
    expect(seen).toHaveLength(1);
    // The key is per channel.
    expect((await b.publish('other', pub(1), { history, idempotencyKey: 'k' })).deduplicated).toBe(false);
    time.now += 60_000;
    const later = await b.publish('ch', pub(1), { history, idempotencyKey: 'k' });
    expect(later).toEqual({ deduplicated: false, position: { offset: 2, epoch: once.position?.epoch } });
    await b.close();
  });

  it('removeHistory starts the channel over with a new epoch', async () => {
    const { b, start } = broker();
    await start();
    const before = await b.publish('ch', pub(1), { history });
    await b.removeHistory('ch');
    const after = await b.publish('ch', pub(2), { history });
    expect(after.position?.offset).toBe(1);
    expect(after.position?.epoch).not.toBe(before.position?.epoch);
    await b.close();
  });
});
