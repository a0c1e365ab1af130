import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, expect, it } from 'vitest';
import { createGateway, type Gateway } from '../src/index.js';
import { next, SECRET, sdk, token } from './helpers.js';

let server: Server | undefined;
let gateway: Gateway | undefined;

afterEach(async () => {
  await gateway?.close({ immediate: true });
  await new Promise((resolve) => server?.close(resolve));
  server?.closeAllConnections();
});

async function listen(s: Server): Promise<number> {
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  return (s.address() as AddressInfo).port;
}

it('mounts on an existing http.Server: the app keeps its routes and publishes directly', async () => {
  server = createServer((req, res) => {
    if (gateway?.handleRequest(req, res)) return;
    res.writeHead(req.url === '/hello' ? 200 : 404).end(req.url === '/hello' ? 'app' : '');
  });
  gateway = await createGateway({
    server,
    path: '/rt',
    config: { logLevel: 'silent', client: { token: { hmacSecret: SECRET } }, channel: { defaults: { allowSubscribeForClient: true } } },
  });
  const port = await listen(server);

  expect(await (await fetch(`http://127.0.0.1:${port}/hello`)).text()).toBe('app');
  expect((await fetch(`http://127.0.0.1:${port}/health`)).status).toBe(200);

  const client = sdk({ wsUrl: `ws://127.0.0.1:${port}/rt` }, { token: await token('alice') });
  const sub = client.newSubscription('clock');
  const subscribed = next(sub, 'subscribed');
  sub.subscribe();
  client.connect();
  await subscribed;
  const publication = next<{ data: unknown }>(sub, 'publication');
  await gateway.publish('clock', { tick: 1 });
  expect((await publication).data).toEqual({ tick: 1 });

  const disconnectedUsers: string[] = [];
  gateway.on('disconnect', (e) => disconnectedUsers.push(e.user));
  const disconnected = next<{ code: number }>(client, 'disconnected');
  await gateway.disconnect({ user: 'alice' });
  expect((await disconnected).code).toBe(3503);
  expect(disconnectedUsers).toEqual(['alice']);
});

it('leaves upgrades on other paths to other listeners', async () => {
  server = createServer();
  gateway = await createGateway({ server, config: { logLevel: 'silent', client: { insecure: true } } });
  const seen: string[] = [];
  server.on('upgrade', (req, socket) => {
    if (req.url === '/other') {
      seen.push(req.url);
      socket.destroy();
    }
  });
  const port = await listen(server);
  const { WebSocket } = await import('ws');
  const other = new WebSocket(`ws://127.0.0.1:${port}/other`);
  await new Promise((resolve) => other.once('error', resolve));
  expect(seen).toEqual(['/other']);
});
