import { Centrifuge, type Options } from 'centrifuge';
import { WebSocket } from 'ws';
import { decodeServerMessages, type ServerMessage } from '@fleetgate/protocol';
import { mintConnectToken } from '../src/auth/jwt.js';
import type { ConfigInput } from '../src/config/schema.js';
import { type Running, startServer, stopServer } from '../src/cli/serve.js';

export const SECRET = 'test-secret-that-is-long-enough';
export const API_KEY = 'test-api-key';

export interface TestGateway extends Running {
  readonly wsUrl: string;
  readonly baseUrl: string;
  stop(): Promise<void>;
}

/** Starts a gateway on a free loopback port with test credentials merged into `config`. */
export async function startGateway(config: ConfigInput = {}): Promise<TestGateway> {
  const running = await startServer({
    host: '127.0.0.1',
    port: 0,
    logLevel: 'silent',
    ...config,
    client: { ...config.client, token: { hmacSecret: SECRET, ...config.client?.token } },
    api: { key: API_KEY, ...config.api },
  });
  return {
    ...running,
    wsUrl: `ws://127.0.0.1:${running.port}/connection/websocket`,
    baseUrl: `http://127.0.0.1:${running.port}`,
    stop: () => stopServer(running, true),
  };
}

export function token(user: string, ttlSeconds = 3600, extra: { info?: never; channels?: string[] } = {}): Promise<string> {
  return mintConnectToken(SECRET, { user, ttlSeconds, ...extra });
}

export async function api(gw: { baseUrl: string }, method: string, body: unknown, key = API_KEY): Promise<{ status: number; json: any }> {
  const res = await fetch(`${gw.baseUrl}/api/${method}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': key },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : undefined };
}

export function sdk(gw: { wsUrl: string }, options: Partial<Options> = {}): Centrifuge {
  return new Centrifuge(gw.wsUrl, { websocket: WebSocket, ...options });
}

/** Resolves with the arguments of the next `event` emitted by `emitter`. */
export function next<T = any>(emitter: { once(event: string, fn: (arg: T) => void): unknown }, event: string): Promise<T> {
  return new Promise((resolve) => emitter.once(event, resolve));
}

/** A raw protocol client: send JSON lines, read decoded server messages one by one. */
export class RawClient {
  readonly ws: WebSocket;
  private readonly inbox: ServerMessage[] = [];
  private waiting: ((m: ServerMessage) => void) | undefined;
  readonly opened: Promise<void>;
  readonly closed: Promise<{ code: number; reason: string }>;

  constructor(url: string, protocols?: string | string[]) {
    this.ws = new WebSocket(url, protocols);
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('error', reject);
    });
    this.closed = new Promise((resolve) => this.ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
    this.ws.on('message', (data: Buffer) => {
      for (const message of decodeServerMessages(data.toString())) {
        const waiter = this.waiting;
        if (waiter) {
          this.waiting = undefined;
          waiter(message);
        } else {
          this.inbox.push(message);
        }
      }
    });
  }

  static async open(url: string, protocols?: string | string[]): Promise<RawClient> {
    const client = new RawClient(url, protocols);
    await client.opened;
    return client;
  }

  send(...messages: unknown[]): void {
    this.ws.send(messages.map((m) => (typeof m === 'string' ? m : JSON.stringify(m))).join('\n'));
  }

  next(): Promise<ServerMessage> {
    const queued = this.inbox.shift();
    if (queued) return Promise.resolve(queued);
    return new Promise((resolve) => (this.waiting = resolve));
  }

  /** Next message that is not a ping. */
  async nextNonPing(): Promise<ServerMessage> {
    for (;;) {
      const m = await this.next();
      if (m.kind !== 'ping') return m;
    }
  }

  async connect(tokenValue?: string): Promise<ServerMessage> {
    this.send({ id: 1, connect: tokenValue === undefined ? {} : { token: tokenValue } });
    return this.nextNonPing();
  }

  close(): void {
    this.ws.close();
  }
}
