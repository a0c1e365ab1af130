import { EventSource } from 'eventsource';
import { afterEach, expect, it } from 'vitest';
import { api, startGateway, type TestGateway, token } from './helpers.js';

const config = {
  channel: { namespaces: { news: { historySize: 100, historyTtl: '300s', forceRecovery: true } } },
};

let gw: TestGateway | undefined;
const sources: EventSource[] = [];
afterEach(async () => {
  for (const source of sources.splice(0)) source.close();
  await gw?.stop();
  gw = undefined;
});

/** Collects parsed SSE messages and lets a test wait for the next ones. */
function collect(source: EventSource) {
  const messages: Record<string, any>[] = [];
  const waiters: (() => void)[] = [];
  source.onmessage = (event) => {
    messages.push(JSON.parse(event.data) as Record<string, any>);
    for (const wake of waiters.splice(0)) wake();
  };
  const until = async (predicate: (all: Record<string, any>[]) => boolean) => {
    while (!predicate(messages)) await new Promise<void>((resolve) => waiters.push(resolve));
  };
  return { messages, until };
}

const pubsOf = (messages: Record<string, any>[]) => messages.filter((m) => m['pub'] !== undefined).map((m) => m['pub'].data.n as number);

it('streams a channel to a plain EventSource, which resumes from its position after a reconnect', async () => {
  gw = await startGateway(config);
  const jwt = await token('reader', 3600, { channels: ['news:eu'] });
  await api(gw, 'publish', { channel: 'news:eu', data: { n: 0 } });
  const url = `${gw.baseUrl}/connection/uni_sse?cf_connect=${encodeURIComponent(JSON.stringify({ token: jwt }))}`;
  const source = new EventSource(url);
  sources.push(source);
  const stream = collect(source);

  await stream.until((all) => all.some((m) => m['connect'] !== undefined));
  const connect = stream.messages[0]?.['connect'];
  expect(connect.subs['news:eu']).toMatchObject({ recoverable: true, positioned: true, offset: 1 });
  expect(connect.pong).toBeUndefined();
  for (const n of [1, 2]) await api(gw, 'publish', { channel: 'news:eu', data: { n } });
  await stream.until((all) => pubsOf(all).length === 2);
  expect(pubsOf(stream.messages)).toEqual([1, 2]);

  // The server ends the stream; publications go on while the client is away.
  const reconnected = new Promise<void>((resolve) => {
    source.onerror = () => {
      source.onerror = null;
      resolve();
    };
  });
  await gw.gateway.disconnect({ user: 'reader' }, 3011);
  await stream.until((all) => all.some((m) => m['disconnect']?.code === 3011));
  await reconnected;
  for (const n of [3, 4, 5]) await api(gw, 'publish', { channel: 'news:eu', data: { n } });

  // The EventSource reconnects by itself with Last-Event-ID: the missed ones come in the connect.
  await stream.until((all) => all.filter((m) => m['connect'] !== undefined).length === 2);
  const resumed = stream.messages.filter((m) => m['connect'] !== undefined)[1]?.['connect'].subs['news:eu'];
  expect(resumed).toMatchObject({ recovered: true, was_recovering: true, offset: 3 });
  expect(resumed.publications.map((p: any) => [p.offset, p.data.n])).toEqual([
    [4, 3],
    [5, 4],
    [6, 5],
  ]);
  await api(gw, 'publish', { channel: 'news:eu', data: { n: 6 } });
  await stream.until((all) => pubsOf(all).includes(6));
  expect(pubsOf(stream.messages)).toEqual([1, 2, 6]);
}, 20_000);

it('streams newline-delimited JSON over uni_http_stream and ends with a disconnect', async () => {
  gw = await startGateway(config);
  const res = await fetch(`${gw.baseUrl}/connection/uni_http_stream`, {
    method: 'POST',
    body: JSON.stringify({ token: await token('u', 3600, { channels: ['news:x'] }) }),
  });
  expect(res.status).toBe(200);
  const reader = res.body!.getReader();
  let buffered = '';
  const lines: Record<string, any>[] = [];
  const readUntil = async (predicate: () => boolean) => {
    while (!predicate()) {
      const { value, done } = await reader.read();
      if (done) return;
      buffered += Buffer.from(value).toString('utf8');
      const parts = buffered.split('\n');
      buffered = parts.pop() ?? '';
      for (const part of parts) if (part !== '') lines.push(JSON.parse(part) as Record<string, any>);
    }
  };
  await readUntil(() => lines.length >= 1);
  expect(lines[0]?.['connect'].subs['news:x'].positioned).toBe(true);
  await api(gw, 'publish', { channel: 'news:x', data: { n: 1 } });
  await readUntil(() => lines.some((m) => m['pub'] !== undefined));
  expect(lines.find((m) => m['pub'])).toEqual({ channel: 'news:x', pub: { data: { n: 1 }, offset: 1 } });
  await gw.gateway.disconnect({ user: 'u' });
  await readUntil(() => false);
  expect(lines.at(-1)).toEqual({ disconnect: { code: 3503, reason: 'force disconnect' } });
});

it('turns a connect error into a disconnect message and ends the stream', async () => {
  gw = await startGateway(config);
  const res = await fetch(`${gw.baseUrl}/connection/uni_http_stream`, { method: 'POST', body: JSON.stringify({ token: 'not-a-jwt' }) });
  expect((await res.text()).trim()).toBe('{"disconnect":{"code":3500,"reason":"invalid token"}}');
});

it('answers preflight, refuses wrong methods and bad requests, and applies admission', async () => {
  gw = await startGateway({ ...config, admission: { maxConnections: 1 } });
  expect((await fetch(`${gw.baseUrl}/connection/uni_sse`, { method: 'OPTIONS' })).status).toBe(204);
  expect((await fetch(`${gw.baseUrl}/connection/uni_http_stream`)).status).toBe(405);
  expect((await fetch(`${gw.baseUrl}/connection/uni_http_stream`, { method: 'POST', body: '[1]' })).status).toBe(400);
  const first = new EventSource(`${gw.baseUrl}/connection/uni_sse?cf_connect=${encodeURIComponent(JSON.stringify({ token: await token('a') }))}`);
  sources.push(first);
  await collect(first).until((all) => all.length > 0);
  const refused = await fetch(`${gw.baseUrl}/connection/uni_sse`);
  expect(refused.status).toBe(503);
  expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
});
