import { afterEach, expect, it } from 'vitest';
import { RawClient, startGateway, type TestGateway, token } from './helpers.js';
import { startRedis, type TestServer } from './servers.js';

let gw: TestGateway | undefined;
let redis: TestServer | undefined;
afterEach(async () => {
  await gw?.stop();
  await redis?.stop();
  gw = undefined;
  redis = undefined;
});

it('pipelines a client’s publishes to the broker and keeps their order, answering every one', async () => {
  redis = await startRedis();
  gw = await startGateway({
    broker: redis.url,
    channel: { defaults: { allowSubscribeForClient: true, allowPublishForSubscriber: true, historySize: 1000, historyTtl: '60s' } },
  });
  const [publisher, reader] = [await RawClient.open(gw.wsUrl), await RawClient.open(gw.wsUrl)];
  for (const client of [publisher, reader]) {
    await client.connect(await token('u'));
    client.send({ id: 2, subscribe: { channel: 'feed' } });
    expect((await client.nextNonPing()).kind).toBe('result');
  }
  const count = 500;
  // One frame, 500 publishes: more than the in-flight window, so some wait for a slot.
  publisher.send(...Array.from({ length: count }, (_, i) => ({ id: 10 + i, publish: { channel: 'feed', data: { n: i } } })));
  const replies = new Set<number>();
  const seen: number[] = [];
  while (replies.size < count || seen.length < count) {
    const m = await publisher.nextNonPing();
    if (m.kind === 'result' && m.method === 'publish') replies.add(m.id);
    if (m.kind === 'push' && m.push.type === 'pub') seen.push((m.push.body.data as { n: number }).n);
  }
  expect([...replies].sort((a, b) => a - b)).toEqual(Array.from({ length: count }, (_, i) => 10 + i));
  expect(seen).toEqual(Array.from({ length: count }, (_, i) => i));
  const offsets: number[] = [];
  while (offsets.length < count) {
    const m = await reader.nextNonPing();
    if (m.kind === 'push' && m.push.type === 'pub') offsets.push(m.push.body.offset ?? -1);
  }
  expect(offsets).toEqual(Array.from({ length: count }, (_, i) => i + 1));
  publisher.close();
  reader.close();
});
