import type { Centrifuge, PublicationContext, Subscription } from 'centrifuge';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startNats, startRedis, type TestServer } from '../packages/server/test/servers.js';
import { api, eventually, type FleetNode, movableClient, TestFleet, token } from './fleet-helpers.js';

/** A subscribed SDK client and what it received on its channel. */
interface Member {
  readonly client: Centrifuge;
  readonly sub: Subscription;
  readonly received: number[];
  readonly offsets: number[];
  target: FleetNode;
}

function fleetSuite(label: string, startBroker: () => Promise<TestServer>) {
  describe(`a fleet of three gateways on ${label}`, () => {
    let broker: TestServer;
    let fleet: TestFleet;
    let nodes: FleetNode[];
    const members: Member[] = [];

    beforeAll(async () => {
      broker = await startBroker();
    });
    afterAll(() => broker.stop());
    beforeAll(async () => {
      fleet = new TestFleet(broker.url);
      nodes = [await fleet.start('node-a'), await fleet.start('node-b'), await fleet.start('node-c')];
    });
    afterAll(() => fleet.stop());
    afterEach(() => {
      for (const m of members.splice(0)) m.client.disconnect();
    });

    async function join(target: FleetNode, user: string, channel: string): Promise<Member> {
      const member: Member = { target, received: [], offsets: [], client: undefined as never, sub: undefined as never };
      const client = movableClient(() => member.target.wsUrl, await token(user));
      const sub = client.newSubscription(channel);
      sub.on('publication', (ctx: PublicationContext) => {
        member.received.push((ctx.data as { n: number }).n);
        if (ctx.offset !== undefined) member.offsets.push(ctx.offset);
      });
      Object.assign(member, { client, sub });
      members.push(member);
      const subscribed = new Promise((resolve) => sub.once('subscribed', resolve));
      sub.subscribe();
      client.connect();
      await subscribed;
      return member;
    }

    it('lists every node in /api/info on any node', async () => {
      for (const node of nodes) {
        await eventually(async () => (await api(node, 'info', {})).result.nodes.length === 3, `three nodes in ${node.name}'s info`);
      }
      const info = await api(nodes[0] as FleetNode, 'info', {});
      expect(info.result.nodes.map((n: { name: string }) => n.name)).toEqual(['node-a', 'node-b', 'node-c']);
    });

    it('delivers what one node publishes to every subscriber on every node exactly once, in order', async () => {
      const channel = `chat:all-${label}`;
      const group: Member[] = [];
      for (let i = 0; i < 9; i++) group.push(await join(nodes[i % 3] as FleetNode, `user-${i}`, channel));
      for (let n = 1; n <= 50; n++) {
        const res = await api(nodes[n % 3] as FleetNode, 'publish', { channel, data: { n } });
        expect(res.result.offset).toBe(n);
      }
      await eventually(() => group.every((m) => m.received.length >= 50), 'fifty publications everywhere');
      for (const m of group) {
        expect(m.received).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
        expect(m.offsets).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
      }
    });

    it('lets a client that moves to another node recover what it missed', async () => {
      const channel = `chat:move-${label}`;
      const mover = await join(nodes[0] as FleetNode, 'mover', channel);
      const witness = await join(nodes[2] as FleetNode, 'witness', channel);
      await api(nodes[1] as FleetNode, 'publish', { channel, data: { n: 1 } });
      await eventually(() => mover.received.length === 1, 'first publication');

      // The client loses node-a; while it is away, the fleet publishes; it comes back on node-b.
      const away = new Promise((resolve) => mover.client.once('connecting', resolve));
      mover.target = nodes[1] as FleetNode;
      await api(nodes[0] as FleetNode, 'disconnect', { user: 'mover', disconnect: { code: 3011, reason: 'move' } });
      await away;
      const back = new Promise<{ recovered: boolean }>((resolve) => mover.sub.once('subscribed', resolve));
      for (let n = 2; n <= 30; n++) await api(nodes[2] as FleetNode, 'publish', { channel, data: { n } });
      expect((await back).recovered).toBe(true);
      await api(nodes[0] as FleetNode, 'publish', { channel, data: { n: 31 } });
      await eventually(() => mover.received.length >= 31 && witness.received.length >= 31, 'all 31 on both');
      expect(mover.received).toEqual(Array.from({ length: 31 }, (_, i) => i + 1));
      expect(witness.received).toEqual(mover.received);
    });

    it('disconnects a user on every node from the API of any node', async () => {
      const channel = `chat:kick-${label}`;
      const onA = await join(nodes[0] as FleetNode, 'kicked', channel);
      const onC = await join(nodes[2] as FleetNode, 'kicked', channel);
      const gone = [onA, onC].map((m) => new Promise<{ code: number }>((resolve) => m.client.once('disconnected', resolve)));
      await api(nodes[1] as FleetNode, 'disconnect', { user: 'kicked' });
      expect((await Promise.all(gone)).map((d) => d.code)).toEqual([3503, 3503]);
    });

    it('forgets a node killed with SIGKILL once its TTL passes', async () => {
      const doomed = await fleet.start('node-d');
      await eventually(async () => (await api(nodes[0] as FleetNode, 'info', {})).result.nodes.length === 4, 'four nodes');
      doomed.process.child.kill('SIGKILL');
      await doomed.process.exited;
      await eventually(async () => (await api(nodes[0] as FleetNode, 'info', {})).result.nodes.length === 3, 'back to three nodes');
    });
  });
}

fleetSuite('redis', startRedis);
fleetSuite('nats', startNats);
