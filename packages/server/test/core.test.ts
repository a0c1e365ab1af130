import { afterEach, describe, expect, it, vi } from 'vitest';
import { namespaceDefaults, type NamespaceOptions } from '../src/config/schema.js';
import { Admission, type AdmissionState } from '../src/core/admission.js';
import { parseChannelName } from '../src/core/channel-name.js';
import { parseDuration } from '../src/core/duration.js';
import { globToRegExp } from '../src/core/glob.js';
import { MultiMap } from '../src/core/multimap.js';
import { encodePublicationPush } from '../src/core/encode.js';
import { TokenBucket } from '../src/core/token-bucket.js';
import { TtlCache } from '../src/core/ttl-cache.js';
import { spreadOver } from '../src/ops/drain.js';
import { FlushScheduler } from '../src/session/flush-scheduler.js';
import { canPublish, canSubscribe } from '../src/session/permissions.js';

/** A clock the test moves by hand. */
function fakeClock(start = 1_000_000) {
  let now = start;
  return {
    clock: () => now,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

describe('MultiMap', () => {
  it('signals the first member of a key and the last one leaving', () => {
    const m = new MultiMap<string, number>();
    expect(m.add('a', 1)).toBe(true);
    expect(m.add('a', 2)).toBe(false);
    expect(m.add('a', 2)).toBe(false);
    expect(m.add('b', 1)).toBe(true);
    expect(m.delete('a', 1)).toBe(false);
    expect(m.delete('a', 2)).toBe(true);
    expect(m.get('a')).toBeUndefined();
    expect(m.add('a', 3)).toBe(true);
  });

  it('keeps counts, size and totalMembers exact through duplicates and missing deletes', () => {
    const m = new MultiMap<string, string>();
    m.add('x', 'p');
    m.add('x', 'q');
    m.add('x', 'q');
    m.add('y', 'p');
    expect(m.count('x')).toBe(2);
    expect(m.count('y')).toBe(1);
    expect(m.count('z')).toBe(0);
    expect(m.size).toBe(2);
    expect(m.totalMembers).toBe(3);
    expect(m.delete('x', 'nobody')).toBe(false);
    expect(m.delete('z', 'p')).toBe(false);
    expect(m.totalMembers).toBe(3);
    expect(m.delete('y', 'p')).toBe(true);
    expect(m.size).toBe(1);
    expect(m.totalMembers).toBe(2);
    expect([...m.keys()]).toEqual(['x']);
    expect([...(m.get('x') ?? [])].sort()).toEqual(['p', 'q']);
  });
});

describe('TtlCache', () => {
  it('forgets an entry once its TTL has passed', () => {
    const t = fakeClock();
    const cache = new TtlCache<string, number>(1000, 10, t.clock);
    cache.set('a', 1);
    t.advance(999);
    expect(cache.get('a')).toBe(1);
    t.advance(1);
    expect(cache.get('a')).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('evicts the oldest entries beyond maxEntries', () => {
    const t = fakeClock();
    const cache = new TtlCache<string, number>(60_000, 3, t.clock);
    for (const [i, key] of ['a', 'b', 'c', 'd'].entries()) {
      cache.set(key, i);
      t.advance(1);
    }
    expect(cache.size).toBe(3);
    expect(cache.get('a')).toBeUndefined();
    expect([cache.get('b'), cache.get('c'), cache.get('d')]).toEqual([1, 2, 3]);
  });

  it('refreshes the TTL and the eviction order when a key is set again', () => {
    const t = fakeClock();
    const cache = new TtlCache<string, string>(1000, 2, t.clock);
    cache.set('a', 'old');
    t.advance(500);
    cache.set('b', 'b');
    t.advance(100);
    cache.set('a', 'new'); // now expires at +1600, after b (+1500)
    t.advance(950); // +1550
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('a')).toBe('new');

    const small = new TtlCache<string, number>(60_000, 2, t.clock);
    small.set('x', 1);
    small.set('y', 2);
    small.set('x', 3); // x becomes the newest
    small.set('z', 4); // evicts y, the oldest
    expect(small.get('y')).toBeUndefined();
    expect(small.get('x')).toBe(3);
    expect(small.get('z')).toBe(4);
  });
});

describe('TokenBucket', () => {
  it('starts with a full burst, then refills at the rate', () => {
    const t = fakeClock();
    const bucket = new TokenBucket(2, 3, t.clock);
    expect([bucket.take(), bucket.take(), bucket.take(), bucket.take()]).toEqual([true, true, true, false]);
    expect(bucket.waitMs).toBe(500);
    t.advance(250);
    expect(bucket.take()).toBe(false);
    expect(bucket.waitMs).toBe(250);
    t.advance(249);
    expect(bucket.take()).toBe(false);
    t.advance(1);
    expect(bucket.take()).toBe(true);
    expect(bucket.take()).toBe(false);
  });

  it('never saves up more than the burst', () => {
    const t = fakeClock();
    const bucket = new TokenBucket(10, 2, t.clock);
    t.advance(60_000);
    expect([bucket.take(), bucket.take(), bucket.take()]).toEqual([true, true, false]);
  });

  it('admits rate × time + burst over a long run', () => {
    const t = fakeClock();
    const bucket = new TokenBucket(5, 5, t.clock);
    let taken = 0;
    for (let ms = 0; ms <= 10_000; ms += 10) {
      while (bucket.take()) taken += 1;
      t.advance(10);
    }
    // 10 s at 5/s plus the initial burst of 5 (the last refill step may add one).
    expect(taken).toBeGreaterThanOrEqual(55);
    expect(taken).toBeLessThanOrEqual(56);
  });

  it('reports 0 ms to wait while a token is available', () => {
    const bucket = new TokenBucket(1, 1, fakeClock().clock);
    expect(bucket.waitMs).toBe(0);
  });
});

describe('parseChannelName', () => {
  it.each([
    ['news', { namespace: '', isPrivate: false, allowedUsers: undefined }],
    ['$priv', { namespace: '', isPrivate: true, allowedUsers: undefined }],
    ['ns:ch', { namespace: 'ns', isPrivate: false, allowedUsers: undefined }],
    ['$ns:ch', { namespace: 'ns', isPrivate: true, allowedUsers: undefined }],
    ['ns:a:b', { namespace: 'ns', isPrivate: false, allowedUsers: undefined }],
    ['chat#42,7', { namespace: '', isPrivate: false, allowedUsers: ['42', '7'] }],
    ['dm:x#1', { namespace: 'dm', isPrivate: false, allowedUsers: ['1'] }],
    ['dm:x#', { namespace: 'dm', isPrivate: false, allowedUsers: [] }],
  ])('%s', (channel, expected) => {
    expect(parseChannelName(channel)).toEqual(expected);
  });
});

describe('parseDuration', () => {
  it.each([
    ['250ms', 250],
    ['30s', 30_000],
    ['5m', 300_000],
    ['1.5h', 5_400_000],
    ['7d', 604_800_000],
    ['0s', 0],
    [' 30s ', 30_000],
  ])('%j is %d ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(['', '10', '10 parsecs', '-5s', 's', '5 s', '1e3ms', '5M', '30sec', '.5s'])('%j is invalid', (text) => {
    expect(parseDuration(text)).toBeUndefined();
  });
});

describe('globToRegExp', () => {
  it('* matches any run of characters, including none', () => {
    const re = globToRegExp('chat:*');
    for (const ch of ['chat:', 'chat:1', 'chat:a:b', 'chat:x\ny']) expect(re.test(ch)).toBe(true);
    for (const ch of ['chat', 'xchat:1', 'news']) expect(re.test(ch)).toBe(false);
    expect(globToRegExp('*').test('')).toBe(true);
  });

  it('? matches exactly one character', () => {
    const re = globToRegExp('a?c');
    expect(re.test('abc')).toBe(true);
    expect(re.test('ac')).toBe(false);
    expect(re.test('abbc')).toBe(false);
  });

  it('escapes regular-expression metacharacters', () => {
    expect(globToRegExp('a.b').test('axb')).toBe(false);
    expect(globToRegExp('a.b').test('a.b')).toBe(true);
    const literal = '$ns:(x)+[y]{1}|^\\';
    expect(globToRegExp(literal).test(literal)).toBe(true);
    expect(globToRegExp('a+').test('aa')).toBe(false);
    expect(globToRegExp('(a|b)').test('a')).toBe(false);
  });
});

describe('Admission', () => {
  const open = { maxConnections: 0, acceptRate: 0, maxConnectionsPerIp: 0, maxEventLoopLag: 0 };
  const at = (connections: number, over: Partial<AdmissionState> = {}): AdmissionState => ({
    connections,
    fromSameIp: 0,
    loopLagMs: 0,
    refuseNew: false,
    storm: false,
    ...over,
  });

  it('takes every connection without limits', () => {
    const a = new Admission(open, fakeClock().clock, () => 0.5);
    for (let i = 0; i < 1000; i++) expect(a.check(at(i, { fromSameIp: i, loopLagMs: i }))).toBeUndefined();
  });

  it('refuses while draining, before anything else', () => {
    const a = new Admission({ ...open, maxConnections: 1, acceptRate: 1 }, fakeClock().clock, () => 0);
    a.draining = true;
    expect(a.check(at(5))).toEqual({ reason: 'draining', retryAfter: 5 });
  });

  it('refuses at capacity', () => {
    const a = new Admission({ ...open, maxConnections: 2 }, fakeClock().clock, () => 0);
    expect(a.check(at(0))).toBeUndefined();
    expect(a.check(at(1))).toBeUndefined();
    expect(a.check(at(2))?.reason).toBe('capacity');
    expect(a.check(at(3))?.reason).toBe('capacity');
  });

  it('refuses above the per-IP cap, the event-loop lag limit, and in degradation tier 3', () => {
    const a = new Admission({ ...open, maxConnectionsPerIp: 3, maxEventLoopLag: 100 }, fakeClock().clock, () => 0);
    expect(a.check(at(10, { fromSameIp: 2 }))).toBeUndefined();
    expect(a.check(at(10, { fromSameIp: 3 }))?.reason).toBe('ip');
    expect(a.check(at(10, { loopLagMs: 99 }))).toBeUndefined();
    expect(a.check(at(10, { loopLagMs: 150 }))?.reason).toBe('loop-lag');
    expect(a.check(at(10, { refuseNew: true }))?.reason).toBe('overload');
  });

  it('refuses above the accept rate and admits again after refill', () => {
    const t = fakeClock();
    const a = new Admission({ ...open, acceptRate: 2 }, t.clock, () => 0);
    expect(a.check(at(0))).toBeUndefined();
    expect(a.check(at(1))).toBeUndefined();
    expect(a.check(at(2))).toEqual({ reason: 'rate', retryAfter: 1 });
    t.advance(500);
    expect(a.check(at(2))).toBeUndefined();
  });

  it('jitters Retry-After within [base, 2 × base], and four times longer in a storm', () => {
    for (const r of [0, 0.25, 0.5, 0.75, 0.999999]) {
      const draining = new Admission(open, fakeClock().clock, () => r);
      draining.draining = true;
      const retry = draining.check(at(0))?.retryAfter ?? -1;
      expect(retry).toBeGreaterThanOrEqual(5);
      expect(retry).toBeLessThanOrEqual(10);
      expect(Number.isInteger(retry)).toBe(true);
      const stormy = draining.check(at(0, { storm: true }))?.retryAfter ?? -1;
      expect(stormy).toBeGreaterThanOrEqual(20);
      expect(stormy).toBeLessThanOrEqual(40);

      const full = new Admission({ ...open, maxConnections: 1 }, fakeClock().clock, () => r);
      const capacity = full.check(at(1))?.retryAfter ?? -1;
      expect(capacity).toBeGreaterThanOrEqual(5);
      expect(capacity).toBeLessThanOrEqual(10);
    }
  });
});

describe('permissions', () => {
  const ns = (overrides: Partial<NamespaceOptions>): NamespaceOptions => ({ ...namespaceDefaults, ...overrides });
  const plain = parseChannelName('news');
  const priv = parseChannelName('$secret');
  const limited = parseChannelName('dm#42,7');
  const everything = ns({
    allowSubscribeForClient: true,
    allowSubscribeForAnonymous: true,
    allowPublishForSubscriber: true,
    allowPublishForClient: true,
    allowPublishForAnonymous: true,
    allowUserLimitedChannels: true,
  });

  it.each([
    // [options, channel, user, expected]
    ['nothing allowed', ns({}), plain, '42', false],
    ['subscribe for client', ns({ allowSubscribeForClient: true }), plain, '42', true],
    ['anonymous, client only', ns({ allowSubscribeForClient: true }), plain, '', false],
    ['anonymous allowed', ns({ allowSubscribeForClient: true, allowSubscribeForAnonymous: true }), plain, '', true],
    ['anonymous flag alone', ns({ allowSubscribeForAnonymous: true }), plain, '', false],
    ['private, everything on', everything, priv, '42', false],
    ['private, anonymous', everything, priv, '', false],
    ['user-limited, listed user', ns({ allowUserLimitedChannels: true }), limited, '7', true],
    ['user-limited, other user', ns({ allowUserLimitedChannels: true }), limited, '8', false],
    ['user-limited, anonymous', everything, limited, '', false],
    ['user-limited, option off: # is an ordinary character', ns({ allowSubscribeForClient: true }), limited, '42', true],
  ] as const)('canSubscribe: %s', (_, options, name, user, expected) => {
    expect(canSubscribe(options, name, user)).toBe(expected);
  });

  it.each([
    // [options, channel, user, subscribed, expected]
    ['nothing allowed', ns({}), plain, '42', true, false],
    ['for subscriber, subscribed', ns({ allowPublishForSubscriber: true }), plain, '42', true, true],
    ['for subscriber, not subscribed', ns({ allowPublishForSubscriber: true }), plain, '42', false, false],
    ['for client, not subscribed', ns({ allowPublishForClient: true }), plain, '42', false, true],
    ['anonymous, client only', ns({ allowPublishForClient: true }), plain, '', true, false],
    ['anonymous allowed', ns({ allowPublishForClient: true, allowPublishForAnonymous: true }), plain, '', false, true],
    ['anonymous flag alone', ns({ allowPublishForAnonymous: true }), plain, '', true, false],
    ['user-limited, listed user', ns({ allowPublishForClient: true }), limited, '42', false, true],
    ['user-limited, other user', everything, limited, '8', true, false],
    ['user-limited, anonymous', everything, limited, '', true, false],
  ] as const)('canPublish: %s', (_, options, name, user, subscribed, expected) => {
    expect(canPublish(options, name, user, subscribed)).toBe(expected);
  });
});

describe('spreadOver', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('handles every item exactly once, in at most 100 steps', async () => {
    vi.useFakeTimers();
    const items = Array.from({ length: 250 }, (_, i) => i);
    const seen: number[] = [];
    const steps: number[] = [];
    let resolved = false;
    const done = spreadOver(items, 1000, Math.random, (i) => seen.push(i)).done.then(() => (resolved = true));
    let previous = 0;
    for (let t = 0; t < 2000 && !resolved; t += 1) {
      await vi.advanceTimersByTimeAsync(1);
      if (seen.length !== previous) {
        steps.push(seen.length - previous);
        previous = seen.length;
      }
    }
    await done;
    expect(seen).toHaveLength(250);
    expect(new Set(seen).size).toBe(250);
    expect([...seen].sort((a, b) => a - b)).toEqual(items);
    expect(steps.length).toBeLessThanOrEqual(100);
  });

  it('handles everything at once with windowMs 0', async () => {
    vi.useFakeTimers();
    const seen: string[] = [];
    const done = spreadOver(['a', 'b', 'c', 'd'], 0, Math.random, (s) => seen.push(s)).done;
    expect(seen.sort()).toEqual(['a', 'b', 'c', 'd']);
    await done;
  });

  it('spreads items evenly over the window and resolves at its end', async () => {
    vi.useFakeTimers();
    const items = Array.from({ length: 10 }, (_, i) => i);
    const seen: number[] = [];
    let resolved = false;
    const done = spreadOver(items, 1000, () => 0.3, (i) => seen.push(i)).done.then(() => (resolved = true));
    expect(seen).toHaveLength(0);
    const handledAt: number[] = [];
    for (let t = 100; t <= 1000; t += 100) {
      await vi.advanceTimersByTimeAsync(100);
      handledAt.push(seen.length);
    }
    expect(handledAt).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    await done;
    expect(resolved).toBe(true);
    expect([...seen].sort((a, b) => a - b)).toEqual(items);
  });

  it('hurry handles every remaining item at once and resolves', async () => {
    vi.useFakeTimers();
    const seen: number[] = [];
    const spread = spreadOver([1, 2, 3, 4], 60_000, Math.random, (i) => seen.push(i));
    await vi.advanceTimersByTimeAsync(15_000);
    expect(seen).toHaveLength(1);
    spread.hurry();
    expect([...seen].sort()).toEqual([1, 2, 3, 4]);
    await spread.done;
    expect(vi.getTimerCount()).toBe(0);
  });

  it('handles more than 100 items in 100 roughly equal batches', async () => {
    vi.useFakeTimers();
    const seen: number[] = [];
    const done = spreadOver(Array.from({ length: 1000 }, (_, i) => i), 500, Math.random, (i) => seen.push(i)).done;
    const perStep: number[] = [];
    for (let step = 0; step < 100; step++) {
      const before = seen.length;
      await vi.advanceTimersByTimeAsync(5);
      perStep.push(seen.length - before);
    }
    await done;
    expect(perStep.every((n) => n === 10)).toBe(true);
    expect(new Set(seen).size).toBe(1000);
  });
});

describe('encodePublicationPush', () => {
  it('encodes the Centrifugo publication push', () => {
    const text = encodePublicationPush('news', { data: '{"text":"hi","n":[1,2]}' });
    expect(JSON.parse(text)).toEqual({ push: { channel: 'news', pub: { data: { text: 'hi', n: [1, 2] } } } });
  });

  it('includes info, offset and tags when given', () => {
    const text = encodePublicationPush('chat:1', {
      data: '"plain string"',
      info: { user: '42', client: 'c-1', conn_info: { name: 'Ann' } },
      offset: 7,
      tags: { kind: 'note' },
    });
    expect(JSON.parse(text)).toEqual({
      push: {
        channel: 'chat:1',
        pub: { data: 'plain string', info: { user: '42', client: 'c-1', conn_info: { name: 'Ann' } }, offset: 7, tags: { kind: 'note' } },
      },
    });
  });

  it('escapes channel names that need it', () => {
    const channel = 'we"ird\\chan\nnel\u2028';
    expect(JSON.parse(encodePublicationPush(channel, { data: 'null' }))).toEqual({ push: { channel, pub: { data: null } } });
  });
});

describe('FlushScheduler', () => {
  const target = () => {
    const t = { flushes: 0, flush: () => void (t.flushes += 1) };
    return t;
  };

  it('flushes after the current synchronous work, once per target per tick', async () => {
    const scheduler = new FlushScheduler();
    const a = target();
    const b = target();
    scheduler.mark(a);
    scheduler.mark(a);
    scheduler.mark(b);
    expect([a.flushes, b.flushes]).toEqual([0, 0]);
    await Promise.resolve();
    await Promise.resolve();
    expect([a.flushes, b.flushes]).toEqual([1, 1]);
  });

  it('flushes again in a later tick', async () => {
    const scheduler = new FlushScheduler();
    const a = target();
    scheduler.mark(a);
    await new Promise((resolve) => setImmediate(resolve));
    scheduler.mark(a);
    await new Promise((resolve) => setImmediate(resolve));
    expect(a.flushes).toBe(2);
  });
});
