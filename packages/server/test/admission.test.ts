import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { metric, tryUpgrade, useResources } from './raw-helpers.js';

const res = useResources();

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Opens a socket from a given loopback source address (each 127.0.0.x is its own client IP). */
function openFrom(url: string, localAddress: string): Promise<{ status: number; retryAfter?: number }> {
  return new Promise((resolve, reject) => {
    const ws = res.track(new WebSocket(url, { localAddress }));
    ws.once('open', () => resolve({ status: 101 }));
    ws.once('unexpected-response', (_req, response) => {
      resolve({ status: response.statusCode ?? 0, retryAfter: Number(response.headers['retry-after']) });
      response.resume();
    });
    ws.once('error', (err) => {
      if (ws.readyState === WebSocket.CONNECTING) reject(err);
    });
  });
}

it('caps connections per client IP address, others unaffected', async () => {
  const gw = await res.gateway({ admission: { maxConnectionsPerIp: 2 } });
  const fromA = [];
  for (let i = 0; i < 3; i++) fromA.push(await openFrom(gw.wsUrl, '127.0.0.2'));
  expect(fromA.map((r) => r.status)).toEqual([101, 101, 503]);
  expect(fromA[2]?.retryAfter).toBeGreaterThan(0);
  expect((await openFrom(gw.wsUrl, '127.0.0.3')).status).toBe(101);
  expect(await metric(gw, 'fleetgate_admission_rejections_total', { reason: 'ip' })).toBe(1);
});

it('keeps memory flat while refusing thousands of upgrades at capacity', async () => {
  const gw = await res.gateway({ admission: { maxConnections: 1 } });
  expect((await tryUpgrade(gw.wsUrl)).kind).toBe('open');
  const refuseMany = async (n: number) => {
    for (let i = 0; i < n; i += 50) {
      const outcomes = await Promise.all(Array.from({ length: 50 }, () => tryUpgrade(gw.wsUrl)));
      for (const o of outcomes) expect(o.kind === 'refused' && o.status).toBe(503);
    }
  };
  await refuseMany(500); // warm up
  gc();
  const before = process.memoryUsage().heapUsed;
  await refuseMany(2000);
  gc();
  const growth = process.memoryUsage().heapUsed - before;
  // Each refusal costs an HTTP response and nothing that stays: a generous 8 MiB bound.
  expect(growth).toBeLessThan(8 * 1024 * 1024);
  expect(await metric(gw, 'fleetgate_admission_rejections_total', { reason: 'capacity' })).toBe(2500);
}, 60_000);

it('detects a reconnect storm and answers it with longer Retry-After hints', async () => {
  const gw = await res.gateway({ admission: { maxConnections: 5, stormMinRate: 20, stormFactor: 3 } });
  const outcomes = await Promise.all(Array.from({ length: 120 }, () => tryUpgrade(gw.wsUrl)));
  expect(outcomes.filter((o) => o.kind === 'open')).toHaveLength(5);
  // The detector closes a second at a time: wait for the gauge, then look at a refusal.
  const deadline = Date.now() + 5_000;
  while ((await metric(gw, 'fleetgate_storm')) !== 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  expect(await metric(gw, 'fleetgate_storm')).toBe(1);
  expect(await metric(gw, 'fleetgate_storms_total')).toBe(1);
  const refused = await tryUpgrade(gw.wsUrl);
  expect(refused.kind === 'refused' && Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(20);
});
