import { request } from 'node:http';
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import type { ServerMessage } from '@fleetgate/protocol';
import type { ConfigInput } from '../src/config/schema.js';
import { API_KEY, api, next, RawClient, sdk, startGateway, type TestGateway, token } from './helpers.js';

/** Open channels, one extra namespace: enough to subscribe and publish without tokens per channel. */
const OPEN: ConfigInput = { channel: { defaults: { allowSubscribeForClient: true }, namespaces: { chat: {} } } };

const packageVersion = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function gateway(config: ConfigInput = OPEN): Promise<TestGateway> {
  const gw = await startGateway(config);
  cleanups.push(() => gw.stop());
  return gw;
}

/** Rejects with `label` if `promise` has not settled within `ms`: a missing event fails fast and says what was missing. */
function within<T>(promise: Promise<T>, label: string, ms = 5000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${label}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

interface Connected {
  readonly raw: RawClient;
  /** Client id from the connect reply. */
  readonly id: string;
  /** Every line that came over the wire, verbatim (frames split on newlines). */
  readonly wire: string[];
  nextId(): number;
}

async function connect(gw: TestGateway, user: string): Promise<Connected> {
  const raw = await RawClient.open(gw.wsUrl);
  cleanups.push(() => raw.close());
  const wire: string[] = [];
  raw.ws.on('message', (data: Buffer) => wire.push(...data.toString().split('\n')));
  const reply = await within(raw.connect(await token(user)), `connect reply of ${user}`);
  if (reply.kind !== 'result' || reply.method !== 'connect') throw new Error(`connect failed: ${JSON.stringify(reply)}`);
  let id = 1;
  return { raw, id: reply.result.client, wire, nextId: () => ++id };
}

async function subscribe(c: Connected, channel: string): Promise<void> {
  const id = c.nextId();
  c.raw.send({ id, subscribe: { channel } });
  const reply = await within(c.raw.nextNonPing(), `subscribe reply for ${channel}`);
  expect(reply).toMatchObject({ kind: 'result', id, method: 'subscribe' });
}

async function nextPub(c: Connected, label: string): Promise<{ channel: string | undefined; data: unknown }> {
  const m: ServerMessage = await within(c.raw.nextNonPing(), label);
  if (m.kind !== 'push' || m.push.type !== 'pub') throw new Error(`expected a publication (${label}), got ${JSON.stringify(m)}`);
  return { channel: m.push.channel, data: m.push.body.data };
}

async function post(gw: TestGateway, path: string, body: string, headers: Record<string, string> = {}): Promise<{ status: number; text: string }> {
  const res = await fetch(`${gw.baseUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
  return { status: res.status, text: await res.text() };
}

describe('publish', () => {
  it('reaches a subscribed raw client with the Centrifugo push shape on the wire', async () => {
    const gw = await gateway();
    const c = await connect(gw, 'alice');
    await subscribe(c, 'news');
    const reply = await api(gw, 'publish', { channel: 'news', data: { text: 'hello', n: 1 } });
    expect(reply).toEqual({ status: 200, json: { result: {} } });
    expect(await nextPub(c, 'publication')).toEqual({ channel: 'news', data: { text: 'hello', n: 1 } });
    const pushLines = c.wire.filter((line) => line.includes('"push"'));
    expect(pushLines.map((line) => JSON.parse(line))).toEqual([{ push: { channel: 'news', pub: { data: { text: 'hello', n: 1 } } } }]);
  });

  it('reaches a subscribed centrifuge SDK client', async () => {
    const gw = await gateway();
    const client = sdk(gw, { token: await token('bob') });
    cleanups.push(() => client.disconnect());
    const sub = client.newSubscription('news');
    const subscribed = next(sub, 'subscribed');
    sub.subscribe();
    client.connect();
    await within(subscribed, 'SDK subscribed');
    const publication = next<{ channel: string; data: unknown }>(sub, 'publication');
    expect((await api(gw, 'publish', { channel: 'news', data: { hi: 'sdk' } })).json).toEqual({ result: {} });
    const ctx = await within(publication, 'SDK publication');
    expect(ctx.channel).toBe('news');
    expect(ctx.data).toEqual({ hi: 'sdk' });
  });

  it('delivers once when the same idempotency_key is published twice', async () => {
    const gw = await gateway();
    const c = await connect(gw, 'alice');
    await subscribe(c, 'news');
    const first = await api(gw, 'publish', { channel: 'news', data: { n: 1 }, idempotency_key: 'k-1' });
    const second = await api(gw, 'publish', { channel: 'news', data: { n: 2 }, idempotency_key: 'k-1' });
    expect(first.json).toEqual({ result: {} });
    expect(second.json).toEqual({ result: {} });
    await api(gw, 'publish', { channel: 'news', data: { marker: true } });
    expect((await nextPub(c, 'first publication')).data).toEqual({ n: 1 });
    // The next thing after the only accepted publication must be the marker: the duplicate never arrived.
    expect((await nextPub(c, 'marker')).data).toEqual({ marker: true });
  });

  it('treats the same idempotency_key on another channel as a different publication', async () => {
    const gw = await gateway();
    const c = await connect(gw, 'alice');
    await subscribe(c, 'news');
    await subscribe(c, 'chat:1');
    await api(gw, 'publish', { channel: 'news', data: { n: 1 }, idempotency_key: 'same' });
    await api(gw, 'publish', { channel: 'chat:1', data: { n: 2 }, idempotency_key: 'same' });
    expect(await nextPub(c, 'news publication')).toEqual({ channel: 'news', data: { n: 1 } });
    expect(await nextPub(c, 'chat publication')).toEqual({ channel: 'chat:1', data: { n: 2 } });
  });

  it('answers error 107 when channel is missing, and 102 for an unknown namespace', async () => {
    const gw = await gateway();
    const missing = await api(gw, 'publish', { data: { x: 1 } });
    expect(missing.status).toBe(200);
    expect(missing.json.error.code).toBe(107);
    expect(missing.json.result).toBeUndefined();
    expect((await api(gw, 'publish', { channel: '', data: {} })).json.error.code).toBe(107);
    expect((await api(gw, 'publish', { channel: 'nope:x', data: {} })).json.error.code).toBe(102);
  });

  it('is accepted on the legacy POST /api with {"method","params"}', async () => {
    const gw = await gateway();
    const c = await connect(gw, 'alice');
    await subscribe(c, 'news');
    const res = await post(gw, '/api', JSON.stringify({ method: 'publish', params: { channel: 'news', data: { legacy: true } } }), {
      'x-api-key': API_KEY,
    });
    expect(res.status).toBe(200);
    expect(JSON.parse(res.text)).toEqual({ result: {} });
    expect(await nextPub(c, 'legacy publication')).toEqual({ channel: 'news', data: { legacy: true } });
  });
});

describe('broadcast', () => {
  it('publishes into every channel and answers one response per channel', async () => {
    const gw = await gateway();
    const c = await connect(gw, 'alice');
    await subscribe(c, 'news');
    await subscribe(c, 'chat:1');
    const reply = await api(gw, 'broadcast', { channels: ['news', 'chat:1'], data: { all: 1 } });
    expect(reply).toEqual({ status: 200, json: { result: { responses: [{ result: {} }, { result: {} }] } } });
    const got = [await nextPub(c, 'first broadcast pub'), await nextPub(c, 'second broadcast pub')];
    expect(got).toEqual(
      expect.arrayContaining([
        { channel: 'news', data: { all: 1 } },
        { channel: 'chat:1', data: { all: 1 } },
      ]),
    );
  });

  it('reports an unknown-namespace channel as a per-entry error 102 and still publishes the rest', async () => {
    const gw = await gateway();
    const c = await connect(gw, 'alice');
    await subscribe(c, 'news');
    const reply = await api(gw, 'broadcast', { channels: ['news', 'nope:x'], data: { b: 2 } });
    expect(reply.status).toBe(200);
    const responses = reply.json.result.responses;
    expect(responses).toHaveLength(2);
    expect(responses[0]).toEqual({ result: {} });
    expect(responses[1].error.code).toBe(102);
    expect(responses[1].result).toBeUndefined();
    expect(await nextPub(c, 'broadcast pub')).toEqual({ channel: 'news', data: { b: 2 } });
  });
});

describe('disconnect', () => {
  it('closes every connection of the user with 3503 by default and leaves other users alone', async () => {
    const gw = await gateway();
    const a1 = await connect(gw, 'u1');
    const a2 = await connect(gw, 'u1');
    const other = await connect(gw, 'u2');
    expect((await api(gw, 'disconnect', { user: 'u1' })).json).toEqual({ result: {} });
    expect(await within(a1.raw.closed, 'close of a1')).toEqual({ code: 3503, reason: 'force disconnect' });
    expect(await within(a2.raw.closed, 'close of a2')).toEqual({ code: 3503, reason: 'force disconnect' });
    const nodes = (await api(gw, 'info', {})).json.result.nodes;
    expect(nodes[0].num_clients).toBe(1);
    await subscribe(other, 'news');
    await api(gw, 'publish', { channel: 'news', data: { still: 'here' } });
    expect((await nextPub(other, 'publication to the spared user')).data).toEqual({ still: 'here' });
  });

  it('uses the given code and reason', async () => {
    const gw = await gateway();
    const c = await connect(gw, 'u1');
    const reply = await api(gw, 'disconnect', { user: 'u1', disconnect: { code: 4501, reason: 'go away' } });
    expect(reply.json).toEqual({ result: {} });
    expect(await within(c.raw.closed, 'close')).toEqual({ code: 4501, reason: 'go away' });
  });

  it('spares the whitelisted client ids', async () => {
    const gw = await gateway();
    const kept = await connect(gw, 'u1');
    const dropped = await connect(gw, 'u1');
    expect((await api(gw, 'disconnect', { user: 'u1', whitelist: [kept.id] })).json).toEqual({ result: {} });
    expect((await within(dropped.raw.closed, 'close of the non-whitelisted client')).code).toBe(3503);
    await subscribe(kept, 'news');
    await api(gw, 'publish', { channel: 'news', data: 'alive' });
    expect((await nextPub(kept, 'publication to the whitelisted client')).data).toBe('alive');
    expect(kept.raw.ws.readyState).toBe(kept.raw.ws.OPEN);
  });
});

describe('info and channels', () => {
  it('info returns one node with its counters, uptime and version', async () => {
    const gw = await gateway();
    const a1 = await connect(gw, 'a');
    const a2 = await connect(gw, 'a');
    const b = await connect(gw, 'b');
    await subscribe(a1, 'news');
    await subscribe(a2, 'news');
    await subscribe(b, 'news');
    await subscribe(b, 'chat:1');
    const reply = await api(gw, 'info', {});
    expect(reply.status).toBe(200);
    const nodes = reply.json.result.nodes;
    expect(nodes).toHaveLength(1);
    expect(nodes[0]).toMatchObject({ num_clients: 3, num_users: 2, num_channels: 2, num_subs: 4, version: packageVersion });
    expect(typeof nodes[0].uid).toBe('string');
    expect(typeof nodes[0].name).toBe('string');
    expect(Number.isInteger(nodes[0].uptime)).toBe(true);
    expect(nodes[0].uptime).toBeGreaterThanOrEqual(0);
  });

  it('channels lists every channel with subscribers, or those matching a glob pattern', async () => {
    const gw = await gateway();
    const a = await connect(gw, 'a');
    const b = await connect(gw, 'b');
    await subscribe(a, 'news');
    await subscribe(a, 'chat:1');
    await subscribe(b, 'chat:1');
    await subscribe(b, 'chat:22');
    const all = await api(gw, 'channels', {});
    expect(all.json).toEqual({ result: { channels: { news: { num_clients: 1 }, 'chat:1': { num_clients: 2 }, 'chat:22': { num_clients: 1 } } } });
    const chat = await api(gw, 'channels', { pattern: 'chat:*' });
    expect(chat.json).toEqual({ result: { channels: { 'chat:1': { num_clients: 2 }, 'chat:22': { num_clients: 1 } } } });
    const single = await api(gw, 'channels', { pattern: 'chat:?' });
    expect(single.json).toEqual({ result: { channels: { 'chat:1': { num_clients: 2 } } } });
    const none = await api(gw, 'channels', { pattern: 'chat.*' });
    expect(none.json).toEqual({ result: { channels: {} } });
  });
});

describe('batch', () => {
  for (const parallel of [false, true]) {
    it(`answers top-level replies without a result wrapper (parallel: ${parallel})`, async () => {
      const gw = await gateway();
      const c = await connect(gw, 'alice');
      await subscribe(c, 'news');
      const reply = await api(gw, 'batch', {
        parallel,
        commands: [{ publish: { channel: 'news', data: { n: 1 } } }, { publish: { channel: 'nope:x', data: {} } }, { publish: { channel: 'news', data: { n: 2 } } }],
      });
      expect(reply.status).toBe(200);
      expect(reply.json.result).toBeUndefined();
      expect(reply.json.replies).toHaveLength(3);
      expect(reply.json.replies[0]).toEqual({ publish: {} });
      expect(reply.json.replies[1]).toEqual({ error: { code: 102, message: expect.any(String) } });
      expect(reply.json.replies[2]).toEqual({ publish: {} });
      const got = [(await nextPub(c, 'first batch pub')).data, (await nextPub(c, 'second batch pub')).data];
      if (parallel) expect(got).toEqual(expect.arrayContaining([{ n: 1 }, { n: 2 }]));
      else expect(got).toEqual([{ n: 1 }, { n: 2 }]);
    });
  }

  it('answers an unknown method inside a batch with a per-entry 104', async () => {
    const gw = await gateway();
    const reply = await api(gw, 'batch', { commands: [{ nosuch: {} }, { info: {} }] });
    expect(reply.json.replies[0].error.code).toBe(104);
    expect(reply.json.replies[1].info.nodes).toHaveLength(1);
  });
});

describe('authentication', () => {
  it('refuses a request without a key with 401 and an empty body', async () => {
    const gw = await gateway();
    const res = await post(gw, '/api/info', '{}');
    expect(res).toEqual({ status: 401, text: '' });
  });

  it('refuses a wrong key with 401', async () => {
    const gw = await gateway();
    expect((await api(gw, 'info', {}, 'not-the-key')).status).toBe(401);
    expect((await post(gw, '/api/info', '{}', { authorization: 'apikey not-the-key' })).status).toBe(401);
  });

  it('accepts Authorization: apikey <key> (scheme case-insensitive)', async () => {
    const gw = await gateway();
    for (const scheme of ['apikey', 'ApiKey']) {
      const res = await post(gw, '/api/info', '{}', { authorization: `${scheme} ${API_KEY}` });
      expect(res.status).toBe(200);
      expect(JSON.parse(res.text).result.nodes).toHaveLength(1);
    }
  });

  it('accepts ?api_key=', async () => {
    const gw = await gateway();
    const res = await post(gw, `/api/info?api_key=${encodeURIComponent(API_KEY)}`, '{}');
    expect(res.status).toBe(200);
    expect(JSON.parse(res.text).result.nodes).toHaveLength(1);
    expect((await post(gw, '/api/info?api_key=wrong', '{}')).status).toBe(401);
  });

  it('serves without a key when api.insecure is on', async () => {
    const gw = await gateway({ ...OPEN, api: { insecure: true } });
    const res = await post(gw, '/api/info', '{}');
    expect(res.status).toBe(200);
    expect(JSON.parse(res.text).result.nodes).toHaveLength(1);
  });
});

describe('bad requests', () => {
  it('answers an unknown method with 404 and error 104', async () => {
    const gw = await gateway();
    const reply = await api(gw, 'no_such_method', {});
    expect(reply.status).toBe(404);
    expect(reply.json.error.code).toBe(104);
  });

  it('answers a malformed JSON body with 400', async () => {
    const gw = await gateway();
    const res = await post(gw, '/api/publish', '{"channel": "news", ', { 'x-api-key': API_KEY });
    expect(res.status).toBe(400);
  });

  it('answers a body above api.maxBodyBytes with 413 (declared length)', async () => {
    const gw = await gateway({ ...OPEN, api: { maxBodyBytes: 100 } });
    const small = await api(gw, 'publish', { channel: 'news', data: 'x'.repeat(20) });
    expect(small.json).toEqual({ result: {} });
    const big = await post(gw, '/api/publish', JSON.stringify({ channel: 'news', data: 'x'.repeat(200) }), { 'x-api-key': API_KEY });
    expect(big.status).toBe(413);
  });

  it('answers a chunked body that grows above api.maxBodyBytes with 413', async () => {
    const gw = await gateway({ ...OPEN, api: { maxBodyBytes: 100 } });
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(`${gw.baseUrl}/api/publish`, { method: 'POST', headers: { 'x-api-key': API_KEY, 'content-type': 'application/json' } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.write(`{"channel":"news","data":"${'x'.repeat(80)}`);
      req.end(`${'y'.repeat(80)}"}`);
    });
    expect(status).toBe(413);
  });
});

describe('health, readiness and metrics', () => {
  it('GET /health is 200', async () => {
    const gw = await gateway();
    const res = await fetch(`${gw.baseUrl}/health`);
    expect(res.status).toBe(200);
    await res.arrayBuffer();
  });

  it('GET /ready is 200, and 503 while the gateway drains', async () => {
    const gw = await gateway();
    expect((await fetch(`${gw.baseUrl}/ready`)).status).toBe(200);
    // Two clients: the drain closes them at 250 ms and 500 ms, so there is a window to look into.
    const first = await connect(gw, 'a');
    const second = await connect(gw, 'b');
    const started = Date.now();
    const drained = gw.gateway.close({ drainWindowMs: 500 });
    const during = await fetch(`${gw.baseUrl}/ready`);
    expect(during.status).toBe(503);
    await during.arrayBuffer();
    expect(first.raw.ws.readyState).toBe(first.raw.ws.OPEN);
    expect(second.raw.ws.readyState).toBe(second.raw.ws.OPEN);
    expect(await within(first.raw.closed, 'first drain close')).toEqual({ code: 3001, reason: 'shutdown' });
    expect(await within(second.raw.closed, 'second drain close')).toEqual({ code: 3001, reason: 'shutdown' });
    await within(drained, 'drain to finish');
    expect(Date.now() - started).toBeGreaterThanOrEqual(400);
    expect((await fetch(`${gw.baseUrl}/ready`)).status).toBe(503);
  });

  it('GET /metrics exposes fleetgate_connections and fleetgate_api_requests_total', async () => {
    const gw = await gateway();
    await connect(gw, 'a');
    await api(gw, 'publish', { channel: 'news', data: {} });
    await api(gw, 'info', {}, 'wrong-key');
    const res = await fetch(`${gw.baseUrl}/metrics`);
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toMatch(/^fleetgate_connections 1$/m);
    expect(text).toMatch(/^fleetgate_api_requests_total\{method="publish",outcome="ok"\} 1$/m);
    expect(text).toMatch(/^fleetgate_api_requests_total\{method="info",outcome="unauthorized"\} 1$/m);
  });
});
