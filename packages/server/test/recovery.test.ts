/**
 * History, offsets, recovery, positioning and private channels over real sockets: the
 * `centrifuge` SDK (5.8) where a client's behaviour matters, a raw JSON client where
 * exact wire shapes matter. Sockets are killed from the server (3011) or the network
 * (terminate), never with the SDK's own disconnect(); reconnects are held back by a
 * gate until the test has published what the client must miss. Tests wait on events
 * only; `within` deadlines only turn a hang into a labelled failure.
 */
import type { Centrifuge, ConnectingContext, PublicationContext, SubscribedContext, Subscription, SubscribingContext, UnsubscribedContext } from 'centrifuge';
import type { JsonValue } from '@fleetgate/protocol';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { mintSubscriptionToken } from '../src/auth/jwt.js';
import type { Publication } from '../src/broker/broker.js';
import type { ConfigInput } from '../src/config/schema.js';
import { api, SECRET, startGateway, type TestGateway, token } from './helpers.js';
import { closeFrame, metric, signToken as signClaims } from './raw-helpers.js';
import { controlledWebSocket, Deferred, type Msg, range, type SocketControl, Wire } from './recovery-helpers.js';
import { clientState, Counter, Scope, subState, waitFor, within } from './sdk-helpers.js';

const scope = new Scope();
afterEach(() => scope.cleanup());

const history = { historySize: 100, historyTtl: '300s' } as const;

const namespaces: NonNullable<ConfigInput['channel']>['namespaces'] = {
  chat: { ...history, forceRecovery: true },
  small: { historySize: 10, historyTtl: '300s', forceRecovery: true },
  fast: { historySize: 100_000, historyTtl: '300s', forceRecovery: true },
  p3: { historySize: 3, historyTtl: '300s', forceRecovery: true },
  p8: { historySize: 8, historyTtl: '300s', forceRecovery: true },
  p1000: { historySize: 1000, historyTtl: '300s', forceRecovery: true },
  opt: { ...history, allowRecovery: true },
  pos: { ...history, forcePositioning: true },
  apos: { ...history, allowPositioning: true },
  plain: { forceRecovery: true, forcePositioning: true, allowHistoryForSubscriber: true, allowHistoryForClient: true },
  h: { historySize: 10, historyTtl: '300s', allowHistoryForSubscriber: true },
  hc: { ...history, allowHistoryForClient: true, allowSubscribeForClient: false },
  srv: { ...history, forceRecovery: true, allowSubscribeForClient: false },
  srvpos: { ...history, forcePositioning: true, allowSubscribeForClient: false },
  dm: { allowUserLimitedChannels: true },
};

/** Channels without namespace (`$secret` …) take the defaults: clients may subscribe (not to `$` channels) and publish when subscribed. */
const channels: ConfigInput['channel'] = { defaults: { allowSubscribeForClient: true, allowPublishForSubscriber: true }, namespaces };

async function gateway(client: ConfigInput['client'] = {}): Promise<TestGateway> {
  return scope.gateway(await startGateway({ channel: channels, ...(client && { client }) }));
}

// ---------------------------------------------------------------- helpers

/** Publishes `{n}` through the API and returns its result (`{offset, epoch}` on history channels). */
async function publish(gw: TestGateway, channel: string, n: number, extra: Record<string, unknown> = {}): Promise<{ offset?: number; epoch?: string }> {
  const res = await api(gw, 'publish', { channel, data: { n }, ...extra });
  if (res.status !== 200 || res.json?.result === undefined) throw new Error(`publish failed: ${res.status} ${JSON.stringify(res.json)}`);
  return res.json.result as { offset?: number; epoch?: string };
}

async function publishRange(gw: TestGateway, channel: string, from: number, to: number): Promise<void> {
  for (const n of range(from, to)) {
    const result = await publish(gw, channel, n);
    if (result.offset !== n) throw new Error(`publication ${n} landed at offset ${String(result.offset)}`);
  }
}

interface SdkClient {
  readonly client: Centrifuge;
  readonly net: SocketControl;
}

/** An SDK client on a controllable socket, connected; reconnects are quick so tests stay short. */
async function connectedSdk(gw: TestGateway, user: string, tokenValue?: string): Promise<SdkClient> {
  const net = controlledWebSocket();
  const client = scope.client(gw, { token: tokenValue ?? (await token(user)), websocket: net.WebSocket, minReconnectDelay: 5, maxReconnectDelay: 50 });
  const ready = clientState(client, 'connected');
  client.connect();
  await within(ready, `${user} connected`);
  return { client, net: net.control };
}

/** What a subscription saw: publications and subscribed events, in order. */
function watch(sub: Subscription) {
  const pubs: PublicationContext[] = [];
  const subscribed: SubscribedContext[] = [];
  sub.on('publication', (ctx) => pubs.push(ctx));
  sub.on('subscribed', (ctx) => subscribed.push(ctx));
  return {
    pubs,
    subscribed,
    offsets: () => pubs.map((p) => p.offset),
    ns: () => pubs.map((p) => (p.data as { n: number }).n),
    /** Resolves when a publication with `offset` arrives (or already has). */
    reached: (offset: number) =>
      pubs.some((p) => p.offset === offset) ? Promise.resolve() : waitFor<PublicationContext>(sub, 'publication', (p) => p.offset === offset).then(() => undefined),
  };
}

async function subscribed(sub: Subscription): Promise<void> {
  const ready = subState(sub, 'subscribed');
  sub.subscribe();
  await within(ready, `subscribed to ${sub.channel}`);
}

/**
 * Kills the client's socket from the server (3011 "force reconnect", through the gateway's
 * disconnect) or from the network (terminate: no close frame). Callers wait for the SDK's
 * 'connecting' to know it took effect.
 */
async function kill(gw: TestGateway, how: 'server' | 'network', user: string, net: SocketControl): Promise<void> {
  if (how === 'server') await gw.gateway.disconnect({ user }, 3011);
  else net.terminate();
}

type Deliver = (channel: string, pub: Publication) => void;

/** The node's fan-out entry point (the broker calls it for every publication). */
function nodeDeliver(gw: TestGateway): { deliver: Deliver } {
  return gw.gateway.node as unknown as { deliver: Deliver };
}

/** Drops the next publication of `channel` between the broker and the node (it stays in history): a loss on the path. */
function dropNextDelivery(gw: TestGateway, channel: string): Promise<Publication> {
  const node = nodeDeliver(gw);
  const original = node.deliver;
  const dropped = new Deferred<Publication>();
  node.deliver = function (this: unknown, ch: string, pub: Publication) {
    if (ch !== channel) return original.call(this, ch, pub);
    delete (node as { deliver?: Deliver }).deliver; // back to the prototype's method
    dropped.resolve(pub);
  };
  return dropped.promise;
}

/** A raw JSON client, connected as `user` (or with `tokenValue`), cleaned up after the test. */
async function wire(gw: TestGateway, user: string, tokenValue?: string): Promise<Wire> {
  const w = await Wire.open(gw.wsUrl);
  scope.raw(w.raw);
  await w.connect(tokenValue ?? (await token(user)));
  return w;
}

const unsubscribePush = (channel: string, code: number, reason: string) => `{"push":{"channel":${JSON.stringify(channel)},"unsubscribe":{"code":${code},"reason":"${reason}"}}}`;

// ---------------------------------------------------------------- (a) SDK recovery

describe('SDK: recovery after the socket dies', () => {
  it.each(['server', 'network'] as const)('gets exactly the 50 publications it missed, in order, with recovered: true (killed by the %s)', async (how) => {
    const gw = await gateway();
    const { client, net } = await connectedSdk(gw, 'alice');
    const sub = client.newSubscription('chat:room');
    const seen = watch(sub);
    await subscribed(sub);
    expect(seen.subscribed[0]).toMatchObject({ recoverable: true, positioned: true, wasRecovering: false, recovered: false });

    await publishRange(gw, 'chat:room', 1, 5);
    await within(seen.reached(5), 'the first 5 publications');
    expect(seen.offsets()).toEqual([1, 2, 3, 4, 5]);
    const epoch = seen.subscribed[0]?.streamPosition?.epoch;
    expect(epoch).toMatch(/^[a-zA-Z]{8}$/);

    net.hold();
    const away = waitFor<ConnectingContext>(client, 'connecting');
    await kill(gw, how, 'alice', net);
    const connecting = await within(away, 'the SDK noticing the dead socket');
    if (how === 'server') expect(connecting).toMatchObject({ code: 3011, reason: 'force reconnect' });
    await publishRange(gw, 'chat:room', 6, 55);

    const back = waitFor<SubscribedContext>(sub, 'subscribed');
    await within(net.attempts.until((n) => n >= 2), 'a reconnect attempt');
    net.release();
    const resubscribed = await within(back, 'resubscribed after reconnect');
    expect(resubscribed).toMatchObject({ wasRecovering: true, recovered: true, hasRecoveredPublications: true });
    expect(resubscribed.streamPosition?.epoch).toBe(epoch);
    // The resubscribe asked for recovery from the last offset the client had.
    expect(net.commands('subscribe').at(-1)).toMatchObject({ channel: 'chat:room', recover: true, offset: 5, epoch });

    await publish(gw, 'chat:room', 56);
    await within(seen.reached(56), 'the live publication after recovery');
    expect(seen.offsets()).toEqual(range(1, 56));
    expect(seen.ns()).toEqual(range(1, 56));
  });

  it('with historySize (10) smaller than the gap (50) it sees recovered: false, none of the missed ones, then live ones', async () => {
    const gw = await gateway();
    const { client, net } = await connectedSdk(gw, 'alice');
    const sub = client.newSubscription('small:room');
    const seen = watch(sub);
    await subscribed(sub);
    await publishRange(gw, 'small:room', 1, 5);
    await within(seen.reached(5), 'the first 5 publications');

    net.hold();
    const away = clientState(client, 'connecting');
    await kill(gw, 'server', 'alice', net);
    await within(away, 'the SDK noticing the dead socket');
    await publishRange(gw, 'small:room', 6, 55);
    const back = waitFor<SubscribedContext>(sub, 'subscribed');
    net.release();
    const resubscribed = await within(back, 'resubscribed after reconnect');
    expect(resubscribed).toMatchObject({ wasRecovering: true, recovered: false, hasRecoveredPublications: false });
    expect(resubscribed.streamPosition?.offset).toBe(55);

    await publish(gw, 'small:room', 56);
    await within(seen.reached(56), 'the live publication after the failed recovery');
    expect(seen.offsets()).toEqual([1, 2, 3, 4, 5, 56]);
  });

  it('recovers over a gap equal to historySize (10): the boundary is still recoverable', async () => {
    const gw = await gateway();
    const { client, net } = await connectedSdk(gw, 'alice');
    const sub = client.newSubscription('small:edge');
    const seen = watch(sub);
    await subscribed(sub);
    await publishRange(gw, 'small:edge', 1, 3);
    await within(seen.reached(3), 'the first 3 publications');
    net.hold();
    const away = clientState(client, 'connecting');
    await kill(gw, 'network', 'alice', net);
    await within(away, 'the SDK noticing the dead socket');
    await publishRange(gw, 'small:edge', 4, 13);
    const back = waitFor<SubscribedContext>(sub, 'subscribed');
    net.release();
    expect(await within(back, 'resubscribed')).toMatchObject({ recovered: true });
    await publish(gw, 'small:edge', 14);
    await within(seen.reached(14), 'live publication');
    expect(seen.offsets()).toEqual(range(1, 14));
  });
});

// ---------------------------------------------------------------- (b) full speed

describe('recovery while publishing at full speed', () => {
  it('the SDK ends up with exactly 1..N, offsets consecutive, through several reconnects', async () => {
    const gw = await gateway();
    const { client, net } = await connectedSdk(gw, 'bob');
    const sub = client.newSubscription('fast:ticks');
    const seen = watch(sub);
    await subscribed(sub);

    let published = 0;
    let running = true;
    const wrongOffsets: string[] = [];
    const publisher = (async () => {
      while (running) {
        const n = ++published;
        const result = await publish(gw, 'fast:ticks', n);
        if (result.offset !== n) wrongOffsets.push(`${n}→${String(result.offset)}`);
      }
    })();

    const cycles: { recovered: boolean; publishedWhileAway: number }[] = [];
    try {
      for (let cycle = 0; cycle < 8; cycle++) {
        // Let publications flow live for a while, then kill the socket mid-stream.
        await within(seen.reached(published + 20), `live publications before cycle ${cycle}`);
        const away = waitFor(client, 'connecting');
        const back = waitFor<SubscribedContext>(sub, 'subscribed');
        await kill(gw, cycle % 2 === 0 ? 'network' : 'server', 'bob', net);
        await within(away, `disconnect ${cycle}`);
        const atDisconnect = published;
        const ctx = await within(back, `resubscribe ${cycle}`);
        cycles.push({ recovered: ctx.recovered, publishedWhileAway: published - atDisconnect });
      }
    } finally {
      running = false;
      await publisher;
    }
    await within(seen.reached(published), 'the last publication');

    expect(wrongOffsets).toEqual([]);
    expect(cycles.map((c) => c.recovered)).toEqual(cycles.map(() => true));
    // The publisher did not stop while the client was away.
    expect(cycles.some((c) => c.publishedWhileAway > 0)).toBe(true);
    const ns = seen.ns();
    expect(ns.length).toBe(published);
    expect(ns).toEqual(range(1, published));
    expect(seen.offsets()).toEqual(range(1, published));
  });

  it('publications landing between the start of buffering and the history read, and after it, are merged without duplicates', async () => {
    const gw = await gateway();
    const w = await wire(gw, 'carol');
    await publishRange(gw, 'chat:merge', 1, 3);
    const first = await w.subscribe({ channel: 'chat:merge' });
    const epoch = first['subscribe'].epoch as string;
    await w.call('unsubscribe', { channel: 'chat:merge' });
    await publishRange(gw, 'chat:merge', 4, 5);

    // Publications 6–7 arrive while the subscribe is between "buffering" and "history read";
    // 8–9 after the history read, before the reply is written.
    const node = gw.gateway.node as unknown as { history: (...args: unknown[]) => Promise<unknown> };
    const original = node.history;
    node.history = async function (this: unknown, ...args: unknown[]) {
      delete (node as { history?: unknown }).history;
      await publishRange(gw, 'chat:merge', 6, 7);
      const read = await original.apply(this, args);
      await publishRange(gw, 'chat:merge', 8, 9);
      return read;
    };
    const pubs = w.pubs('chat:merge');
    const reply = await w.subscribe({ channel: 'chat:merge', recover: true, offset: 3, epoch });
    expect(reply['subscribe']).toMatchObject({ recovered: true, was_recovering: true, offset: 3, epoch });
    const recovered = (reply['subscribe'].publications as Msg[]).map((p) => p['offset'] as number);
    expect(recovered).toEqual([4, 5, 6, 7]);
    const ten = w.waitFor((m) => m['push']?.pub?.offset === 10);
    await publish(gw, 'chat:merge', 10);
    await within(ten, 'live publication 10');
    expect([...recovered, ...pubs.map((p) => p['offset'] as number)]).toEqual(range(4, 10));
  });
});

// ---------------------------------------------------------------- (c) property

/** Follows one channel of a raw client across connections, checking every publication against its position. */
class Tracker {
  readonly received: number[] = [];
  readonly replies: Msg[] = [];
  readonly violations: string[] = [];
  position: { offset: number; epoch: string } | undefined;
  subscribed = false;
  subscribeId: number | undefined;
  unsubscribeId: number | undefined;
  private detachFn: (() => void) | undefined;
  private readonly progress = new Counter();

  constructor(readonly channel: string) {}

  attach(w: Wire): void {
    this.detach();
    this.detachFn = w.on((m) => this.onMessage(m));
  }

  detach(): void {
    this.detachFn?.();
    this.detachFn = undefined;
    this.subscribed = false;
    this.subscribeId = undefined;
    this.unsubscribeId = undefined;
  }

  /** Resolves once the client's position reaches `offset`. */
  reached(offset: number): Promise<void> {
    return this.progress.until(() => (this.position?.offset ?? -1) >= offset);
  }

  private onMessage(m: Msg): void {
    if (m['id'] !== undefined && m['id'] === this.subscribeId) {
      this.subscribeId = undefined;
      if (m['error'] !== undefined) return void this.violations.push(`subscribe error ${JSON.stringify(m['error'])}`);
      const r = m['subscribe'] as Msg;
      this.replies.push(r);
      this.subscribed = true;
      if (r['recovered'] === true) {
        if (r['offset'] !== this.position?.offset || r['epoch'] !== this.position?.epoch) {
          this.violations.push(`recovered reply at ${JSON.stringify(r)} for position ${JSON.stringify(this.position)}`);
        }
        for (const pub of (r['publications'] ?? []) as Msg[]) this.take(pub);
      } else {
        if (r['publications'] !== undefined) this.violations.push(`publications in an unrecovered reply: ${JSON.stringify(r)}`);
        this.position = { offset: r['offset'] as number, epoch: r['epoch'] as string };
      }
      this.progress.inc();
    } else if (m['id'] !== undefined && m['id'] === this.unsubscribeId) {
      this.unsubscribeId = undefined;
      this.subscribed = false;
    } else if (m['push']?.channel === this.channel) {
      if (m['push'].pub === undefined) return void this.violations.push(`unexpected push ${JSON.stringify(m['push'])}`);
      if (!this.subscribed) this.violations.push(`publication while not subscribed: ${JSON.stringify(m['push'].pub)}`);
      this.take(m['push'].pub as Msg);
      this.progress.inc();
    }
  }

  private take(pub: Msg): void {
    const expected = (this.position?.offset ?? Number.NaN) + 1;
    if (pub['offset'] !== expected) this.violations.push(`offset ${String(pub['offset'])} where ${expected} was next`);
    if (pub['data']?.n !== pub['offset']) this.violations.push(`payload ${JSON.stringify(pub['data'])} at offset ${String(pub['offset'])}`);
    this.received.push(pub['offset'] as number);
    this.position = { offset: pub['offset'] as number, epoch: this.position?.epoch ?? '' };
  }
}

type Action = { t: 'publish'; k: number } | { t: 'killNetwork' } | { t: 'killServer' } | { t: 'resubscribe' } | { t: 'sync' };

describe('property: random publishes, disconnects and resubscribes', () => {
  it('the client ends up with the published sequence whenever the server said recovered, and never with a gap, duplicate or reordering', async () => {
    const gw = await gateway();
    const action: fc.Arbitrary<Action> = fc.oneof(
      { weight: 5, arbitrary: fc.record({ t: fc.constant('publish' as const), k: fc.integer({ min: 0, max: 6 }) }) },
      { weight: 2, arbitrary: fc.constant({ t: 'killNetwork' as const }) },
      { weight: 2, arbitrary: fc.constant({ t: 'killServer' as const }) },
      { weight: 3, arbitrary: fc.constant({ t: 'resubscribe' as const }) },
      { weight: 1, arbitrary: fc.constant({ t: 'sync' as const }) },
    );
    const scenario = fc.record({
      size: fc.constantFrom(3, 8, 1000),
      pre: fc.integer({ min: 0, max: 4 }),
      actions: fc.array(action, { minLength: 1, maxLength: 14 }),
    });
    let run = 0;

    await fc.assert(
      fc.asyncProperty(scenario, async ({ size, pre, actions }) => {
        run += 1;
        const channel = `p${size}:run${run}`;
        const user = `u${run}`;
        const tracker = new Tracker(channel);
        const wrongRecovery: string[] = [];
        let published = 0;
        let w: Wire | undefined;

        const publishSome = async (k: number) => {
          for (let i = 0; i < k; i++) {
            published += 1;
            const result = await publish(gw, channel, published);
            if (result.offset !== published) wrongRecovery.push(`publish ${published} got offset ${String(result.offset)}`);
          }
        };
        const subscribe = async (recover: boolean) => {
          if (w === undefined) throw new Error('no connection');
          const from = tracker.position;
          const topNow = published;
          const params = recover && from !== undefined ? { channel, recover: true, offset: from.offset, epoch: from.epoch } : { channel };
          const id = w.send('subscribe', params);
          tracker.subscribeId = id;
          const reply = await within(
            w.waitFor((m) => m['id'] === id),
            'subscribe reply',
            3000,
          );
          if (recover && from !== undefined) {
            const recoverable = topNow - from.offset <= size;
            if ((reply['subscribe']?.recovered === true) !== recoverable) {
              wrongRecovery.push(`from ${from.offset} with top ${topNow} and history ${size}: ${JSON.stringify(reply)}`);
            }
          }
        };
        const open = async () => {
          w = await Wire.open(gw.wsUrl);
          tracker.attach(w);
          await w.connect(await token(user));
        };

        try {
          await publishSome(pre);
          await open();
          await subscribe(false);
          const firstOffset = tracker.position?.offset;
          expect(firstOffset).toBe(pre);

          for (const a of actions) {
            switch (a.t) {
              case 'publish':
                await publishSome(a.k);
                break;
              case 'killNetwork':
                if (w !== undefined) {
                  tracker.detach();
                  w.terminate();
                  w = undefined;
                }
                break;
              case 'killServer':
                if (w !== undefined) {
                  const closed = w.raw.closed;
                  await gw.gateway.disconnect({ user }, 3011);
                  await within(closed, 'server-side close', 3000);
                  tracker.detach();
                  w = undefined;
                }
                break;
              case 'resubscribe':
                if (w === undefined) {
                  await open();
                } else {
                  const id = w.send('unsubscribe', { channel });
                  tracker.unsubscribeId = id;
                  await within(
                    w.waitFor((m) => m['id'] === id),
                    'unsubscribe reply',
                    3000,
                  );
                }
                await subscribe(true);
                break;
              case 'sync':
                if (w !== undefined) await within(tracker.reached(published), 'client caught up', 3000);
                break;
            }
          }
          if (w === undefined) {
            await open();
            await subscribe(true);
          }
          await within(tracker.reached(published), `client reaching offset ${published}`, 3000);

          expect(tracker.violations).toEqual([]);
          expect(wrongRecovery).toEqual([]);
          const allRecovered = tracker.replies.slice(1).every((r) => r['recovered'] === true);
          if (allRecovered) {
            expect(tracker.received).toEqual(range((firstOffset ?? 0) + 1, published));
          } else {
            // No gap, duplicate or reordering since the last unrecovered reply; strictly increasing overall.
            expect(tracker.received.every((o, i) => i === 0 || o > (tracker.received[i - 1] ?? 0))).toBe(true);
            expect(tracker.position?.offset).toBe(published);
          }
        } finally {
          tracker.detach();
          w?.terminate();
        }
      }),
      { numRuns: 20 },
    );
  });
});

// ---------------------------------------------------------------- (d) subscribe reply shapes

describe('subscribe reply shapes', () => {
  it('forceRecovery: recoverable, positioned, epoch and the top offset; live publications carry their offset', async () => {
    const gw = await gateway();
    await publishRange(gw, 'chat:shape', 1, 3);
    const w = await wire(gw, 'dave');
    const reply = await w.subscribe({ channel: 'chat:shape' });
    expect(reply).toEqual({ id: 2, subscribe: { recoverable: true, positioned: true, epoch: expect.stringMatching(/^[a-zA-Z]{8}$/), offset: 3 } });
    const frame = w.waitFor((m) => m['push']?.pub !== undefined);
    const frames = w.frames.length;
    await publish(gw, 'chat:shape', 4);
    await within(frame, 'live publication');
    expect(w.frames.slice(frames)).toContain('{"push":{"channel":"chat:shape","pub":{"data":{"n":4},"offset":4}}}');
  });

  it('allowRecovery: plain unless the client asks for recoverable', async () => {
    const gw = await gateway();
    const w = await wire(gw, 'dave');
    expect((await w.subscribe({ channel: 'opt:a' }))['subscribe']).toEqual({});
    const asked = await w.subscribe({ channel: 'opt:b', recoverable: true });
    expect(asked['subscribe']).toEqual({ recoverable: true, positioned: true, epoch: expect.any(String), offset: 0 });
    // Without recoverable, recover is ignored: no recovery fields at all.
    expect((await w.subscribe({ channel: 'opt:c', recover: true, offset: 0, epoch: 'x' }))['subscribe']).toEqual({});
  });

  it('forcePositioning / allowPositioning: positioned without recoverable', async () => {
    const gw = await gateway();
    await publish(gw, 'pos:a', 1);
    const w = await wire(gw, 'dave');
    expect((await w.subscribe({ channel: 'pos:a' }))['subscribe']).toEqual({ positioned: true, epoch: expect.any(String), offset: 1 });
    expect((await w.subscribe({ channel: 'apos:a' }))['subscribe']).toEqual({});
    expect((await w.subscribe({ channel: 'apos:b', positioned: true }))['subscribe']).toEqual({ positioned: true, epoch: expect.any(String), offset: 0 });
  });

  it('no positioning fields (and no offsets) on a channel without history, even with force options', async () => {
    const gw = await gateway();
    const w = await wire(gw, 'dave');
    const reply = await w.subscribe({ channel: 'plain:a', recover: true, offset: 3, epoch: 'abcdefgh', recoverable: true, positioned: true });
    expect(reply['subscribe']).toEqual({});
    const pub = w.waitFor((m) => m['push']?.pub !== undefined);
    expect(await publish(gw, 'plain:a', 1)).toEqual({});
    expect((await within(pub, 'publication'))['push']).toEqual({ channel: 'plain:a', pub: { data: { n: 1 } } });
  });

  it('recovers on the same connection: reply offset is the requested one and publications bring the client to the top', async () => {
    const gw = await gateway();
    const w = await wire(gw, 'dave');
    const first = (await w.subscribe({ channel: 'chat:again' }))['subscribe'];
    await publishRange(gw, 'chat:again', 1, 3);
    await w.call('unsubscribe', { channel: 'chat:again' });
    await publishRange(gw, 'chat:again', 4, 5);
    const reply = await w.subscribe({ channel: 'chat:again', recover: true, offset: 3, epoch: first.epoch });
    expect(reply['subscribe']).toEqual({
      recoverable: true,
      positioned: true,
      epoch: first.epoch,
      offset: 3,
      recovered: true,
      was_recovering: true,
      publications: [
        { data: { n: 4 }, offset: 4 },
        { data: { n: 5 }, offset: 5 },
      ],
    });
    // The SDK omits an empty epoch: recovery by offset alone.
    await w.call('unsubscribe', { channel: 'chat:again' });
    const noEpoch = await w.subscribe({ channel: 'chat:again', recover: true, offset: 5 });
    expect(noEpoch['subscribe']).toMatchObject({ recovered: true, was_recovering: true, offset: 5, epoch: first.epoch });
    expect(noEpoch['subscribe'].publications).toBeUndefined();
  });

  it('a wrong epoch is not recovered (top position, no publications); with flag 2 it is error 112 and no subscription', async () => {
    const gw = await gateway();
    await publishRange(gw, 'chat:epoch', 1, 2);
    const w = await wire(gw, 'dave');
    const lenient = await w.subscribe({ channel: 'chat:epoch', recover: true, offset: 1, epoch: 'WRONGEPO' });
    expect(lenient['subscribe']).toEqual({ recoverable: true, positioned: true, epoch: expect.any(String), offset: 2, was_recovering: true });
    await w.call('unsubscribe', { channel: 'chat:epoch' });

    const strict = await w.subscribe({ channel: 'chat:epoch', recover: true, offset: 1, epoch: 'WRONGEPO', flag: 3 });
    expect(strict).toEqual({ id: strict['id'], error: { code: 112, message: expect.any(String) } });
    // Not subscribed: a publication does not arrive, and subscribing again is not "already subscribed".
    const again = await w.subscribe({ channel: 'chat:epoch', flag: 3 });
    expect(again['subscribe']).toMatchObject({ offset: 2 });

    // flag 2 with a good position recovers normally.
    await w.call('unsubscribe', { channel: 'chat:epoch' });
    const good = await w.subscribe({ channel: 'chat:epoch', recover: true, offset: 1, epoch: again['subscribe'].epoch, flag: 3 });
    expect(good['subscribe']).toMatchObject({ recovered: true, publications: [{ data: { n: 2 }, offset: 2 }] });
  });

  it('flag 2 also rejects a position that history no longer covers', async () => {
    const gw = await gateway();
    const w = await wire(gw, 'dave');
    const epoch = (await w.subscribe({ channel: 'small:strict' }))['subscribe'].epoch;
    await w.call('unsubscribe', { channel: 'small:strict' });
    await publishRange(gw, 'small:strict', 1, 11);
    const strict = await w.subscribe({ channel: 'small:strict', recover: true, offset: 0, epoch, flag: 2 });
    expect(strict['error']).toMatchObject({ code: 112 });
  });

  it('recovery over the cap (recoveryMaxPublications 5, gap 8) is recovered: false with no publications; a gap of 5 recovers; both are counted', async () => {
    const gw = await gateway({ recoveryMaxPublications: 5 });
    const w = await wire(gw, 'erin');
    const epoch = (await w.subscribe({ channel: 'chat:cap' }))['subscribe'].epoch;
    await w.call('unsubscribe', { channel: 'chat:cap' });
    await publishRange(gw, 'chat:cap', 1, 8);
    const before = { hit: await metric(gw, 'fleetgate_recovery_total', { result: 'recovered' }), miss: await metric(gw, 'fleetgate_recovery_total', { result: 'not_recovered' }) };

    const over = await w.subscribe({ channel: 'chat:cap', recover: true, offset: 0, epoch });
    expect(over['subscribe']).toEqual({ recoverable: true, positioned: true, epoch, offset: 8, was_recovering: true });
    await w.call('unsubscribe', { channel: 'chat:cap' });

    const atCap = await w.subscribe({ channel: 'chat:cap', recover: true, offset: 3, epoch });
    expect(atCap['subscribe']).toMatchObject({ recovered: true, offset: 3 });
    expect((atCap['subscribe'].publications as Msg[]).map((p) => p['offset'])).toEqual([4, 5, 6, 7, 8]);

    expect(await metric(gw, 'fleetgate_recovery_total', { result: 'not_recovered' })).toBe(before.miss + 1);
    expect(await metric(gw, 'fleetgate_recovery_total', { result: 'recovered' })).toBe(before.hit + 1);
  });
});

// ---------------------------------------------------------------- (e) positioning

describe('positioning: a skipped offset resets the subscription', () => {
  it('a dropped publication makes the next one a gap: unsubscribe push 2500 "insufficient state", and the later one is not delivered', async () => {
    const gw = await gateway();
    const w = await wire(gw, 'frank');
    expect((await w.subscribe({ channel: 'pos:gap' }))['subscribe']).toMatchObject({ positioned: true, offset: 0 });
    const pubs = w.pubs('pos:gap');
    const one = w.waitFor((m) => m['push']?.pub?.offset === 1);
    await publish(gw, 'pos:gap', 1);
    await within(one, 'publication 1');

    const dropped = dropNextDelivery(gw, 'pos:gap');
    await publish(gw, 'pos:gap', 2);
    expect((await dropped).offset).toBe(2);
    const reset = w.waitFor((m) => m['push']?.unsubscribe !== undefined);
    await publish(gw, 'pos:gap', 3);
    await within(reset, 'insufficient state push');
    expect(w.frames.join('\n')).toContain(unsubscribePush('pos:gap', 2500, 'insufficient state'));
    expect(pubs.map((p) => p['offset'])).toEqual([1]);
    // The subscription is gone on the server.
    expect((await api(gw, 'channels', {})).json.result.channels['pos:gap']).toBeUndefined();
  });

  it('an injected publication from another epoch is a gap; an old offset is dropped silently', async () => {
    const gw = await gateway();
    const w = await wire(gw, 'frank');
    const { epoch } = (await w.subscribe({ channel: 'pos:inject' }))['subscribe'];
    const two = w.waitFor((m) => m['push']?.pub?.offset === 2);
    await publishRange(gw, 'pos:inject', 1, 2);
    await within(two, 'publications 1-2');
    const node = nodeDeliver(gw);
    const pubs = w.pubs('pos:inject');
    // Duplicate of offset 2: dropped, then 3 is delivered.
    node.deliver('pos:inject', { data: '{"n":"dup"}', publishedAt: Date.now(), offset: 2, epoch });
    const three = w.waitFor((m) => m['push']?.pub?.offset === 3);
    await publish(gw, 'pos:inject', 3);
    await within(three, 'publication 3');
    expect(pubs).toEqual([{ data: { n: 3 }, offset: 3 }]);
    // The next offset but another epoch: insufficient state.
    const reset = w.waitFor((m) => m['push']?.unsubscribe !== undefined);
    node.deliver('pos:inject', { data: '{"n":"other"}', publishedAt: Date.now(), offset: 4, epoch: 'Zzzzzzzz' });
    expect((await within(reset, 'insufficient state push'))['push']).toEqual({ channel: 'pos:inject', unsubscribe: { code: 2500, reason: 'insufficient state' } });
    expect(pubs).toHaveLength(1);
  });

  it('a publication without offset (skip_history) passes a positioned subscription without breaking its position', async () => {
    const gw = await gateway();
    const w = await wire(gw, 'frank');
    await w.subscribe({ channel: 'pos:skip' });
    const pubs = w.pubs('pos:skip');
    const two = w.waitFor((m) => m['push']?.pub?.offset === 2);
    await publish(gw, 'pos:skip', 1);
    expect(await publish(gw, 'pos:skip', 0, { skip_history: true })).toEqual({});
    await publish(gw, 'pos:skip', 2);
    await within(two, 'publication 2');
    expect(pubs).toEqual([{ data: { n: 1 }, offset: 1 }, { data: { n: 0 } }, { data: { n: 2 }, offset: 2 }]);
    expect(w.log.some((m) => m['push']?.unsubscribe !== undefined)).toBe(false);
  });

  it('the SDK resubscribes after 2500 and recovers the dropped publication from history', async () => {
    const gw = await gateway();
    const { client, net } = await connectedSdk(gw, 'grace');
    const sub = client.newSubscription('chat:gap');
    const seen = watch(sub);
    await subscribed(sub);
    await publishRange(gw, 'chat:gap', 1, 2);
    await within(seen.reached(2), 'publications 1-2');

    const resubscribing = waitFor<SubscribingContext>(sub, 'subscribing');
    const back = waitFor<SubscribedContext>(sub, 'subscribed');
    const dropped = dropNextDelivery(gw, 'chat:gap');
    await publish(gw, 'chat:gap', 3);
    await dropped;
    await publish(gw, 'chat:gap', 4);
    expect(await within(resubscribing, 'resubscribing')).toMatchObject({ code: 2500, reason: 'insufficient state' });
    expect(await within(back, 'resubscribed')).toMatchObject({ wasRecovering: true, recovered: true });
    expect(net.commands('subscribe').at(-1)).toMatchObject({ channel: 'chat:gap', recover: true, offset: 2 });
    await publish(gw, 'chat:gap', 5);
    await within(seen.reached(5), 'publication 5');
    expect(seen.offsets()).toEqual([1, 2, 3, 4, 5]);
    expect(client.state).toBe('connected');
  });

  it('a server-side subscription that loses its position closes the connection with 3010', async () => {
    const gw = await gateway();
    const w = await Wire.open(gw.wsUrl);
    scope.raw(w.raw);
    const connect = await w.connect(await token('heidi', 3600, { channels: ['srvpos:feed'] }));
    expect(connect['subs']).toEqual({ 'srvpos:feed': { positioned: true, epoch: expect.any(String), offset: 0 } });
    const one = w.waitFor((m) => m['push']?.pub?.offset === 1);
    await publish(gw, 'srvpos:feed', 1);
    expect((await within(one, 'publication 1'))['push']).toEqual({ channel: 'srvpos:feed', pub: { data: { n: 1 }, offset: 1 } });
    const closed = closeFrame(w.raw.ws);
    const dropped = dropNextDelivery(gw, 'srvpos:feed');
    await publish(gw, 'srvpos:feed', 2);
    await dropped;
    await publish(gw, 'srvpos:feed', 3);
    expect(await within(closed, 'close 3010')).toEqual({ code: 3010, reason: 'insufficient state' });
  });
});

// ---------------------------------------------------------------- (f) history

describe('history', () => {
  it('client command: limit, since, reverse; clamped to historyMaxPublications', async () => {
    const gw = await gateway({ historyMaxPublications: 4 });
    await publishRange(gw, 'h:log', 1, 6);
    const w = await wire(gw, 'ivan');
    expect((await w.call('history', { channel: 'h:log', limit: -1 }))['error']).toMatchObject({ code: 103 });
    expect((await w.subscribe({ channel: 'h:log' }))['subscribe']).toEqual({});
    const hist = async (params: Record<string, unknown>) => {
      const reply = await w.call('history', { channel: 'h:log', ...params });
      if (reply['history'] === undefined) throw new Error(JSON.stringify(reply));
      return reply['history'] as { publications: Msg[]; epoch: string; offset: number };
    };
    const offsets = (r: { publications: Msg[] }) => r.publications.map((p) => p['offset']);

    const { epoch } = await hist({});
    expect(await hist({})).toEqual({ publications: [], epoch: expect.stringMatching(/^[a-zA-Z]{8}$/), offset: 6 });
    expect(await hist({ limit: 2 })).toEqual({ publications: [{ data: { n: 1 }, offset: 1 }, { data: { n: 2 }, offset: 2 }], epoch, offset: 6 });
    expect(offsets(await hist({ limit: -1 }))).toEqual([1, 2, 3, 4]);
    expect(offsets(await hist({ limit: 100 }))).toEqual([1, 2, 3, 4]);
    expect(offsets(await hist({ limit: 10, since: { offset: 3, epoch } }))).toEqual([4, 5, 6]);
    expect(offsets(await hist({ limit: 2, since: { offset: 3 } }))).toEqual([4, 5]);
    expect(offsets(await hist({ limit: 2, reverse: true }))).toEqual([6, 5]);
    expect(offsets(await hist({ limit: 10, reverse: true, since: { offset: 4, epoch } }))).toEqual([3, 2, 1]);
    expect((await w.call('history', { channel: 'h:log', limit: 10, since: { offset: 3, epoch: 'WRONGEPO' } }))['error']).toMatchObject({ code: 112 });
  });

  it('client command: 108 without history, allowed for any client with allowHistoryForClient', async () => {
    const gw = await gateway();
    await publish(gw, 'hc:open', 1);
    const w = await wire(gw, 'ivan');
    expect((await w.call('history', { channel: 'plain:nohist', limit: 10 }))['error']).toMatchObject({ code: 108 });
    const open = await w.call('history', { channel: 'hc:open', limit: 10 });
    expect(open['history']).toEqual({ publications: [{ data: { n: 1 }, offset: 1 }], epoch: expect.any(String), offset: 1 });
  });

  it('/api/history with limit, since and reverse; 108 without history; 112 for a wrong epoch', async () => {
    const gw = await gateway();
    const results = [];
    for (const n of range(1, 5)) results.push(await publish(gw, 'h:api', n, { tags: { k: `t${n}` } }));
    const epoch = results[0]?.epoch;
    expect(results.map((r) => r.offset)).toEqual([1, 2, 3, 4, 5]);
    expect(results.every((r) => r.epoch === epoch)).toBe(true);

    const all = await api(gw, 'history', { channel: 'h:api', limit: -1 });
    expect(all.json.result).toEqual({ publications: range(1, 5).map((n) => ({ data: { n }, offset: n, tags: { k: `t${n}` } })), epoch, offset: 5 });
    expect((await api(gw, 'history', { channel: 'h:api' })).json.result).toEqual({ publications: [], epoch, offset: 5 });
    const since = await api(gw, 'history', { channel: 'h:api', limit: 2, since: { offset: 2, epoch } });
    expect(since.json.result.publications.map((p: Msg) => p['offset'])).toEqual([3, 4]);
    const reverse = await api(gw, 'history', { channel: 'h:api', limit: 10, reverse: true, since: { offset: 3, epoch } });
    expect(reverse.json.result.publications.map((p: Msg) => p['offset'])).toEqual([2, 1]);
    expect((await api(gw, 'history', { channel: 'h:api', limit: 1, since: { offset: 2, epoch: 'WRONGEPO' } })).json.error).toMatchObject({ code: 112 });
    expect((await api(gw, 'history', { channel: 'plain:x', limit: 1 })).json.error).toMatchObject({ code: 108 });
  });

  it('/api/publish and broadcast: {offset, epoch} with history, {} without or with skip_history; idempotency_key answers the same offset twice', async () => {
    const gw = await gateway();
    const first = await publish(gw, 'chat:idem', 1, { idempotency_key: 'k1' });
    expect(first).toEqual({ offset: 1, epoch: expect.stringMatching(/^[a-zA-Z]{8}$/) });
    expect(await publish(gw, 'chat:idem', 1, { idempotency_key: 'k1' })).toEqual(first);
    expect(await publish(gw, 'chat:idem', 2, { idempotency_key: 'k2' })).toEqual({ offset: 2, epoch: first.epoch });
    expect(await publish(gw, 'chat:idem', 3, { skip_history: true })).toEqual({});
    expect(await publish(gw, 'plain:idem', 1)).toEqual({});
    const broadcast = await api(gw, 'broadcast', { channels: ['chat:idem', 'chat:idem2', 'plain:idem'], data: { n: 4 } });
    expect(broadcast.json.result.responses).toEqual([
      { result: { offset: 3, epoch: first.epoch } },
      { result: { offset: 1, epoch: expect.stringMatching(/^[a-zA-Z]{8}$/) } },
      { result: {} },
    ]);
    const stored = await api(gw, 'history', { channel: 'chat:idem', limit: -1 });
    expect(stored.json.result.publications).toEqual([
      { data: { n: 1 }, offset: 1 },
      { data: { n: 2 }, offset: 2 },
      { data: { n: 4 }, offset: 3 },
    ]);
  });

  it('/api/history_remove: the next publish starts a new epoch at offset 1, and positioned subscribers are told to resync', async () => {
    const gw = await gateway();
    await publishRange(gw, 'chat:reset', 1, 3);
    const w = await wire(gw, 'judy');
    const { epoch: oldEpoch } = (await w.subscribe({ channel: 'chat:reset' }))['subscribe'] as { epoch: string };
    expect(await api(gw, 'history_remove', { channel: 'chat:reset' })).toEqual({ status: 200, json: { result: {} } });
    const reset = w.waitFor((m) => m['push']?.channel === 'chat:reset');
    const next = await publish(gw, 'chat:reset', 4);
    expect(next.offset).toBe(1);
    expect(next.epoch).not.toBe(oldEpoch);
    // The subscriber at {3, old epoch} sees another epoch: insufficient state, not a publication.
    expect((await within(reset, 'push after the reset'))['push']).toEqual({ channel: 'chat:reset', unsubscribe: { code: 2500, reason: 'insufficient state' } });
    const again = await w.subscribe({ channel: 'chat:reset', recover: true, offset: 3, epoch: oldEpoch });
    expect(again['subscribe']).toEqual({ recoverable: true, positioned: true, epoch: next.epoch, offset: 1, was_recovering: true });
    expect((await api(gw, 'history', { channel: 'chat:reset', limit: -1 })).json.result).toEqual({ publications: [{ data: { n: 4 }, offset: 1 }], epoch: next.epoch, offset: 1 });
  });
});

// ---------------------------------------------------------------- (g) private channels, subscription tokens

const subToken = (user: string, channel: string, ttlSeconds = 3600, info?: JsonValue) =>
  mintSubscriptionToken(SECRET, channel, { user, ttlSeconds, ...(info !== undefined && { info }) });

describe('private channels and subscription tokens', () => {
  it('$secret without a token: the SDK subscription is unsubscribed with 103', async () => {
    const gw = await gateway();
    const { client } = await connectedSdk(gw, 'kim');
    const sub = client.newSubscription('$secret');
    const gone = waitFor<UnsubscribedContext>(sub, 'unsubscribed');
    sub.subscribe();
    expect(await within(gone, 'unsubscribed')).toMatchObject({ code: 103 });
    expect(client.state).toBe('connected');
  });

  it("$secret with another user's token: the connection is closed with 3500", async () => {
    const gw = await gateway();
    const { client } = await connectedSdk(gw, 'kim');
    const sub = client.newSubscription('$secret', { token: await subToken('not-kim', '$secret') });
    const closed = waitFor<{ code: number }>(client, 'disconnected');
    sub.subscribe();
    expect(await within(closed, 'disconnected')).toMatchObject({ code: 3500 });
  });

  it('a token for another channel also closes with 3500 (raw)', async () => {
    const gw = await gateway();
    const w = await wire(gw, 'kim');
    const closed = closeFrame(w.raw.ws);
    w.send('subscribe', { channel: '$secret', token: await subToken('kim', '$other') });
    expect(await within(closed, 'close')).toMatchObject({ code: 3500 });
  });

  it('an expired token: 109, then the SDK calls getToken and subscribes with the fresh one', async () => {
    const gw = await gateway();
    const { client, net } = await connectedSdk(gw, 'kim');
    const expired = await signClaims({ sub: 'kim', channel: '$secret', exp: Math.floor(Date.now() / 1000) - 60 });
    const fresh = await subToken('kim', '$secret');
    const calls = new Counter();
    const sub = client.newSubscription('$secret', {
      token: expired,
      getToken: async () => {
        calls.inc();
        return fresh;
      },
      minResubscribeDelay: 5,
      maxResubscribeDelay: 50,
    });
    const errored = waitFor<{ type: string; error: { code: number } }>(sub, 'error');
    await subscribed(sub);
    expect(await errored).toMatchObject({ type: 'subscribe', error: { code: 109 } });
    expect(calls.count).toBe(1);
    expect(net.commands('subscribe').map((c) => c['token'])).toEqual([expired, fresh]);

    // Raw: the reply is exactly error 109.
    const w = await wire(gw, 'kim');
    expect((await w.subscribe({ channel: '$secret', token: expired }))['error']).toMatchObject({ code: 109 });
  });

  it('a valid token subscribes, and chan_info from it is in the publications the client publishes', async () => {
    const gw = await gateway();
    const { client } = await connectedSdk(gw, 'kim');
    const info = { role: 'admin', seat: 7 };
    const sub = client.newSubscription('$secret', { token: await subToken('kim', '$secret', 3600, info) });
    await subscribed(sub);
    const pub = waitFor<PublicationContext>(sub, 'publication');
    await within(sub.publish({ text: 'hi' }), 'publish reply');
    const got = await within(pub, 'own publication');
    expect(got.data).toEqual({ text: 'hi' });
    expect(got.info).toMatchObject({ user: 'kim', chanInfo: info });
  });

  it('sub_refresh: with a 2 s token and getToken the SDK refreshes and stays subscribed past the expiry', async () => {
    const gw = await gateway({ expiredCloseDelay: '1500ms' });
    const { client, net } = await connectedSdk(gw, 'kim');
    const fetches = new Counter();
    const sub = client.newSubscription('$secret', {
      getToken: async () => {
        fetches.inc();
        return subToken('kim', '$secret', 2);
      },
    });
    const seen = watch(sub);
    await subscribed(sub);
    const lost: unknown[] = [];
    sub.on('unsubscribed', (ctx) => lost.push(ctx));
    sub.on('subscribing', (ctx) => lost.push(ctx));
    // Fetch 1 subscribes; 2 and 3 refresh. By fetch 3 (about 4 s) the first token is past exp + the close delay.
    await within(fetches.until((n) => n >= 3), 'two token refreshes', 8000);
    expect(net.commands('sub_refresh').length).toBeGreaterThanOrEqual(1);
    expect(lost).toEqual([]);
    expect(sub.state).toBe('subscribed');
    const arrived = waitFor(sub, 'publication');
    await publish(gw, '$secret', 1);
    await within(arrived, 'publication after the refreshes');
    expect(seen.ns()).toEqual([1]);
  }, 15_000);

  it('without refresh the subscription ends with unsubscribe push 2501 once exp + expiredCloseDelay passed', async () => {
    const gw = await gateway({ expiredCloseDelay: '100ms' });
    const w = await wire(gw, 'kim');
    const tok = await subToken('kim', '$secret', 2);
    const exp = JSON.parse(Buffer.from(tok.split('.')[1] ?? '', 'base64url').toString()).exp as number;
    const reply = await w.subscribe({ channel: '$secret', token: tok });
    expect(reply['subscribe']).toEqual({ expires: true, ttl: expect.any(Number) });
    expect(reply['subscribe'].ttl).toBeGreaterThanOrEqual(1);
    expect(reply['subscribe'].ttl).toBeLessThanOrEqual(2);
    const push = await within(
      w.waitFor((m) => m['push']?.unsubscribe !== undefined),
      'unsubscribe 2501',
      5000,
    );
    expect(Date.now()).toBeGreaterThanOrEqual(exp * 1000 + 100 - 5);
    expect(w.frames.join('\n')).toContain(unsubscribePush('$secret', 2501, 'subscription expired'));
    expect(push['push']).toEqual({ channel: '$secret', unsubscribe: { code: 2501, reason: 'subscription expired' } });
    expect((await api(gw, 'channels', {})).json.result.channels['$secret']).toBeUndefined();
  }, 10_000);

  it('sub_refresh (raw) re-arms the expiry: the refreshed subscription outlives one with the same exp that was not refreshed', async () => {
    const gw = await gateway({ expiredCloseDelay: '100ms' });
    const w = await wire(gw, 'kim');
    const exp = Math.floor(Date.now() / 1000) + 2;
    const short = (channel: string) => signClaims({ sub: 'kim', channel, exp });
    expect((await w.subscribe({ channel: '$kept', token: await short('$kept') }))['subscribe']).toMatchObject({ expires: true });
    expect((await w.subscribe({ channel: '$dropped', token: await short('$dropped') }))['subscribe']).toMatchObject({ expires: true });
    const refreshed = await w.call('sub_refresh', { channel: '$kept', token: await subToken('kim', '$kept', 3600) });
    expect(refreshed['sub_refresh']).toEqual({ expires: true, ttl: expect.any(Number) });
    expect(refreshed['sub_refresh'].ttl).toBeGreaterThan(3500);
    // The unrefreshed one expires: by then the refreshed one is past its old expiry too.
    const dropped = await within(
      w.waitFor((m) => m['push']?.unsubscribe !== undefined),
      'unsubscribe of $dropped',
      5000,
    );
    expect(dropped['push']).toEqual({ channel: '$dropped', unsubscribe: { code: 2501, reason: 'subscription expired' } });
    const kept = w.waitFor((m) => m['push']?.channel === '$kept');
    await publish(gw, '$kept', 1);
    expect((await within(kept, 'publication on $kept'))['push']).toEqual({ channel: '$kept', pub: { data: { n: 1 } } });
    // Errors: not subscribed → 103; another user's token → 3500.
    expect((await w.call('sub_refresh', { channel: '$dropped', token: await subToken('kim', '$dropped') }))['error']).toMatchObject({ code: 103 });
    const closed = closeFrame(w.raw.ws);
    w.send('sub_refresh', { channel: '$kept', token: await subToken('not-kim', '$kept') });
    expect(await within(closed, 'close 3500')).toMatchObject({ code: 3500 });
  }, 10_000);

  it('user-limited channels: only the listed users subscribe without a token', async () => {
    const gw = await gateway();
    const allowed = await wire(gw, '42');
    expect((await allowed.subscribe({ channel: 'dm:talk#42,7' }))['subscribe']).toEqual({});
    const other = await wire(gw, '9');
    expect((await other.subscribe({ channel: 'dm:talk#42,7' }))['error']).toMatchObject({ code: 103 });
  });
});

// ---------------------------------------------------------------- (h) server-side subscriptions

describe('server-side subscriptions (token channels)', () => {
  it('after an SDK reconnect, connect carries subs with recover and the missed publications arrive on the client', async () => {
    const gw = await gateway();
    const { client, net } = await connectedSdk(gw, 'leo', await token('leo', 3600, { channels: ['srv:feed'] }));
    const pubs: PublicationContext[] = [];
    const subs: SubscribedContext[] = [];
    client.on('publication', (ctx) => pubs.push(ctx as PublicationContext));
    client.on('subscribed', (ctx) => subs.push(ctx as SubscribedContext));
    const reached = (offset: number) =>
      pubs.some((p) => p.offset === offset) ? Promise.resolve() : waitFor<PublicationContext>(client, 'publication', (p) => p.offset === offset).then(() => undefined);

    await publishRange(gw, 'srv:feed', 1, 3);
    await within(reached(3), 'publications 1-3');
    expect(net.commands('connect')[0]?.['subs']).toBeUndefined();

    net.hold();
    const away = clientState(client, 'connecting');
    await kill(gw, 'server', 'leo', net);
    await within(away, 'connecting');
    await publishRange(gw, 'srv:feed', 4, 8);
    const back = waitFor<SubscribedContext>(client, 'subscribed');
    net.release();
    const ctx = await within(back, 'server-side resubscribed');
    expect(ctx).toMatchObject({ channel: 'srv:feed', wasRecovering: true, recovered: true });
    const epoch = subs[0]?.streamPosition?.epoch;
    expect(net.commands('connect').at(-1)?.['subs']).toEqual({ 'srv:feed': { recover: true, offset: 3, epoch } });

    await publish(gw, 'srv:feed', 9);
    await within(reached(9), 'publication 9');
    expect(pubs.map((p) => [p.channel, p.offset, (p.data as { n: number }).n])).toEqual(range(1, 9).map((n) => ['srv:feed', n, n]));
  });
});
