/**
 * Presence, join/leave and the user registry across a fleet: three gateway processes on
 * one broker server (redis-server; nats-server, where each node keeps its own entries and
 * answers presence queries). Reads of another process's state poll its HTTP API
 * (bounded); everything a client sees is awaited as an event.
 */
import type { Centrifuge, JoinContext, LeaveContext, PublicationContext, Subscription } from 'centrifuge';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { guard, Peer } from '../packages/server/test/presence-helpers.js';
import { record, waitFor } from '../packages/server/test/sdk-helpers.js';
import { startNats, startRedis, type TestServer } from '../packages/server/test/servers.js';
import { api, eventually, type FleetNode, movableClient, TestFleet, token } from './fleet-helpers.js';

const TTL_MS = 1000;

const extra = {
  presence: { updateInterval: '200ms', ttl: `${TTL_MS}ms` },
  channel: {
    defaults: { allowSubscribeForClient: true },
    namespaces: { room: { presence: true, joinLeave: true, allowPresenceForSubscriber: true } },
  },
};

let seq = 0;
const unique = (prefix: string) => `${prefix}-${++seq}`;

function fleetSuite(label: string, startBroker: () => Promise<TestServer>) {
  describe(`presence across a fleet of three gateways on ${label}`, () => {
    let broker: TestServer;
    let fleet: TestFleet;
    let a: FleetNode;
    let b: FleetNode;
    let c: FleetNode;
    const peers: Peer[] = [];
    const clients: Centrifuge[] = [];

    beforeAll(async () => {
      broker = await startBroker();
      fleet = new TestFleet(broker.url);
      [a, b, c] = await Promise.all([fleet.start('node-a', extra), fleet.start('node-b', extra), fleet.start('node-c', extra)]);
    }, 30_000);
    afterAll(async () => {
      await fleet?.stop();
      await broker?.stop();
    });
    afterEach(() => {
      for (const p of peers.splice(0)) p.raw.ws.terminate();
      for (const client of clients.splice(0)) {
        client.removeAllListeners();
        client.disconnect();
      }
    });

    async function peer(node: FleetNode, user: string): Promise<Peer> {
      const p = await Peer.open(node.wsUrl);
      peers.push(p);
      await p.connect(await token(user));
      return p;
    }

    async function sdkClient(node: FleetNode, user: string): Promise<{ client: Centrifuge; id: string }> {
      const client = movableClient(() => node.wsUrl, await token(user));
      clients.push(client);
      const connected = waitFor<{ client: string }>(client, 'connected');
      client.connect();
      return { client, id: (await guard(connected, `SDK connected to ${node.name}`)).client };
    }

    async function subscribed(sub: Subscription): Promise<Subscription> {
      const ready = waitFor(sub, 'subscribed');
      sub.subscribe();
      await guard(ready, `subscribed to ${sub.channel}`);
      return sub;
    }

    const names = (connections: { node: string; client: string }[]) => connections.map((x) => `${x.node}/${x.client}`).sort();

    it('counts a user with connections on two nodes once in num_users and twice in num_clients', async () => {
      const room = `room:${unique('count')}`;
      const user = unique('two-nodes');
      const onA = await peer(a, user);
      await onA.subscribe(room);
      const onB = await peer(b, user);
      await onB.subscribe(room);

      expect(await api(c, 'presence_stats', { channel: room })).toEqual({ result: { num_clients: 2, num_users: 1 } });
      const presence = (await api(c, 'presence', { channel: room })).result.presence;
      expect(Object.keys(presence).sort()).toEqual([onA.id, onB.id].sort());
      expect(presence[onA.id]).toEqual({ user, client: onA.id });

      // A subscriber on node-c asks over the protocol and counts itself too.
      const onC = await peer(c, unique('third'));
      await onC.subscribe(room);
      expect(await onC.call('presence_stats', { channel: room })).toMatchObject({ kind: 'result', result: { num_clients: 3, num_users: 2 } });
    });

    it("delivers the join and leave of a client on node-a to a joinLeave subscriber on node-c, exactly once, and to no one who did not ask", async () => {
      const room = `room:${unique('jl')}`;
      const { client: watcherClient } = await sdkClient(c, unique('watcher'));
      const watched = watcherClient.newSubscription(room, { joinLeave: true });
      const joins = record<JoinContext>(watched, 'join');
      const leaves = record<LeaveContext>(watched, 'leave');
      await subscribed(watched);
      const { client: deafClient } = await sdkClient(b, unique('deaf'));
      const deaf = deafClient.newSubscription(room);
      const deafJoins = record(deaf, 'join');
      const deafLeaves = record(deaf, 'leave');
      await subscribed(deaf);

      // Joins and leaves by unsubscribing, on node-a.
      const first = await peer(a, unique('first'));
      const firstJoined = waitFor<JoinContext>(watched, 'join', (ctx) => ctx.info.client === first.id);
      await first.subscribe(room);
      expect((await guard(firstJoined, 'join from node-a at node-c')).info).toMatchObject({ client: first.id });
      const firstLeft = waitFor<LeaveContext>(watched, 'leave', (ctx) => ctx.info.client === first.id);
      expect(await first.call('unsubscribe', { channel: room })).toMatchObject({ kind: 'result' });
      await guard(firstLeft, 'leave (unsubscribe) from node-a at node-c');

      // Joins and leaves by disconnecting, on node-a.
      const second = await peer(a, unique('second'));
      const secondJoined = waitFor<JoinContext>(watched, 'join', (ctx) => ctx.info.client === second.id);
      await second.subscribe(room);
      await guard(secondJoined, 'second join at node-c');
      const secondLeft = waitFor<LeaveContext>(watched, 'leave', (ctx) => ctx.info.client === second.id);
      second.close();
      await guard(secondLeft, 'leave (disconnect) from node-a at node-c');

      // Barrier: node-a publishes after all of it, on the same Redis connection as its joins and leaves.
      const isBarrier = (ctx: PublicationContext) => (ctx.data as { barrier?: boolean }).barrier === true;
      const watcherGot = waitFor<PublicationContext>(watched, 'publication', isBarrier);
      const deafGot = waitFor<PublicationContext>(deaf, 'publication', isBarrier);
      await api(a, 'publish', { channel: room, data: { barrier: true } });
      await guard(watcherGot, 'barrier at node-c');
      await guard(deafGot, 'barrier at node-b');

      const ids = [first.id, second.id];
      expect(joins.map((j) => j.info.client).filter((id) => ids.includes(id))).toEqual(ids);
      expect(leaves.map((l) => l.info.client)).toEqual(ids);
      expect([deafJoins, deafLeaves]).toEqual([[], []]);
    });

    it('lists both connections of a user, with their node names, in /api/user_connections on every node', async () => {
      const user = unique('listed');
      const onA = await peer(a, user);
      const onB = await peer(b, user);
      for (const node of [a, b, c]) {
        const { connections } = (await api(node, 'user_connections', { user })).result;
        expect(names(connections), `user_connections on ${node.name}`).toEqual([`node-a/${onA.id}`, `node-b/${onB.id}`]);
        for (const conn of connections) expect(conn).toMatchObject({ user, transport: 'websocket', connected_at: expect.any(Number) });
      }
    });

    it('closes the connections of a user on node-a and node-b with 3503 on /api/disconnect from node-c', async () => {
      const user = unique('bye');
      const onA = await peer(a, user);
      const onB = await peer(b, user);
      const bystander = await peer(a, unique('bystander'));
      expect(await api(c, 'disconnect', { user })).toEqual({ result: {} });
      expect(await guard(onA.raw.closed, 'node-a connection closed')).toMatchObject({ code: 3503 });
      expect(await guard(onB.raw.closed, 'node-b connection closed')).toMatchObject({ code: 3503 });
      await eventually(async () => (await api(c, 'user_connections', { user })).result.connections.length === 0, 'registry empty', 5000);
      expect(bystander.raw.ws.readyState).toBe(bystander.raw.ws.OPEN);
    });

    // Last: node-b does not come back.
    it("forgets node-b's presence and registry entries within the TTL after kill -9, and keeps node-a's", async () => {
      const room = `room:${unique('kill')}`;
      const user = unique('survivor');
      const onA = await peer(a, user);
      await onA.subscribe(room);
      const aJoinedAt = Date.now();
      const onB = await peer(b, user);
      await onB.subscribe(room);
      expect(await api(c, 'presence_stats', { channel: room })).toEqual({ result: { num_clients: 2, num_users: 1 } });
      expect(names((await api(c, 'user_connections', { user })).result.connections)).toEqual([`node-a/${onA.id}`, `node-b/${onB.id}`]);

      b.process.child.kill('SIGKILL');
      await b.process.exited;
      const killedAt = Date.now();

      await eventually(async () => (await api(c, 'presence_stats', { channel: room })).result.num_clients === 1, "node-b's presence entry gone", 5000);
      const elapsed = Date.now() - killedAt;
      expect(elapsed, 'ms from the kill until the entry was gone').toBeLessThan(TTL_MS + 500);
      expect(await api(c, 'presence', { channel: room })).toEqual({ result: { presence: { [onA.id]: { user, client: onA.id } } } });
      expect(await api(a, 'presence_stats', { channel: room })).toEqual({ result: { num_clients: 1, num_users: 1 } });
      await eventually(async () => (await api(c, 'user_connections', { user })).result.connections.length === 1, "node-b's registry entry gone", 3000);
      expect(names((await api(a, 'user_connections', { user })).result.connections)).toEqual([`node-a/${onA.id}`]);
      expect(await onA.call('presence_stats', { channel: room })).toMatchObject({ kind: 'result', result: { num_clients: 1, num_users: 1 } });

      // node-a keeps refreshing its entries: they are still there well past one TTL after they were written.
      while (Date.now() < aJoinedAt + TTL_MS + 500) {
        expect(await api(c, 'presence_stats', { channel: room })).toEqual({ result: { num_clients: 1, num_users: 1 } });
        expect((await api(c, 'user_connections', { user })).result.connections).toHaveLength(1);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    });
  });
}

fleetSuite('Redis', startRedis);
fleetSuite('NATS', startNats);
