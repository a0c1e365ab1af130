import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Centrifuge } from 'centrifuge';
import { WebSocket } from 'ws';
import { mintConnectToken } from '../packages/server/src/auth/jwt.js';
import { GatewayProcess } from '../packages/server/test/process-helpers.js';

export const SECRET = 'fleet-test-secret-long-enough-for-hs256';
export const API_KEY = 'fleet-test-api-key';

/** A gateway process of a fleet, with its addresses. */
export interface FleetNode {
  readonly name: string;
  readonly process: GatewayProcess;
  readonly port: number;
  readonly wsUrl: string;
  readonly baseUrl: string;
}

/** Starts and stops the gateway processes of a test fleet sharing one broker. */
export class TestFleet {
  readonly nodes: FleetNode[] = [];
  private readonly dir = mkdtempSync(join(tmpdir(), 'fleetgate-fleet-'));

  constructor(private readonly broker: string) {}

  async start(name: string, extra: Record<string, unknown> = {}): Promise<FleetNode> {
    const file = join(this.dir, `${name}.json`);
    writeFileSync(
      file,
      JSON.stringify({
        port: 0,
        host: '127.0.0.1',
        name,
        broker: this.broker,
        client: { token: { hmacSecret: SECRET } },
        api: { key: API_KEY },
        fleet: { announceInterval: '200ms', nodeTtl: '1500ms' },
        shutdown: { drainWindow: '0s' },
        channel: {
          defaults: { allowSubscribeForClient: true },
          namespaces: { chat: { historySize: 500, historyTtl: '300s', forceRecovery: true, allowPublishForSubscriber: true } },
        },
        ...extra,
      }),
    );
    const process = new GatewayProcess(['--config', file], {});
    const port = await process.port();
    const node = { name, process, port, wsUrl: `ws://127.0.0.1:${port}/connection/websocket`, baseUrl: `http://127.0.0.1:${port}` };
    this.nodes.push(node);
    return node;
  }

  async stop(): Promise<void> {
    for (const node of this.nodes.splice(0)) {
      if (node.process.child.exitCode === null && node.process.child.signalCode === null) {
        node.process.child.kill('SIGKILL');
        await node.process.exited;
      }
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export async function api(node: { baseUrl: string }, method: string, body: unknown): Promise<any> {
  const res = await fetch(`${node.baseUrl}/api/${method}`, { method: 'POST', headers: { 'x-api-key': API_KEY }, body: JSON.stringify(body) });
  return res.json();
}

export const token = (user: string) => mintConnectToken(SECRET, { user, ttlSeconds: 3600 });

/**
 * A centrifuge SDK client whose socket goes wherever `target()` says at each (re)connect,
 * so a test can move it from one node to another.
 */
export function movableClient(target: () => string, jwt: string): Centrifuge {
  class Routed extends WebSocket {
    constructor(_url: string, protocols?: string | string[]) {
      super(target(), protocols);
    }
  }
  return new Centrifuge('ws://placeholder/connection/websocket', { websocket: Routed, token: jwt, minReconnectDelay: 50, maxReconnectDelay: 300 });
}

/** Polls `check()` (state only another process holds, such as a fleet's registry) until it holds; fails after `ms`. */
export async function eventually(check: () => boolean | Promise<boolean>, label: string, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${label}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
