/**
 * Presence, join/leave, the user registry, personal channels and per-user connection caps
 * on one in-process gateway over real sockets, with the memory broker and with Redis.
 * Tests wait on protocol messages, SDK events and gateway events; the only polling is of
 * the HTTP API after a removal that the gateway performs without telling the client.
 */
import type { Centrifuge, JoinContext, LeaveContext, PublicationContext, ServerSubscribedContext, Subscription } from 'centrifuge';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ConfigInput } from '../src/config/schema.js';
import { api, startGateway, type TestGateway, token } from './helpers.js';
import { connectOutcome, guard, pastMillisecond, Peer, redisPid, subscriptionToken, tokenWithInfo } from './presence-helpers.js';
import { clientState, record, Scope, subState, waitFor } from './sdk-helpers.js';
import { startRedis, type TestServer } from './servers.js';

const scope = new Scope();
afterEach(() => scope.cleanup());

let redis: TestServer | undefined;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(() => redis?.stop());

/** Names unique in the whole run: Redis keeps presence and the user registry across the tests of a suite. */
let seq = 0;
const unique = (prefix: string) => `${prefix}-${++seq}`;

const NODE = 'presence-node';

const channel: ConfigInput['channel'] = {
  defaults: { allowSubscribeForClient: true },
  namespaces: {
    // Presence for subscribers, join/leave.
    room: { presence: true, joinLeave: true, allowPresenceForSubscriber: true },
    // Presence for any client, no join/leave.
    lobby: { presence: true, allowPresenceForClient: true },
    // Presence kept, but no client may read it.
    quiet: { presence: true },
    // No presence at all (reading it is allowed, but there is nothing to read).
    plain: { allowPresenceForClient: true },
    personal: {},
    feed: {},
  },
};

/** Polls the HTTP API (bounded) until `check` holds for the answer; returns the last answer. */
async function apiUntil(gw: TestGateway, method: string, body: unknown, check: (json: any) => boolean, label: string): Promise<any> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const { json } = await api(gw, method, body);
    if (check(json)) return json;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${label}; last answer ${JSON.stringify(json)}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function connectSdk(client: Centrifuge): Promise<string> {
  const connected = waitFor<{ client: string }>(client, 'connected');
  client.connect();
  return (await guard(connected, 'SDK connected')).client;
}

async function subscribed(sub: Subscription): Promise<Subscription> {
  const ready = subState(sub, 'subscribed');
  sub.subscribe();
  await guard(ready, `subscribed to ${sub.channel}`);
  return sub;
}

function brokerSuite(label: string, brokerUrl: () => string) {
  describe(`presence on ${label}`, () => {
    const gateway = (config: ConfigInput = {}) =>
      startGateway({ name: NODE, broker: brokerUrl(), channel, ...config }).then((gw) => scope.gateway(gw));

    async function peer(gw: TestGateway, jwt: string): Promise<Peer> {
      const p = await Peer.open(gw.wsUrl);
      scope.raw(p.raw);
      await p.connect(jwt);
      return p;
    }

    describe('presence and presence_stats', () => {
      it('answer with Centrifugo shapes over the protocol: conn_info from the connection token, chan_info from the subscription token', async () => {
        const gw = await gateway();
        const room = `room:${unique('shapes')}`;
        const alice = unique('alice');
        const bob = unique('bob');
        const a = await peer(gw, await tokenWithInfo(alice, { name: 'Alice' }));
        await a.subscribe(room, { token: await subscriptionToken(alice, room, { role: 'host' }) });
        const b = await peer(gw, await token(bob));
        await b.subscribe(room);

        const reply = await a.call('presence', { channel: room });
        expect(a.wireReply(reply)).toEqual({
          id: reply.kind === 'result' ? reply.id : -1,
          presence: {
            presence: {
              [a.id]: { user: alice, client: a.id, conn_info: { name: 'Alice' }, chan_info: { role: 'host' } },
              [b.id]: { user: bob, client: b.id },
            },
          },
        });

        const stats = await b.call('presence_stats', { channel: room });
        expect(b.wireReply(stats)).toEqual({ id: stats.kind === 'result' ? stats.id : -1, presence_stats: { num_clients: 2, num_users: 2 } });

        // A second connection of alice: one more client, not one more user.
        const a2 = await peer(gw, await token(alice));
        await a2.subscribe(room);
        const again = await a2.call('presence_stats', { channel: room });
        expect(again).toMatchObject({ kind: 'result', result: { num_clients: 3, num_users: 2 } });
        const list = await a2.call('presence', { channel: room });
        expect(list.kind === 'result' && Object.keys((list.result as { presence: object }).presence).sort()).toEqual([a.id, b.id, a2.id].sort());
      });

      it('answer through the SDK (sub.presence(), sub.presenceStats())', async () => {
        const gw = await gateway();
        const room = `room:${unique('sdk')}`;
        const carol = unique('carol');
        const dave = unique('dave');
        const c = scope.client(gw, { token: await tokenWithInfo(carol, { device: 'phone' }) });
        const cId = await connectSdk(c);
        const cSub = await subscribed(c.newSubscription(room, { token: await subscriptionToken(carol, room, { seat: 7 }) }));
        const d = scope.client(gw, { token: await token(dave) });
        const dId = await connectSdk(d);
        await subscribed(d.newSubscription(room));

        const presence = await guard(cSub.presence(), 'sdk presence');
        expect(Object.keys(presence.clients).sort()).toEqual([cId, dId].sort());
        expect(presence.clients[cId]).toMatchObject({ user: carol, client: cId, connInfo: { device: 'phone' }, chanInfo: { seat: 7 } });
        expect(presence.clients[dId]).toMatchObject({ user: dave, client: dId });
        expect(presence.clients[dId]).not.toHaveProperty('connInfo');
        expect(await guard(cSub.presenceStats(), 'sdk presence stats')).toEqual({ numClients: 2, numUsers: 2 });
      });

      it('refuse with 108 where the namespace keeps no presence and 103 without permission', async () => {
        const gw = await gateway();
        const p = await peer(gw, await token(unique('eve')));
        const id = unique('x');

        // No presence in the namespace: 108, even though reading it would be allowed.
        await p.subscribe(`plain:${id}`);
        expect(await p.call('presence', { channel: `plain:${id}` })).toMatchObject({ kind: 'error', error: { code: 108 } });
        expect(await p.call('presence_stats', { channel: `plain:${id}` })).toMatchObject({ kind: 'error', error: { code: 108 } });

        // allowPresenceForSubscriber: not subscribed yet is 103, subscribed is allowed.
        expect(await p.call('presence', { channel: `room:${id}` })).toMatchObject({ kind: 'error', error: { code: 103 } });
        expect(await p.call('presence_stats', { channel: `room:${id}` })).toMatchObject({ kind: 'error', error: { code: 103 } });
        await p.subscribe(`room:${id}`);
        expect(await p.call('presence', { channel: `room:${id}` })).toMatchObject({ kind: 'result', result: { presence: { [p.id]: { client: p.id } } } });

        // Presence kept but neither permission: 103 even for a subscriber.
        await p.subscribe(`quiet:${id}`);
        expect(await p.call('presence', { channel: `quiet:${id}` })).toMatchObject({ kind: 'error', error: { code: 103 } });
        expect(await p.call('presence_stats', { channel: `quiet:${id}` })).toMatchObject({ kind: 'error', error: { code: 103 } });

        // allowPresenceForClient: allowed without subscribing.
        expect(await p.call('presence_stats', { channel: `lobby:${id}` })).toMatchObject({ kind: 'result', result: { num_clients: 0, num_users: 0 } });
        expect(await p.call('presence', { channel: `lobby:${id}` })).toMatchObject({ kind: 'result', result: { presence: {} } });

        // An unknown namespace is 102; the connection survived all of it.
        expect(await p.call('presence', { channel: `nowhere:${id}` })).toMatchObject({ kind: 'error', error: { code: 102 } });
        expect(p.raw.ws.readyState).toBe(p.raw.ws.OPEN);
      });

      it('refuse presence above presence.maxList with 106 naming presence_stats, which still answers', async () => {
        const gw = await gateway({ presence: { maxList: 2 } });
        const lobby = `lobby:${unique('big')}`;
        const members: Peer[] = [];
        for (let i = 0; i < 2; i++) {
          const p = await peer(gw, await token(unique('member')));
          await p.subscribe(lobby);
          members.push(p);
        }
        const [first] = members as [Peer];
        // At the cap: the list still comes.
        const atCap = await first.call('presence', { channel: lobby });
        expect(atCap.kind === 'result' && Object.keys((atCap.result as { presence: object }).presence)).toHaveLength(2);
        expect((await api(gw, 'presence', { channel: lobby })).json.result.presence).toHaveProperty(first.id);

        const third = await peer(gw, await token(unique('member')));
        await third.subscribe(lobby);
        const refused = await first.call('presence', { channel: lobby });
        expect(refused).toMatchObject({ kind: 'error', error: { code: 106 } });
        expect(refused.kind === 'error' && refused.error.message).toContain('presence_stats');
        expect(await first.call('presence_stats', { channel: lobby })).toMatchObject({ kind: 'result', result: { num_clients: 3, num_users: 3 } });
        expect(first.raw.ws.readyState).toBe(first.raw.ws.OPEN);

        const viaApi = await api(gw, 'presence', { channel: lobby });
        expect(viaApi.json.error).toMatchObject({ code: 106 });
        expect(viaApi.json.error.message).toContain('presence_stats');
        expect((await api(gw, 'presence_stats', { channel: lobby })).json).toEqual({ result: { num_clients: 3, num_users: 3 } });
      });

      it('are served by /api/presence and /api/presence_stats', async () => {
        const gw = await gateway();
        const room = `room:${unique('api')}`;
        const frank = unique('frank');
        const f = await peer(gw, await tokenWithInfo(frank, { plan: 'pro' }));
        await f.subscribe(room, { token: await subscriptionToken(frank, room, { color: 'red' }) });
        const f2 = await peer(gw, await token(frank));
        await f2.subscribe(room);

        const presence = await api(gw, 'presence', { channel: room });
        expect(presence).toEqual({
          status: 200,
          json: {
            result: {
              presence: {
                [f.id]: { user: frank, client: f.id, conn_info: { plan: 'pro' }, chan_info: { color: 'red' } },
                [f2.id]: { user: frank, client: f2.id },
              },
            },
          },
        });
        expect(await api(gw, 'presence_stats', { channel: room })).toEqual({ status: 200, json: { result: { num_clients: 2, num_users: 1 } } });
        expect((await api(gw, 'presence_stats', { channel: `room:${unique('empty')}` })).json).toEqual({ result: { num_clients: 0, num_users: 0 } });

        expect((await api(gw, 'presence', { channel: `plain:${unique('x')}` })).json.error).toMatchObject({ code: 108 });
        expect((await api(gw, 'presence_stats', { channel: `plain:${unique('x')}` })).json.error).toMatchObject({ code: 108 });
        expect((await api(gw, 'presence', { channel: `nowhere:${unique('x')}` })).json.error).toMatchObject({ code: 102 });
        expect((await api(gw, 'presence', {})).json.error).toMatchObject({ code: 107 });
      });

      it('drop a client on unsubscribe and on disconnect', async () => {
        const gw = await gateway();
        const lobby = `lobby:${unique('leave')}`;
        const gina = unique('gina');
        const hank = unique('hank');
        const g = await peer(gw, await token(gina));
        const h = await peer(gw, await token(hank));
        await g.subscribe(lobby);
        await h.subscribe(lobby);
        expect(Object.keys((await api(gw, 'presence', { channel: lobby })).json.result.presence).sort()).toEqual([g.id, h.id].sort());

        expect(await g.call('unsubscribe', { channel: lobby })).toMatchObject({ kind: 'result', method: 'unsubscribe' });
        const afterUnsubscribe = await apiUntil(gw, 'presence', { channel: lobby }, (j) => !(g.id in j.result.presence), 'unsubscribed client gone');
        expect(Object.keys(afterUnsubscribe.result.presence)).toEqual([h.id]);
        expect((await api(gw, 'presence_stats', { channel: lobby })).json.result).toEqual({ num_clients: 1, num_users: 1 });

        const gone = waitFor<{ client: string }>(gw.gateway, 'disconnect', (e) => e.client === h.id);
        h.close();
        await guard(gone, 'server saw the client close');
        await apiUntil(gw, 'presence_stats', { channel: lobby }, (j) => j.result.num_clients === 0, 'disconnected client gone');
        expect((await api(gw, 'presence', { channel: lobby })).json.result).toEqual({ presence: {} });
        expect((await api(gw, 'presence_stats', { channel: lobby })).json.result).toEqual({ num_clients: 0, num_users: 0 });
        await apiUntil(gw, 'user_connections', { user: hank }, (j) => j.result.connections.length === 0, 'registry entry gone');
        // g unsubscribed but is still connected: still in the registry.
        expect((await api(gw, 'user_connections', { user: gina })).json.result.connections.map((c: { client: string }) => c.client)).toEqual([g.id]);
      });
    });

    describe('join and leave', () => {
      it('are pushed to subscribers that asked for them, exactly once per join and leave, and to no one else', async () => {
        const gw = await gateway();
        const room = `room:${unique('jl')}`;

        const watcher = scope.client(gw, { token: await token(unique('watcher')) });
        await connectSdk(watcher);
        const watched = watcher.newSubscription(room, { joinLeave: true });
        const joins = record<JoinContext>(watched, 'join');
        const leaves = record<LeaveContext>(watched, 'leave');
        await subscribed(watched);

        const deaf = scope.client(gw, { token: await token(unique('deaf')) });
        await connectSdk(deaf);
        const deafSub = deaf.newSubscription(room);
        const deafJoins = record(deafSub, 'join');
        const deafLeaves = record(deafSub, 'leave');
        await subscribed(deafSub);

        // A raw listener sees the wire shape.
        const listener = await peer(gw, await token(unique('listener')));
        await listener.subscribe(room, { join_leave: true });

        // First joiner: SDK, leaves by unsubscribing.
        const ivy = unique('ivy');
        const joiner = scope.client(gw, { token: await tokenWithInfo(ivy, { mood: 'curious' }) });
        const ivyId = await connectSdk(joiner);
        const joined = waitFor<JoinContext>(watched, 'join', (ctx) => ctx.info.client === ivyId);
        const joinerSub = await subscribed(joiner.newSubscription(room));
        const join = await guard(joined, 'join of the first joiner');
        expect(join.info).toMatchObject({ user: ivy, client: ivyId, connInfo: { mood: 'curious' } });
        const left = waitFor<LeaveContext>(watched, 'leave', (ctx) => ctx.info.client === ivyId);
        joinerSub.unsubscribe();
        expect((await guard(left, 'leave of the first joiner')).info).toMatchObject({ user: ivy, client: ivyId });

        // Second joiner: raw, leaves by disconnecting.
        const jack = unique('jack');
        const raw = await peer(gw, await token(jack));
        const rawJoined = waitFor<JoinContext>(watched, 'join', (ctx) => ctx.info.client === raw.id);
        await raw.subscribe(room);
        await guard(rawJoined, 'join of the second joiner');
        const rawLeft = waitFor<LeaveContext>(watched, 'leave', (ctx) => ctx.info.client === raw.id);
        raw.close();
        await guard(rawLeft, 'leave of the second joiner');

        // Barrier: a publication published after all of it reaches everyone after any duplicate.
        const isBarrier = (ctx: PublicationContext) => (ctx.data as { barrier?: boolean }).barrier === true;
        const deafGot = waitFor<PublicationContext>(deafSub, 'publication', isBarrier);
        const watcherGot = waitFor<PublicationContext>(watched, 'publication', isBarrier);
        await api(gw, 'publish', { channel: room, data: { barrier: true } });
        await guard(deafGot, 'barrier at the deaf subscriber');
        await guard(watcherGot, 'barrier at the watcher');
        await listener.publication(room, (d) => d.barrier === true, 'barrier at the raw listener');

        const ids = [ivyId, raw.id];
        expect(joins.map((j) => j.info.client).filter((c) => ids.includes(c))).toEqual(ids);
        expect(leaves.map((l) => l.info.client).filter((c) => ids.includes(c))).toEqual(ids);
        // Nobody else left (the watcher, the deaf and the listener are all still there).
        expect(leaves.map((l) => l.info.client)).toEqual(ids);
        expect([deafJoins, deafLeaves]).toEqual([[], []]);

        const wireJoins = listener.pushes('join', room).map((m) => (m.push.body as { info: { client: string } }).info.client);
        const wireLeaves = listener.pushes('leave', room).map((m) => (m.push.body as { info: { client: string } }).info.client);
        expect(wireJoins.filter((c) => ids.includes(c))).toEqual(ids);
        expect(wireLeaves).toEqual(ids);
        const wireJoin = listener.wire.find((w) => (w['push'] as { join?: { info: { client: string } } } | undefined)?.join?.info.client === ivyId);
        expect(wireJoin).toEqual({ push: { channel: room, join: { info: { user: ivy, client: ivyId, conn_info: { mood: 'curious' } } } } });
      });

      it('are not pushed where the namespace has no joinLeave, even when asked', async () => {
        const gw = await gateway();
        const lobby = `lobby:${unique('nojl')}`;
        const listener = await peer(gw, await token(unique('listener')));
        await listener.subscribe(lobby, { join_leave: true });
        const sdkClient = scope.client(gw, { token: await token(unique('sdk')) });
        await connectSdk(sdkClient);
        const sdkSub = sdkClient.newSubscription(lobby, { joinLeave: true });
        const sdkJoins = record(sdkSub, 'join');
        const sdkLeaves = record(sdkSub, 'leave');
        await subscribed(sdkSub);

        const comer = await peer(gw, await token(unique('comer')));
        await comer.subscribe(lobby);
        expect(await comer.call('unsubscribe', { channel: lobby })).toMatchObject({ kind: 'result' });
        await comer.subscribe(lobby);
        comer.close();
        // Presence still followed all of it.
        await apiUntil(gw, 'presence_stats', { channel: lobby }, (j) => j.result.num_clients === 2, 'comer gone from presence');

        const barrier = waitFor<PublicationContext>(sdkSub, 'publication');
        await api(gw, 'publish', { channel: lobby, data: { barrier: true } });
        await listener.publication(lobby, (d) => d.barrier === true, 'barrier at the listener');
        await guard(barrier, 'barrier at the SDK subscriber');
        expect(listener.pushes('join')).toEqual([]);
        expect(listener.pushes('leave')).toEqual([]);
        expect([sdkJoins, sdkLeaves]).toEqual([[], []]);
      });
    });

    describe('personal channels and server-side subscriptions', () => {
      it('subscribe every connection of a user to personal:#<user>, so one publish reaches all of them', async () => {
        const gw = await gateway({ client: { subscribeToPersonal: true, personalChannelNamespace: 'personal' } });
        const personal = 'personal:#42';
        const phones: Centrifuge[] = [];
        for (let i = 0; i < 2; i++) {
          const c = scope.client(gw, { token: await token('42') });
          const sub = waitFor<ServerSubscribedContext>(c, 'subscribed', (ctx) => ctx.channel === personal);
          c.connect();
          await guard(sub, `connection ${i} subscribed to ${personal}`);
          phones.push(c);
        }
        const raw = await Peer.open(gw.wsUrl);
        scope.raw(raw.raw);
        const connectReply = raw.wireReply(await raw.connect(await token('42')));
        expect((connectReply?.['connect'] as { subs?: object }).subs).toHaveProperty([personal]);
        const other = await peer(gw, await token('7'));

        const got = phones.map((c) => waitFor<PublicationContext>(c, 'publication', (ctx) => ctx.channel === personal));
        expect((await api(gw, 'publish', { channel: personal, data: { to: 42 } })).json).toEqual({ result: {} });
        for (const [i, p] of got.entries()) expect((await guard(p, `personal publication at connection ${i}`)).data).toEqual({ to: 42 });
        await raw.publication(personal, (d) => d.to === 42, 'personal publication at the raw connection');

        // User 7 is in its own personal channel only.
        await api(gw, 'publish', { channel: 'personal:#7', data: { to: 7 } });
        await other.publication('personal:#7', (d) => d.to === 7, 'user 7 gets its own');
        expect(other.pushes('pub').map((m) => m.push.channel)).toEqual(['personal:#7']);
        expect(raw.pushes('pub').map((m) => m.push.channel)).toEqual([personal]);
      });

      it('/api/subscribe and /api/unsubscribe act on every connection of the user', async () => {
        const gw = await gateway();
        const kate = unique('kate');
        const feed = `feed:${unique('news')}`;
        const lobby = `lobby:${unique('barrier')}`;
        const devices = [scope.client(gw, { token: await token(kate) }), scope.client(gw, { token: await token(kate) })];
        for (const d of devices) await connectSdk(d);
        const raw = await peer(gw, await token(kate));
        await raw.subscribe(lobby);
        const stranger = await peer(gw, await token(unique('stranger')));
        await stranger.subscribe(lobby);

        const serverSubscribed = devices.map((d) => waitFor<ServerSubscribedContext>(d, 'subscribed', (ctx) => ctx.channel === feed));
        expect((await api(gw, 'subscribe', { user: kate, channel: feed })).json).toEqual({ result: {} });
        for (const s of serverSubscribed) await guard(s, 'SDK server-side subscribed');
        await raw.waitFor((m) => m.kind === 'push' && m.push.type === 'subscribe' && m.push.channel === feed, 'subscribe push');

        const pubs = devices.map((d) => waitFor<PublicationContext>(d, 'publication', (ctx) => ctx.channel === feed));
        await api(gw, 'publish', { channel: feed, data: { n: 1 } });
        for (const p of pubs) expect((await guard(p, 'publication on the server-side subscription')).data).toEqual({ n: 1 });
        await raw.publication(feed, (d) => d.n === 1, 'raw publication');

        const unsubscribed = devices.map((d) => waitFor<{ channel: string }>(d, 'unsubscribed', (ctx) => ctx.channel === feed));
        expect((await api(gw, 'unsubscribe', { user: kate, channel: feed })).json).toEqual({ result: {} });
        for (const u of unsubscribed) await guard(u, 'SDK server-side unsubscribed');
        const push = await raw.waitFor((m) => m.kind === 'push' && m.push.type === 'unsubscribe' && m.push.channel === feed, 'unsubscribe push');
        expect(push).toMatchObject({ push: { body: { code: 2000 } } });

        // Nothing more arrives on the feed: the next publication the raw client sees is the barrier.
        await api(gw, 'publish', { channel: feed, data: { n: 2 } });
        await api(gw, 'publish', { channel: lobby, data: { barrier: true } });
        await raw.publication(lobby, (d) => d.barrier === true, 'barrier');
        expect(raw.pushes('pub', feed).map((m) => (m.push.body as { data: unknown }).data)).toEqual([{ n: 1 }]);
        // The other user was never touched.
        await stranger.publication(lobby, (d) => d.barrier === true, 'barrier at the stranger');
        expect(stranger.messages.filter((m) => m.kind === 'push' && m.push.channel === feed)).toEqual([]);

        // `client` narrows it to one connection: the SDK devices (subscribed to the lobby as a barrier) get nothing.
        const deviceLobbies = devices.map((d) => d.newSubscription(lobby));
        for (const l of deviceLobbies) await subscribed(l);
        const deviceSubscribes = devices.map((d) => record<ServerSubscribedContext>(d, 'subscribed'));
        const devicePubs = devices.map((d) => record<PublicationContext>(d, 'publication'));
        await api(gw, 'subscribe', { user: kate, channel: feed, client: raw.id });
        await raw.waitFor(() => raw.pushes('subscribe', feed).length === 2, 'second subscribe push');
        const barriers = deviceLobbies.map((l) => waitFor<PublicationContext>(l, 'publication', (ctx) => (ctx.data as { n?: number }).n === 4));
        await api(gw, 'publish', { channel: feed, data: { n: 3 } });
        await api(gw, 'publish', { channel: lobby, data: { n: 4 } });
        await raw.publication(feed, (d) => d.n === 3, 'publication on the narrowed subscription');
        for (const b of barriers) await guard(b, 'barrier at a device');
        expect(deviceSubscribes).toEqual([[], []]);
        expect(devicePubs.map((list) => list.filter((p) => p.channel === feed))).toEqual([[], []]);

        expect((await api(gw, 'subscribe', { user: kate, channel: `nowhere:${unique('x')}` })).json.error).toMatchObject({ code: 102 });
      });
    });

    describe('user registry', () => {
      it('/api/user_connections lists every connection of a user with node, transport and connected_at', async () => {
        const gw = await gateway();
        const liam = unique('liam');
        const before = Date.now();
        const raw = await peer(gw, await token(liam));
        const device = scope.client(gw, { token: await token(liam) });
        const deviceId = await connectSdk(device);
        const after = Date.now();
        await peer(gw, await token(unique('someone-else')));

        const { json } = await api(gw, 'user_connections', { user: liam });
        const connections = [...json.result.connections].sort((x: { client: string }, y: { client: string }) => x.client.localeCompare(y.client));
        expect(connections).toHaveLength(2);
        expect(connections.map((c: { client: string }) => c.client)).toEqual([raw.id, deviceId].sort());
        for (const c of connections) {
          expect(c).toMatchObject({ user: liam, node: NODE, node_id: gw.gateway.node.id, transport: 'websocket' });
          expect(c.connected_at).toBeGreaterThanOrEqual(before);
          expect(c.connected_at).toBeLessThanOrEqual(after);
        }
        expect((await api(gw, 'user_connections', { user: unique('nobody') })).json).toEqual({ result: { connections: [], total: 0 } });
        expect((await api(gw, 'user_connections', { user: '' })).json.error).toMatchObject({ code: 107 });

        const gone = waitFor<{ client: string }>(gw.gateway, 'disconnect', (e) => e.client === raw.id);
        raw.close();
        await guard(gone, 'server saw the raw client close');
        const left = await apiUntil(gw, 'user_connections', { user: liam }, (j) => j.result.connections.length === 1, 'one connection left');
        expect(left.result.connections[0].client).toBe(deviceId);
      });
    });

    describe('maxConnectionsPerUser', () => {
      it('refuse-new: the third connection of a user closes with 3504, the first two stay', async () => {
        const gw = await gateway({ client: { maxConnectionsPerUser: 2, connectionLimitMode: 'refuse-new' } });
        const mia = unique('mia');
        const first = await peer(gw, await token(mia));
        const second = await peer(gw, await token(mia));

        const third = await Peer.open(gw.wsUrl);
        scope.raw(third.raw);
        third.raw.send({ id: 1, connect: { token: await token(mia) } });
        expect(await guard(third.raw.closed, 'third connection closed')).toEqual({ code: 3504, reason: 'connection limit' });
        expect(third.messages.filter((m) => m.kind === 'result')).toEqual([]);

        // The first two are unharmed and the registry holds exactly them; other users are not limited.
        for (const p of [first, second]) expect(await p.call('presence_stats', { channel: `lobby:${unique('x')}` })).toMatchObject({ kind: 'result' });
        // (The refused connection may have been in the registry for a moment: caps can be decided after registering.)
        const registry = await apiUntil(gw, 'user_connections', { user: mia }, (j) => j.result.connections.length === 2, 'two connections listed');
        expect(registry.result.connections.map((c: { client: string }) => c.client).sort()).toEqual([first.id, second.id].sort());
        await peer(gw, await token(unique('other')));

        // A freed slot can be taken again.
        const gone = waitFor<{ client: string }>(gw.gateway, 'disconnect', (e) => e.client === first.id);
        first.close();
        await guard(gone, 'server saw the first connection close');
        await apiUntil(gw, 'user_connections', { user: mia }, (j) => j.result.connections.length === 1, 'registry down to one');
        const again = await peer(gw, await token(mia));
        expect(again.id).not.toBe('');
      });

      it('close-oldest: the third connection is accepted and the oldest is closed with 3504', async () => {
        const gw = await gateway({ client: { maxConnectionsPerUser: 2, connectionLimitMode: 'close-oldest' } });
        const noah = unique('noah');
        const oldest = await peer(gw, await token(noah));
        const [entry] = (await api(gw, 'user_connections', { user: noah })).json.result.connections as { connected_at: number }[];
        // Distinct connected_at timestamps, so that "oldest" is well defined.
        await pastMillisecond(entry?.connected_at ?? 0);
        const middle = await peer(gw, await token(noah));
        const middleAt = (await api(gw, 'user_connections', { user: noah })).json.result.connections.find((c: { client: string }) => c.client === middle.id)
          .connected_at as number;
        await pastMillisecond(middleAt);

        const newest = await peer(gw, await token(noah));
        expect(newest.id).not.toBe('');
        expect(await guard(oldest.raw.closed, 'oldest closed')).toMatchObject({ code: 3504 });
        expect(middle.raw.ws.readyState).toBe(middle.raw.ws.OPEN);
        expect(await middle.call('presence_stats', { channel: `lobby:${unique('x')}` })).toMatchObject({ kind: 'result' });
        expect(await newest.call('presence_stats', { channel: `lobby:${unique('x')}` })).toMatchObject({ kind: 'result' });
        const listed = await apiUntil(gw, 'user_connections', { user: noah }, (j) => j.result.connections.length === 2, 'two connections listed');
        expect(listed.result.connections.map((c: { client: string }) => c.client).sort()).toEqual([middle.id, newest.id].sort());
      });

      it('close-oldest with an SDK client: the replaced SDK client ends disconnected (3504) and does not come back', async () => {
        const gw = await gateway({ client: { maxConnectionsPerUser: 1, connectionLimitMode: 'close-oldest' } });
        const olive = unique('olive');
        const old = scope.client(gw, { token: await token(olive), minReconnectDelay: 50, maxReconnectDelay: 200 });
        await connectSdk(old);
        const disconnected = waitFor<{ code: number }>(old, 'disconnected');
        const fresh = await peer(gw, await token(olive));
        expect(await guard(disconnected, 'old SDK client disconnected')).toMatchObject({ code: 3504 });
        expect(old.state).toBe('disconnected');
        expect(fresh.raw.ws.readyState).toBe(fresh.raw.ws.OPEN);
        await clientState(old, 'disconnected');
      });
    });

    describe('races', () => {
      it('refuse-new holds when one user opens many connections at once', async () => {
        const gw = await gateway({ client: { maxConnectionsPerUser: 2, connectionLimitMode: 'refuse-new' } });
        const burst = unique('burst');
        const jwt = await token(burst);
        const peers = await Promise.all(Array.from({ length: 6 }, () => Peer.open(gw.wsUrl)));
        for (const p of peers) scope.raw(p.raw);
        const outcomes = await guard(Promise.all(peers.map((p) => connectOutcome(p, jwt))), 'every connect answered or closed');
        expect(outcomes.filter((o) => o === 'connected'), `outcomes: ${outcomes.join(',')}`).toHaveLength(2);
        expect(outcomes.filter((o) => o === 3504)).toHaveLength(4);
        const registry = await apiUntil(gw, 'user_connections', { user: burst }, (j) => j.result.connections.length === 2, 'two connections listed');
        const open = peers.filter((p) => p.raw.ws.readyState === p.raw.ws.OPEN).map((p) => p.id);
        expect(registry.result.connections.map((c: { client: string }) => c.client).sort()).toEqual(open.sort());
      });

      it('close-oldest ends with maxConnectionsPerUser connections when one user opens many at once', async () => {
        const gw = await gateway({ client: { maxConnectionsPerUser: 2, connectionLimitMode: 'close-oldest' } });
        const burst = unique('burst');
        const jwt = await token(burst);
        const peers = await Promise.all(Array.from({ length: 6 }, () => Peer.open(gw.wsUrl)));
        for (const p of peers) scope.raw(p.raw);
        await guard(Promise.all(peers.map((p) => connectOutcome(p, jwt))), 'every connect answered or closed');
        // Four of the six must end closed with 3504 (whichever they are); two stay.
        const closes = peers.map((p) => p.raw.closed.then(({ code }) => code));
        const fourClosed = new Promise<number[]>((resolve) => {
          const codes: number[] = [];
          for (const c of closes) void c.then((code) => (codes.push(code), codes.length === 4 && resolve(codes)));
        });
        expect(await guard(fourClosed, 'four of six connections closed', 3000)).toEqual([3504, 3504, 3504, 3504]);
        const listed = await apiUntil(gw, 'user_connections', { user: burst }, (j) => j.result.connections.length === 2, 'two connections listed');
        const open = peers.filter((p) => p.raw.ws.readyState === p.raw.ws.OPEN).map((p) => p.id);
        expect(listed.result.connections.map((c: { client: string }) => c.client).sort()).toEqual(open.sort());
      });
    });
  });
}

brokerSuite('the memory broker', () => 'memory://');
brokerSuite('Redis', () => (redis as TestServer).url);

describe('per-user caps across two gateways on one Redis', () => {
  const pair = async (client: ConfigInput['client']) => {
    const url = (redis as TestServer).url;
    const config = (name: string): ConfigInput => ({ name, broker: url, channel, client });
    return [scope.gateway(await startGateway(config('left'))), scope.gateway(await startGateway(config('right')))] as const;
  };

  async function peerOn(gw: TestGateway, jwt: string): Promise<Peer> {
    const p = await Peer.open(gw.wsUrl);
    scope.raw(p.raw);
    await p.connect(jwt);
    return p;
  }

  it('refuse-new counts the connections on the other gateway', async () => {
    const [left, right] = await pair({ maxConnectionsPerUser: 2, connectionLimitMode: 'refuse-new' });
    const pia = unique('pia');
    await peerOn(left, await token(pia));
    await peerOn(right, await token(pia));
    // Only one of pia's connections is on `left`: the fleet-wide count refuses the third.
    const third = await Peer.open(left.wsUrl);
    scope.raw(third.raw);
    third.raw.send({ id: 1, connect: { token: await token(pia) } });
    expect(await guard(third.raw.closed, 'third connection closed')).toEqual({ code: 3504, reason: 'connection limit' });
  });

  it('close-oldest closes the oldest connection on the other gateway', async () => {
    const [left, right] = await pair({ maxConnectionsPerUser: 2, connectionLimitMode: 'close-oldest' });
    const quinn = unique('quinn');
    const oldest = await peerOn(right, await token(quinn));
    const [entry] = (await api(right, 'user_connections', { user: quinn })).json.result.connections as { connected_at: number }[];
    await pastMillisecond(entry?.connected_at ?? 0);
    const middle = await peerOn(left, await token(quinn));
    const middleAt = (await api(left, 'user_connections', { user: quinn })).json.result.connections.find((c: { client: string }) => c.client === middle.id)
      .connected_at as number;
    await pastMillisecond(middleAt);
    const newest = await peerOn(left, await token(quinn));

    expect(await guard(oldest.raw.closed, 'oldest (on the other gateway) closed')).toMatchObject({ code: 3504 });
    expect(middle.raw.ws.readyState).toBe(middle.raw.ws.OPEN);
    const listed = await apiUntil(right, 'user_connections', { user: quinn }, (j) => j.result.connections.length === 2, 'two connections listed');
    expect(listed.result.connections.map((c: { client: string; node: string }) => `${c.node}/${c.client}`).sort()).toEqual(
      [`left/${middle.id}`, `left/${newest.id}`].sort(),
    );
  });
});

/**
 * Connects a client, stops Redis (SIGSTOP), sends a subscribe to `channel` and kills the
 * socket while that subscribe waits on Redis; Redis resumes once the gateway saw the close.
 */
async function closeWhileSubscribing(gw: TestGateway, redisUrl: string, channel: string): Promise<Peer> {
  const p = await Peer.open(gw.wsUrl);
  scope.raw(p.raw);
  await p.connect(await token(unique('closer')));
  const gone = waitFor<{ client: string }>(gw.gateway, 'disconnect', (e) => e.client === p.id);
  const pid = await redisPid(redisUrl);
  process.kill(pid, 'SIGSTOP');
  try {
    p.raw.send({ id: 99, subscribe: { channel } });
    p.raw.ws.terminate();
    await guard(gone, 'the gateway saw the connection close');
  } finally {
    process.kill(pid, 'SIGCONT');
  }
  return p;
}

describe('a subscribe in flight when the connection closes (Redis stopped meanwhile)', () => {
  it('leaves no presence entry behind', async () => {
    const url = (redis as TestServer).url;
    // Short TTL: an entry nobody refreshes is gone after 500 ms; one still there after 2 s is being refreshed.
    const gw = scope.gateway(await startGateway({ name: NODE, broker: url, channel, presence: { updateInterval: '100ms', ttl: '500ms' } }));
    const lobby = `lobby:${unique('closing')}`;
    // Redis is stopped so that the broker subscribe of the channel is still in flight when the close arrives.
    await closeWhileSubscribing(gw, url, lobby);
    const deadline = Date.now() + 2000;
    let stats = (await api(gw, 'presence_stats', { channel: lobby })).json.result;
    while (stats.num_clients > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      stats = (await api(gw, 'presence_stats', { channel: lobby })).json.result;
    }
    const presence = (await api(gw, 'presence', { channel: lobby })).json.result.presence;
    expect(presence, `presence of ${lobby} 2 s after its only subscriber closed (TTL 500 ms)`).toEqual({});
    expect(stats).toEqual({ num_clients: 0, num_users: 0 });
  });

  it('sends joinLeave subscribers no leave for a subscription whose join was never sent', async () => {
    const url = (redis as TestServer).url;
    const gw = scope.gateway(await startGateway({ name: NODE, broker: url, channel }));
    const room = `room:${unique('closing')}`;
    const watcher = await Peer.open(gw.wsUrl);
    scope.raw(watcher.raw);
    await watcher.connect(await token(unique('watcher')));
    await watcher.subscribe(room, { join_leave: true });
    // Redis stopped: the subscribe waits on its presence write when the close arrives, so it never completes.
    const p = await closeWhileSubscribing(gw, url, room);
    // Barrier: published after the close, it reaches the watcher after any join or leave of the closer.
    await api(gw, 'publish', { channel: room, data: { barrier: true } });
    await watcher.publication(room, (d) => d.barrier === true, 'barrier at the watcher');
    const of = (type: string) => watcher.pushes(type, room).filter((m) => (m.push.body as { info: { client: string } }).info.client === p.id).length;
    // Join and leave come in pairs: no leave of a connection whose join the watcher never got.
    const joins = of('join');
    expect({ joins, leaves: of('leave') }, 'join and leave pushes about the closed connection').toEqual({ joins, leaves: joins });
    expect((await api(gw, 'presence_stats', { channel: room })).json.result).toEqual({ num_clients: 1, num_users: 1 });
  });
});
