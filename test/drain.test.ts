import { afterEach, expect, it } from 'vitest';
import { RawClient, startGateway, type TestGateway, token } from '../packages/server/test/helpers.js';

let gw: TestGateway | undefined;
afterEach(async () => {
  await gw?.stop();
  gw = undefined;
});

it('drain spreads the 3001 disconnects evenly over the window', async () => {
  gw = await startGateway({ shutdown: { drainWindow: '2s' } });
  const clients = await Promise.all(Array.from({ length: 200 }, () => RawClient.open(gw!.wsUrl)));
  const jwt = await token('u');
  await Promise.all(clients.map((c) => c.connect(jwt)));
  const started = Date.now();
  const closes = clients.map((c) => c.closed.then((close) => ({ ...close, at: Date.now() - started })));
  const ready = await fetch(`${gw.baseUrl}/ready`);
  expect(ready.status).toBe(200);
  const drained = gw.gateway.close();
  expect((await fetch(`${gw.baseUrl}/ready`)).status).toBe(503);
  const results = await Promise.all(closes);
  await drained;
  expect(new Set(results.map((r) => `${r.code} ${r.reason}`))).toEqual(new Set(['3001 shutdown']));
  const tenths = Array<number>(10).fill(0);
  for (const r of results) tenths[Math.min(9, Math.floor(r.at / 200))]! += 1;
  const mean = results.length / 10;
  expect(Math.max(...tenths)).toBeLessThanOrEqual(2 * mean);
  expect(Math.min(...tenths)).toBeGreaterThan(0);
  expect(Math.max(...results.map((r) => r.at))).toBeLessThan(3_000);
});

it('the drain API method drains the node: not ready, new upgrades refused with Retry-After', async () => {
  gw = await startGateway({ shutdown: { drainWindow: '1s' } });
  const client = await RawClient.open(gw.wsUrl);
  await client.connect(await token('u'));
  const res = await fetch(`${gw.baseUrl}/api/drain`, { method: 'POST', headers: { 'x-api-key': 'test-api-key' }, body: '{}' });
  expect(await res.json()).toEqual({ result: {} });
  expect((await fetch(`${gw.baseUrl}/ready`)).status).toBe(503);
  const refused = await new Promise<{ status: number; retryAfter: string | null }>((resolve) => {
    const late = new RawClient(gw!.wsUrl);
    late.ws.on('unexpected-response', (_req, response) => resolve({ status: response.statusCode ?? 0, retryAfter: response.headers['retry-after'] ?? null }));
  });
  expect(refused.status).toBe(503);
  expect(Number(refused.retryAfter)).toBeGreaterThan(0);
  expect(await client.closed).toEqual({ code: 3001, reason: 'shutdown' });
});
