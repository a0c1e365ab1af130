import type { PublicationContext } from 'centrifuge';
import { afterEach, expect, it } from 'vitest';
import { api, sdk, startGateway, type TestGateway, token } from './helpers.js';
import { startRedis, type TestServer } from './servers.js';

let redis: TestServer | undefined;
let gw: TestGateway | undefined;
afterEach(async () => {
  await gw?.stop();
  await redis?.stop();
  gw = undefined;
  redis = undefined;
});

async function brokerUp(g: TestGateway): Promise<number> {
  const text = await (await fetch(`${g.baseUrl}/metrics`)).text();
  return Number(/^fleetgate_broker_up (\d)/m.exec(text)?.[1]);
}

/** Polls the gateway's own HTTP view (readiness, metrics) until `check` holds. */
async function until(check: () => Promise<boolean>, label: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${label}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

it('keeps serving through a Redis restart: not ready while it is away, and no client left with a silent gap', async () => {
  redis = await startRedis();
  const r = redis;
  gw = await startGateway({
    broker: r.url,
    channel: { namespaces: { feed: { historySize: 100, historyTtl: '300s', forceRecovery: true, allowSubscribeForClient: true } } },
  });
  const g = gw;
  const client = sdk(g, { token: await token('reader'), minReconnectDelay: 50, maxReconnectDelay: 300 });
  const sub = client.newSubscription('feed:x');
  const received: number[] = [];
  const subscribedEvents: { recovered: boolean }[] = [];
  sub.on('publication', (ctx: PublicationContext) => received.push((ctx.data as { n: number }).n));
  sub.on('subscribed', (ctx) => subscribedEvents.push(ctx));
  const firstSubscribe = new Promise((resolve) => sub.once('subscribed', resolve));
  sub.subscribe();
  client.connect();
  await firstSubscribe;
  await api(g, 'publish', { channel: 'feed:x', data: { n: 1 } });
  await until(async () => received.length === 1, 'first publication');
  expect((await fetch(`${g.baseUrl}/ready`)).status).toBe(200);

  await r.kill();
  await until(async () => (await fetch(`${g.baseUrl}/ready`)).status === 503, 'readiness 503 while Redis is away');
  expect(await brokerUp(g)).toBe(0);
  const refused = await api(g, 'publish', { channel: 'feed:x', data: { n: 2 } });
  expect(refused.json.error.code).toBe(100);
  expect(client.state).toBe('connected');

  // Redis comes back empty (no persistence): the stream's epoch is new. The client must be
  // told (insufficient state → resubscribe → recovered: false), never left believing it is whole.
  const resubscribed = new Promise<{ recovered: boolean; wasRecovering: boolean }>((resolve) => sub.once('subscribed', resolve));
  await r.start();
  await until(async () => (await fetch(`${g.baseUrl}/ready`)).status === 200, 'ready again');
  expect(await brokerUp(g)).toBe(1);
  const again = await resubscribed;
  expect(again.wasRecovering).toBe(true);
  expect(again.recovered).toBe(false);
  await api(g, 'publish', { channel: 'feed:x', data: { n: 3 } });
  await until(async () => received.includes(3), 'publication after the restart');
  expect(received).toEqual([1, 3]);
  client.disconnect();
});

it('refuses a publication larger than api.maxPublicationBytes before it reaches the broker', async () => {
  redis = await startRedis();
  gw = await startGateway({ broker: redis.url, api: { maxPublicationBytes: 1024 }, channel: { defaults: { allowSubscribeForClient: true } } });
  const big = await api(gw, 'publish', { channel: 'news', data: { blob: 'x'.repeat(2000) } });
  expect(big.json.error).toEqual({ code: 107, message: 'publication data is 2011 bytes, above api.maxPublicationBytes (1024)' });
  const fine = await api(gw, 'publish', { channel: 'news', data: { blob: 'x'.repeat(500) } });
  expect(fine.json).toEqual({ result: {} });
});
