import type { Centrifuge, PublicationContext } from 'centrifuge';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startRedis, type TestServer } from '../packages/server/test/servers.js';
import { api, eventually, type FleetNode, movableClient, TestFleet, token } from './fleet-helpers.js';

let redis: TestServer;
let fleet: TestFleet;
beforeAll(async () => {
  redis = await startRedis();
  fleet = new TestFleet(redis.url);
});
afterAll(async () => {
  await fleet.stop();
  await redis.stop();
});

it('a rolling restart of every node loses no publication and disconnects clients only with 3001', async () => {
  const drainable = { shutdown: { drainWindow: '1s' } };
  const live: FleetNode[] = [await fleet.start('a', drainable), await fleet.start('b', drainable), await fleet.start('c', drainable)];
  let turn = 0;
  /** The next node to (re)connect to or publish through, round robin over those not draining. */
  const pick = () => live[turn++ % live.length] as FleetNode;

  const channel = 'chat:rolling';
  const clients: { client: Centrifuge; received: number[]; leftWith: number[] }[] = [];
  for (let i = 0; i < 12; i++) {
    const received: number[] = [];
    const leftWith: number[] = [];
    const client = movableClient(() => pick().wsUrl, await token(`user-${i}`));
    const sub = client.newSubscription(channel);
    sub.on('publication', (ctx: PublicationContext) => received.push((ctx.data as { n: number }).n));
    client.on('connecting', (ctx) => {
      if (ctx.code !== 0) leftWith.push(ctx.code);
    });
    const subscribed = new Promise((resolve) => sub.once('subscribed', resolve));
    sub.subscribe();
    client.connect();
    await subscribed;
    clients.push({ client, received, leftWith });
  }

  // A steady publisher, through whichever node is up, never pausing during the restarts.
  let published = 0;
  let publishing = true;
  const publisher = (async () => {
    while (publishing) {
      const res = await api(pick(), 'publish', { channel, data: { n: published + 1 } }).catch(() => undefined);
      if (res?.result !== undefined) published += 1;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  })();

  for (const name of ['a', 'b', 'c']) {
    await eventually(() => published > 20, 'some traffic before the restart');
    const node = live.find((n) => n.name === name) as FleetNode;
    live.splice(live.indexOf(node), 1);
    node.process.child.kill('SIGTERM');
    expect((await node.process.exited).code).toBe(0);
    live.push(await fleet.start(name, drainable));
  }
  await eventually(() => published > 60, 'traffic after the last restart');
  publishing = false;
  await publisher;

  const expected = Array.from({ length: published }, (_, i) => i + 1);
  await eventually(() => clients.every((c) => c.received.length >= published), 'every client caught up');
  for (const { received, leftWith } of clients) {
    expect(received).toEqual(expected);
    expect(leftWith.every((code) => code === 3001)).toBe(true);
  }
  expect(clients.some((c) => c.leftWith.length > 0)).toBe(true);
  for (const { client } of clients) client.disconnect();
}, 60_000);
