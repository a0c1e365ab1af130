import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import type { ConfigInput } from '../src/config/schema.js';
import type { ConnectionEvent } from '../src/gateway.js';
import { api, next, type RawClient, token } from './helpers.js';
import { metric, tryUpgrade, type UpgradeOutcome, useResources, within } from './raw-helpers.js';

/** Admission control, origin checks and the slow-client limit, over real sockets. */

const res = useResources();

const open: ConfigInput = { channel: { defaults: { allowSubscribeForClient: true } } };

async function connected(url: string, user: string): Promise<{ client: RawClient; id: string }> {
  const client = await res.client(url);
  const reply = await client.connect(await token(user));
  if (reply.kind !== 'result' || reply.method !== 'connect') throw new Error(`connect failed: ${JSON.stringify(reply)}`);
  return { client, id: reply.result.client };
}

function opened(outcome: UpgradeOutcome): boolean {
  if (outcome.kind === 'open') res.track(outcome.ws);
  return outcome.kind === 'open';
}

function retryAfter(outcome: UpgradeOutcome): number {
  if (outcome.kind !== 'refused') throw new Error('expected a refused upgrade');
  const value = outcome.headers['retry-after'];
  expect(value, 'Retry-After header').toMatch(/^\d+$/);
  return Number(value);
}

describe('admission', () => {
  it('admission.maxConnections=2: the third upgrade gets 503 + Retry-After; the first two are untouched', async () => {
    const gw = await res.gateway({ ...open, admission: { maxConnections: 2 } });
    const a = await connected(gw.wsUrl, 'a');
    const b = await connected(gw.wsUrl, 'b');

    const third = await tryUpgrade(gw.wsUrl);
    expect(third).toMatchObject({ kind: 'refused', status: 503 });
    const seconds = retryAfter(third);
    expect(seconds).toBeGreaterThanOrEqual(5);
    expect(seconds).toBeLessThanOrEqual(10);
    expect(await metric(gw, 'fleetgate_admission_rejections_total', { reason: 'capacity' })).toBe(1);

    for (const [i, { client }] of [a, b].entries()) {
      expect(client.ws.readyState).toBe(client.ws.OPEN);
      client.send({ id: 2, subscribe: { channel: `room${i}` } });
      expect(await client.nextNonPing()).toMatchObject({ kind: 'result', id: 2, method: 'subscribe' });
    }

    // A slot freed by a disconnect is available again.
    const gone = next<ConnectionEvent>(gw.gateway, 'disconnect');
    a.client.close();
    expect((await gone).client).toBe(a.id);
    expect(opened(await tryUpgrade(gw.wsUrl))).toBe(true);
  });

  it('admission.maxConnections counts sockets that have not sent connect yet', async () => {
    const gw = await res.gateway({ ...open, admission: { maxConnections: 1 } });
    await res.client(gw.wsUrl);
    expect(await tryUpgrade(gw.wsUrl)).toMatchObject({ kind: 'refused', status: 503 });
  });

  it('admission.acceptRate=2: a burst of 5 connects gets some 503s with Retry-After', async () => {
    const gw = await res.gateway({ ...open, admission: { acceptRate: 2 } });
    const outcomes = await Promise.all(Array.from({ length: 5 }, () => tryUpgrade(gw.wsUrl)));
    const accepted = outcomes.filter(opened).length;
    const refused = outcomes.filter((o) => o.kind === 'refused');
    expect(accepted).toBeGreaterThanOrEqual(2); // the bucket starts with one second's worth
    expect(refused.length).toBeGreaterThanOrEqual(1);
    for (const r of refused) {
      expect(r).toMatchObject({ status: 503 });
      expect(retryAfter(r)).toBeGreaterThanOrEqual(1);
    }
    expect(await metric(gw, 'fleetgate_admission_rejections_total', { reason: 'rate' })).toBe(refused.length);
  });
});

describe('origin check', () => {
  it("client.allowedOrigins ['https://good.example']: evil gets 403, good and no Origin connect", async () => {
    const gw = await res.gateway({ ...open, client: { allowedOrigins: ['https://good.example'] } });
    expect(await tryUpgrade(gw.wsUrl, { origin: 'https://evil.example' })).toMatchObject({ kind: 'refused', status: 403 });
    expect(await tryUpgrade(gw.wsUrl, { origin: 'https://good.example.evil.example' })).toMatchObject({ kind: 'refused', status: 403 });
    expect(opened(await tryUpgrade(gw.wsUrl, { origin: 'https://good.example' }))).toBe(true);
    expect(opened(await tryUpgrade(gw.wsUrl))).toBe(true);
    expect(await metric(gw, 'fleetgate_admission_rejections_total', { reason: 'origin' })).toBe(2);
  });

  it('default (no allowedOrigins): an Origin equal to the Host connects, another is refused with 403', async () => {
    const gw = await res.gateway(open);
    expect(opened(await tryUpgrade(gw.wsUrl, { origin: `http://127.0.0.1:${gw.port}` }))).toBe(true);
    expect(await tryUpgrade(gw.wsUrl, { origin: 'https://evil.example' })).toMatchObject({ kind: 'refused', status: 403 });
    expect(await tryUpgrade(gw.wsUrl, { origin: `http://127.0.0.1:${gw.port + 1}` })).toMatchObject({ kind: 'refused', status: 403 });
    expect(await tryUpgrade(gw.wsUrl, { origin: 'null' })).toMatchObject({ kind: 'refused', status: 403 });
    expect(opened(await tryUpgrade(gw.wsUrl))).toBe(true);
  });
});

describe('slow clients', () => {
  it('a subscriber that stops reading is closed with 3008; a reading subscriber gets every publication', async () => {
    const gw = await res.gateway({ ...open, client: { queueMaxBytes: 65_536 } });
    const slow = await connected(gw.wsUrl, 'slow');
    const fast = await connected(gw.wsUrl, 'fast');
    for (const { client } of [slow, fast]) {
      client.send({ id: 2, subscribe: { channel: 'feed' } });
      expect(await client.nextNonPing()).toMatchObject({ kind: 'result', id: 2, method: 'subscribe' });
    }
    const before = await metric(gw, 'fleetgate_disconnects_total', { code: '3008' });

    let slowGone: (ConnectionEvent & { code: string }) | undefined;
    const slowDisconnect = new Promise<ConnectionEvent & { code: string }>((resolve) => {
      gw.gateway.on('disconnect', (event) => {
        if (event.client === slow.id) resolve((slowGone = event));
      });
    });
    (slow.client.ws as unknown as { _socket: Socket })._socket.pause();

    const pad = 'x'.repeat(8 * 1024);
    let published = 0;
    // Kernel socket buffers absorb a few MB before the server-side queue grows; 40 MB is far beyond that.
    while (slowGone === undefined && published < 5000) {
      published++;
      const reply = await api(gw, 'publish', { channel: 'feed', data: { n: published, pad } });
      expect(reply.json).toEqual({ result: {} });
    }
    const event = await within(slowDisconnect, 5000, 'the slow client to be disconnected');
    expect(event).toMatchObject({ user: 'slow', code: '3008' });
    expect(await metric(gw, 'fleetgate_disconnects_total', { code: '3008' })).toBe(before + 1);

    const seen: number[] = [];
    for (let i = 0; i < published; i++) {
      const m = await within(fast.client.nextNonPing(), 5000, `publication ${i + 1} of ${published} at the reading subscriber`);
      if (m.kind !== 'push' || m.push.type !== 'pub') throw new Error(`unexpected message ${JSON.stringify(m)}`);
      seen.push((m.push.body.data as { n: number }).n);
    }
    expect(seen).toEqual(Array.from({ length: published }, (_, i) => i + 1));
    expect(fast.client.ws.readyState).toBe(fast.client.ws.OPEN);
  });
});
