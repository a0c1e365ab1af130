import { afterEach, expect, it } from 'vitest';
import { api, RawClient, startGateway, type TestGateway, token } from './helpers.js';

let gw: TestGateway | undefined;
afterEach(async () => {
  await gw?.stop();
  gw = undefined;
});

async function scrape(g: TestGateway): Promise<Map<string, number>> {
  const text = await (await fetch(`${g.baseUrl}/metrics`)).text();
  const values = new Map<string, number>();
  for (const line of text.split('\n')) {
    const match = /^(\w+(?:\{[^}]*\})?) (\S+)$/.exec(line);
    if (match) values.set(match[1] as string, Number(match[2]));
  }
  return values;
}

it('counts deliveries, frames, bytes and delivery latency, and exposes process metrics', async () => {
  gw = await startGateway({ channel: { defaults: { allowSubscribeForClient: true } } });
  const subscribers = await Promise.all([RawClient.open(gw.wsUrl), RawClient.open(gw.wsUrl)]);
  for (const client of subscribers) {
    await client.connect(await token('u'));
    client.send({ id: 2, subscribe: { channel: 'news' } });
    expect((await client.nextNonPing()).kind).toBe('result');
  }
  const before = await scrape(gw);
  for (let i = 0; i < 3; i++) await api(gw, 'publish', { channel: 'news', data: { i } });
  for (const client of subscribers) for (let i = 0; i < 3; i++) expect((await client.nextNonPing()).kind).toBe('push');
  const after = await scrape(gw);

  const delta = (name: string) => (after.get(name) ?? Number.NaN) - (before.get(name) ?? 0);
  expect(delta('fleetgate_messages_sent_total{type="push"}')).toBe(6);
  expect(delta('fleetgate_delivery_latency_seconds_count')).toBe(3);
  expect(delta('fleetgate_publications_total{source="api"}')).toBe(3);
  expect(delta('fleetgate_frames_sent_total')).toBeGreaterThanOrEqual(1);
  expect(delta('fleetgate_bytes_sent_total')).toBeGreaterThan(6 * '{"push":{"channel":"news","pub":{"data":{"i":0}}}}'.length - 1);
  expect(after.get('fleetgate_connections')).toBe(2);
  expect(after.get('fleetgate_subscriptions')).toBe(2);
  expect(after.get('fleetgate_messages_sent_total{type="reply"}')).toBeGreaterThanOrEqual(4);
  expect(after.get('fleetgate_process_cpu_user_seconds_total')).toBeGreaterThan(0);
  expect(after.has('fleetgate_nodejs_eventloop_lag_seconds')).toBe(true);
  for (const client of subscribers) client.close();
});
