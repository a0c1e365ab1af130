// Fleetgate inside an existing Node HTTP app: the app keeps its own routes, Fleetgate
// takes WebSocket upgrades on /connection/websocket, and the app publishes directly.
//
//   npm ci && node examples/embedded.mjs
//   then open the printed URL, or connect any Centrifugo SDK with the printed token.
import { createServer } from 'node:http';
import { createGateway, mintConnectToken } from '@fleetgate/server';

const secret = process.env.FLEETGATE_TOKEN_HMAC_SECRET ?? 'embedded-example-secret';
const port = Number(process.env.PORT ?? 3000);

const server = createServer((req, res) => {
  // The gateway's own HTTP endpoints (/api, /health, /ready, /metrics) are opt-in.
  if (gateway.handleRequest(req, res)) return;
  if (req.url === '/') {
    res.writeHead(200, { 'content-type': 'text/plain' }).end('the app still serves its own routes\n');
    return;
  }
  res.writeHead(404).end();
});

const gateway = await createGateway({
  server,
  config: {
    client: { token: { hmacSecret: secret } },
    channel: { defaults: { allowSubscribeForClient: true } },
  },
});

server.listen(port, () => {
  console.log(`app on http://localhost:${port}, WebSocket on ws://localhost:${port}/connection/websocket`);
});
mintConnectToken(secret, { user: 'alice', ttlSeconds: 3600 }).then((token) => console.log(`token for user alice: ${token}`));

// The app publishes from its own code, no HTTP round trip.
let tick = 0;
const timer = setInterval(() => gateway.publish('clock', { tick: ++tick, at: new Date().toISOString() }), 1000);

process.once('SIGTERM', async () => {
  clearInterval(timer);
  await gateway.close({ drainWindowMs: 1000 });
  server.close();
});
process.once('SIGINT', () => process.emit('SIGTERM'));
