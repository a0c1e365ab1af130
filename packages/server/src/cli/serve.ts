import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mintConnectToken } from '../auth/jwt.js';
import type { ConfigInput } from '../config/schema.js';
import { Gateway } from '../gateway.js';

/** Demo defaults: generated credentials and open channels, unless the config sets them. */
export function demoConfig(input: ConfigInput): ConfigInput {
  const secret = input.client?.token?.hmacSecret ?? randomBytes(24).toString('base64url');
  return {
    ...input,
    demo: true,
    client: { ...input.client, token: { ...input.client?.token, hmacSecret: secret } },
    api: { ...input.api, key: input.api?.key ?? randomBytes(18).toString('base64url') },
    channel: {
      ...input.channel,
      defaults: { allowSubscribeForClient: true, allowPublishForSubscriber: true, ...input.channel?.defaults },
    },
  };
}

export interface Running {
  readonly gateway: Gateway;
  readonly server: Server;
  readonly port: number;
}

export async function startServer(config: ConfigInput): Promise<Running> {
  const server = createServer();
  const gateway = await Gateway.create({ config, server, serveHttp: true });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(gateway.config.port, gateway.config.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  gateway.logger.info({ port, node: gateway.node.name, broker: gateway.config.broker }, 'fleetgate listening');
  return { gateway, server, port };
}

export async function stopServer({ gateway, server }: Running, immediate = false): Promise<void> {
  await gateway.close({ immediate });
  await new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

export async function demoBanner({ gateway, port }: Running): Promise<string> {
  const secret = gateway.config.client.token.hmacSecret ?? '';
  const token = await mintConnectToken(secret, { user: 'demo', ttlSeconds: 24 * 3600 });
  const base = `http://localhost:${port}`;
  return [
    '',
    `Fleetgate demo on ${base}  (memory broker, generated credentials)`,
    '',
    `  Demo page:   ${base}/demo#token=${token}`,
    `  Token:       ${token}   (user "demo", 24 h)`,
    `  API key:     ${gateway.config.api.key ?? ''}`,
    `  HMAC secret: ${secret}`,
    '',
    '  Publish to the page from your backend:',
    `  curl -s -X POST ${base}/api/publish -H 'X-API-Key: ${gateway.config.api.key ?? ''}' \\`,
    `       -d '{"channel":"news","data":{"text":"hello from curl"}}'`,
    '',
  ].join('\n');
}
