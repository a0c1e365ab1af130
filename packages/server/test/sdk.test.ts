/**
 * End-to-end tests with the official `centrifuge` SDK (5.8) over real sockets: auth,
 * channel permissions, publish, reconnect after a restart, server-side subscriptions,
 * token expiry and refresh, per-user connection limits. Tests wait on SDK events only.
 */
import type { Centrifuge, ConnectingContext, DisconnectedContext, ErrorContext, PublicationContext, Subscription, UnsubscribedContext } from 'centrifuge';
import { afterEach, describe, expect, it } from 'vitest';
import type { ConfigInput } from '../src/config/schema.js';
import { api, next, RawClient, startGateway, token } from './helpers.js';
import { Counter, clientState, expOf, record, Scope, signToken, subState, tokenWithAlg, waitFor, within } from './sdk-helpers.js';

const scope = new Scope();
afterEach(() => scope.cleanup());

/** Namespaces used across the tests. */
const channels: ConfigInput['channel'] = {
  defaults: { allowSubscribeForClient: true },
  namespaces: {
    chat: { allowPublishForSubscriber: true },
    ro: {},
    dm: { allowUserLimitedChannels: true },
  },
};

const gateway = (config: ConfigInput = {}) => startGateway({ channel: channels, ...config }).then((gw) => scope.gateway(gw));

async function connected(client: Centrifuge): Promise<Centrifuge> {
  const ready = clientState(client, 'connected');
  client.connect();
  await within(ready, 'client connected');
  return client;
}

async function subscribed(client: Centrifuge, channel: string): Promise<Subscription> {
  const sub = client.newSubscription(channel);
  const ready = subState(sub, 'subscribed');
  sub.subscribe();
  await within(ready, `subscribed to ${channel}`);
  return sub;
}

/** Subscribes and resolves with the `unsubscribed` context the SDK reports after a refused subscribe. */
async function refused(client: Centrifuge, channel: string): Promise<{ unsubscribed: UnsubscribedContext; errors: unknown[]; subscribedEvents: unknown[] }> {
  const sub = client.newSubscription(channel);
  const errors = record(sub, 'error');
  const subscribedEvents = record(sub, 'subscribed');
  const unsubscribed = next<UnsubscribedContext>(sub, 'unsubscribed');
  const wronglySubscribed = next(sub, 'subscribed').then(() => {
    throw new Error(`subscribe to ${channel} was accepted`);
  });
  sub.subscribe();
  return { unsubscribed: await within(Promise.race([unsubscribed, wronglySubscribed]), `unsubscribed from ${channel}`), errors, subscribedEvents };
}

describe('SDK: connect, subscribe, publish', () => {
  it('connects with an HS256 token and receives an API publication with the same data', async () => {
    const gw = await gateway();
    const client = await connected(scope.client(gw, { token: await token('alice') }));
    const sub = await subscribed(client, 'news');

    const data = { text: 'hello', n: 42, nested: { list: [1, 'two', null, { deep: true }] }, unicode: 'žluťoučký 🚀' };
    const publication = next<PublicationContext>(sub, 'publication');
    const res = await api(gw, 'publish', { channel: 'news', data });
    expect(res).toEqual({ status: 200, json: { result: {} } });
    const pub = await within(publication, 'publication on news');
    expect(pub.channel).toBe('news');
    expect(pub.data).toEqual(data);
    expect(pub.info).toBeUndefined();
  });

  it('sub.publish() in a namespace with allowPublishForSubscriber reaches other subscribers with the publisher info', async () => {
    const gw = await gateway();
    const alice = await connected(scope.client(gw, { token: await token('alice') }));
    const bob = await connected(scope.client(gw, { token: await token('bob') }));
    const aliceSub = await subscribed(alice, 'chat:room');
    const bobSub = await subscribed(bob, 'chat:room');

    const atBob = next<PublicationContext>(bobSub, 'publication');
    const atAlice = next<PublicationContext>(aliceSub, 'publication');
    await within(aliceSub.publish({ msg: 'hi bob' }), 'publish reply');
    const pub = await within(atBob, 'publication at bob');
    expect(pub.data).toEqual({ msg: 'hi bob' });
    expect(pub.info?.user).toBe('alice');
    expect(typeof pub.info?.client).toBe('string');
    expect(pub.info?.client).not.toBe('');
    // The publisher is a subscriber too and gets its own publication, with the same info.
    const own = await within(atAlice, 'publication at alice');
    expect(own.data).toEqual({ msg: 'hi bob' });
    expect(own.info).toEqual(pub.info);
  });

  it('publish info carries the publisher client id from its connect', async () => {
    const gw = await gateway();
    const alice = scope.client(gw, { token: await token('alice') });
    const aliceConnected = next<{ client: string }>(alice, 'connected');
    alice.connect();
    const { client: aliceClient } = await within(aliceConnected, 'alice connected');
    const bob = await connected(scope.client(gw, { token: await token('bob') }));
    await subscribed(alice, 'chat:x');
    const bobSub = await subscribed(bob, 'chat:x');
    const atBob = next<PublicationContext>(bobSub, 'publication');
    await within(alice.publish('chat:x', [1, 2, 3]), 'client.publish reply');
    const pub = await within(atBob, 'publication at bob');
    expect(pub.data).toEqual([1, 2, 3]);
    expect(pub.info).toMatchObject({ user: 'alice', client: aliceClient });
  });

  it('publish is refused with 103 where the namespace does not allow it, or when not subscribed', async () => {
    const gw = await gateway();
    const client = await connected(scope.client(gw, { token: await token('alice') }));
    const sub = await subscribed(client, 'ro:room');
    await expect(within(sub.publish({ x: 1 }), 'publish reply')).rejects.toMatchObject({ code: 103, message: 'permission denied' });
    await expect(within(client.publish('ro:other', { x: 1 }), 'publish reply')).rejects.toMatchObject({ code: 103 });
    // allowPublishForSubscriber needs a subscription to that channel.
    await expect(within(client.publish('chat:not-subscribed', { x: 1 }), 'publish reply')).rejects.toMatchObject({ code: 103 });
    // The refusal is an error reply, not a disconnect: the client is still connected and subscribed.
    expect(client.state).toBe('connected');
    expect(sub.state).toBe('subscribed');
  });

  it('subscribe to an unknown namespace ends unsubscribed with 102, a $private channel with 103', async () => {
    const gw = await gateway();
    const client = await connected(scope.client(gw, { token: await token('alice') }));

    const unknown = await refused(client, 'nope:room');
    expect(unknown.unsubscribed).toMatchObject({ channel: 'nope:room', code: 102, reason: 'unknown channel' });
    const priv = await refused(client, '$secret');
    expect(priv.unsubscribed).toMatchObject({ channel: '$secret', code: 103, reason: 'permission denied' });

    // Non-temporary errors are final: the SDK emits no subscription 'error' and does not resubscribe.
    expect(unknown.errors).toEqual([]);
    expect(priv.errors).toEqual([]);
    expect(unknown.subscribedEvents).toEqual([]);
    expect(priv.subscribedEvents).toEqual([]);
    expect(client.state).toBe('connected');
  });

  it.each(['HS384', 'HS512'] as const)('connects with a token signed with %s', async (alg) => {
    const gw = await gateway();
    const client = await connected(scope.client(gw, { token: await tokenWithAlg('carol', alg) }));
    // Connected as the token's user: a publication carries it.
    const sub = await subscribed(client, 'chat:algs');
    const publication = next<PublicationContext>(sub, 'publication');
    await within(sub.publish({ alg }), 'publish reply');
    expect((await within(publication, 'own publication')).info?.user).toBe('carol');
  });

  it('a token signed with another secret is refused with 3500 and no reconnect', async () => {
    const gw = await gateway();
    const client = scope.client(gw, { token: await signToken({ sub: 'mallory', exp: Math.floor(Date.now() / 1000) + 3600 }, 'HS256', 'some-other-secret-of-enough-length') });
    const disconnected = next<DisconnectedContext>(client, 'disconnected');
    const connects = record(client, 'connected');
    client.connect();
    expect(await within(disconnected, 'disconnected')).toEqual({ code: 3500, reason: 'invalid token' });
    expect(connects).toEqual([]);
    expect(client.state).toBe('disconnected');
  });
});

describe('SDK: reconnect after a server restart', () => {
  it('reconnects and resubscribes to a new gateway on the same port, then gets its publications', async () => {
    const first = await gateway();
    const port = first.port;
    const client = await connected(scope.client(first, { token: await token('alice'), minReconnectDelay: 50, maxReconnectDelay: 200 }));
    const sub = await subscribed(client, 'news');

    const connecting = next<ConnectingContext>(client, 'connecting');
    const resubscribing = waitFor<{ newState: string }>(sub, 'state', (ctx) => ctx.newState === 'subscribing');
    await scope.stop(first);
    expect(await within(connecting, 'connecting after stop')).toEqual({ code: 3001, reason: 'shutdown' });
    await within(resubscribing, 'subscription back to subscribing');

    const reconnected = waitFor<{ newState: string }>(client, 'state', (ctx) => ctx.newState === 'connected');
    const resubscribed = next(sub, 'subscribed');
    const second = await gateway({ port });
    expect(second.port).toBe(port);
    await within(reconnected, 'reconnected to the new gateway');
    await within(resubscribed, 'resubscribed on the new gateway');
    expect(second.gateway.node.stats().subscriptions).toBe(1);

    const publication = next<PublicationContext>(sub, 'publication');
    expect((await api(second, 'publish', { channel: 'news', data: { after: 'restart' } })).json).toEqual({ result: {} });
    expect((await within(publication, 'publication via the new gateway')).data).toEqual({ after: 'restart' });
  });
});

describe('SDK: server-side subscriptions', () => {
  it('subscribes the client to the channels claim and delivers on the client-level events', async () => {
    const gw = await gateway();
    const client = scope.client(gw, { token: await token('alice', 3600, { channels: ['news', 'chat:lobby'] }) });
    const serverSubs = record<{ channel: string }>(client, 'subscribed');
    const subscribedNews = waitFor<{ channel: string }>(client, 'subscribed', (ctx) => ctx.channel === 'news');
    const subscribedLobby = waitFor<{ channel: string }>(client, 'subscribed', (ctx) => ctx.channel === 'chat:lobby');
    client.connect();
    await within(subscribedNews, 'server-side subscribed to news');
    await within(subscribedLobby, 'server-side subscribed to chat:lobby');
    expect(serverSubs.map((s) => s.channel).sort()).toEqual(['chat:lobby', 'news']);
    expect(client.state).toBe('connected');

    const publication = waitFor<PublicationContext>(client, 'publication', (ctx) => ctx.channel === 'news');
    await api(gw, 'publish', { channel: 'news', data: { server: 'side' } });
    const pub = await within(publication, 'client-level publication');
    expect(pub).toMatchObject({ channel: 'news', data: { server: 'side' } });
  });

  it('refuses a channels claim with an unknown namespace (connect error 102, final)', async () => {
    const gw = await gateway();
    const client = scope.client(gw, { token: await token('alice', 3600, { channels: ['nope:x'] }) });
    const disconnected = next<DisconnectedContext>(client, 'disconnected');
    client.connect();
    expect(await within(disconnected, 'disconnected')).toMatchObject({ code: 102 });
    expect(gw.gateway.node.stats().clients).toBe(0);
  });
});

describe('SDK: user-limited channels', () => {
  it('lets listed users subscribe to dm:chat#42,7 and refuses others with 103', async () => {
    const gw = await gateway();
    const u42 = await connected(scope.client(gw, { token: await token('42') }));
    const u7 = await connected(scope.client(gw, { token: await token('7') }));
    const u9 = await connected(scope.client(gw, { token: await token('9') }));

    const sub42 = await subscribed(u42, 'dm:chat#42,7');
    const sub7 = await subscribed(u7, 'dm:chat#42,7');
    const denied = await refused(u9, 'dm:chat#42,7');
    expect(denied.unsubscribed).toMatchObject({ channel: 'dm:chat#42,7', code: 103, reason: 'permission denied' });

    const at7 = next<PublicationContext>(sub7, 'publication');
    await api(gw, 'publish', { channel: 'dm:chat#42,7', data: 'to both' });
    expect((await within(at7, 'publication at 7')).data).toBe('to both');
    expect(sub42.state).toBe('subscribed');
  });
});

describe('SDK: token expiry and refresh', () => {
  it('connects with an expired token by calling getToken (after a 109 connect error)', async () => {
    const gw = await gateway();
    const expired = await signToken({ sub: 'alice', exp: Math.floor(Date.now() / 1000) - 60 });
    const getToken = new Counter();
    const client = scope.client(gw, {
      token: expired,
      minReconnectDelay: 50,
      maxReconnectDelay: 200,
      getToken: async () => {
        getToken.inc();
        return token('alice');
      },
    });
    const errors = record<ErrorContext>(client, 'error');
    const connectedCtx = next<{ client: string }>(client, 'connected');
    client.connect();
    await within(connectedCtx, 'connected with the fresh token');
    expect(getToken.count).toBe(1);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ type: 'connect', error: { code: 109 } });
    await subscribed(client, 'news');
  });

  it('refreshes a 2 s token with getToken and stays connected past the original expiry', async () => {
    const expiredCloseDelay = 1500; // > 1 s: the TTL is whole seconds, so the SDK may refresh up to 1 s after exp
    const gw = await gateway({ client: { expiredCloseDelay } });
    const initial = await token('alice', 2);
    // Without a refresh the server closes at this instant.
    const closeAt = expOf(initial) * 1000 + expiredCloseDelay;
    const calls = new Counter();
    const client = scope.client(gw, {
      token: initial,
      getToken: async () => {
        calls.inc();
        return token('alice', 2);
      },
    });
    const connects = record(client, 'connected');
    const connecting = record<ConnectingContext>(client, 'connecting');
    const disconnects = record(client, 'disconnected');
    await connected(client);
    const sub = await subscribed(client, 'news');
    expect(connecting).toHaveLength(1); // the initial connect only

    // Two refreshes: the second getToken call comes a TTL after the first refresh succeeded.
    await within(
      calls.until((n) => n >= 2 && Date.now() > closeAt),
      'getToken called twice, past the original expiry',
    );
    // Still the first connection: no close (3005) and reconnect happened in between.
    expect(connecting).toHaveLength(1);
    expect(disconnects).toEqual([]);
    expect(client.state).toBe('connected');
    const publication = next<PublicationContext>(sub, 'publication');
    await api(gw, 'publish', { channel: 'news', data: { still: 'here' } });
    expect((await within(publication, 'publication after the original expiry')).data).toEqual({ still: 'here' });
    expect(Date.now()).toBeGreaterThan(closeAt);
    expect(client.state).toBe('connected');
    expect(connects).toHaveLength(1);
    expect(connecting).toHaveLength(1);
    expect(disconnects).toEqual([]);
  });

  it('closes an unrefreshed connection with 3005 after expiry + expiredCloseDelay', async () => {
    const gw = await gateway({ client: { expiredCloseDelay: '100ms' } });
    // ttl ~1 s; rounded up to a whole second so the token cannot expire before connect.
    const exp = Math.ceil(Date.now() / 1000 + 1);
    const raw = scope.raw(await RawClient.open(gw.wsUrl));
    const reply = await raw.connect(await signToken({ sub: 'alice', exp }));
    if (reply.kind !== 'result' || reply.method !== 'connect') throw new Error(`expected a connect result, got ${JSON.stringify(reply)}`);
    expect(reply.result.expires).toBe(true);
    expect(reply.result.ttl).toBeGreaterThanOrEqual(1);
    expect(reply.result.ttl).toBeLessThanOrEqual(2);
    const closed = await within(raw.closed, 'close after expiry');
    expect(closed).toEqual({ code: 3005, reason: 'connection expired' });
    expect(Date.now()).toBeGreaterThanOrEqual(exp * 1000 + 100);
  });

  it('an SDK without getToken whose token expires ends disconnected as unauthorized', async () => {
    const gw = await gateway({ client: { expiredCloseDelay: '100ms' } });
    const exp = Math.ceil(Date.now() / 1000 + 1);
    const client = scope.client(gw, { token: await signToken({ sub: 'alice', exp }), minReconnectDelay: 50, maxReconnectDelay: 200 });
    await connected(client);
    const disconnected = next<DisconnectedContext>(client, 'disconnected');
    expect(await within(disconnected, 'disconnected')).toEqual({ code: 1, reason: 'unauthorized' });
  });
});

describe('SDK: per-user connection limit', () => {
  it('closes the second connection of a user with 3504 (raw close code and SDK disconnected)', async () => {
    const gw = await gateway({ client: { maxConnectionsPerUser: 1 } });
    const first = scope.client(gw, { token: await token('alice') });
    await connected(first);

    const raw = scope.raw(await RawClient.open(gw.wsUrl));
    raw.send({ id: 1, connect: { token: await token('alice') } });
    expect(await within(raw.closed, 'raw close')).toEqual({ code: 3504, reason: 'connection limit' });

    const second = scope.client(gw, { token: await token('alice'), minReconnectDelay: 50, maxReconnectDelay: 200 });
    const connects = record(second, 'connected');
    const disconnected = next<DisconnectedContext>(second, 'disconnected');
    second.connect();
    expect(await within(disconnected, 'second SDK disconnected')).toEqual({ code: 3504, reason: 'connection limit' });
    expect(connects).toEqual([]);
    expect(second.state).toBe('disconnected');

    // The limit is per user: another user connects; and the first connection is unharmed.
    await connected(scope.client(gw, { token: await token('bob') }));
    expect(first.state).toBe('connected');

    // Once alice's connection is gone, her slot is free again.
    const gone = waitFor<{ user: string }>(gw.gateway, 'disconnect', (e) => e.user === 'alice');
    first.disconnect();
    await within(gone, 'server saw the first connection close');
    await connected(scope.client(gw, { token: await token('alice') }));
  });
});
