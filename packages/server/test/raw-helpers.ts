import type { IncomingHttpHeaders } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { decodeServerMessages, type ServerMessage } from '@fleetgate/protocol';
import { SignJWT } from 'jose';
import { afterEach } from 'vitest';
import { WebSocket } from 'ws';
import type { ConfigInput } from '../src/config/schema.js';
import { RawClient, SECRET, startGateway, type TestGateway } from './helpers.js';

/** Rejects with a readable message when `promise` does not settle within `ms` (a deadline, not a sleep). */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

/** An HMAC connection token signed with `secret` (default: the test secret) with free-form claims. */
export async function signToken(claims: { sub?: string; exp?: number; [claim: string]: unknown }, secret = SECRET): Promise<string> {
  const { sub, exp, ...rest } = claims;
  const jwt = new SignJWT(rest).setProtectedHeader({ alg: 'HS256' }).setIssuedAt(Math.floor(Date.now() / 1000) - 7200);
  if (sub !== undefined) jwt.setSubject(sub);
  if (exp !== undefined) jwt.setExpirationTime(exp);
  return jwt.sign(new TextEncoder().encode(secret));
}

/** A correctly signed token whose `exp` lies an hour in the past. */
export function expiredToken(user: string): Promise<string> {
  return signToken({ sub: user, exp: Math.floor(Date.now() / 1000) - 3600 });
}

/**
 * Resolves with the code and reason of the close frame the peer sent, as soon as it is read
 * (ws's 'close' event only comes once the TCP connection is gone as well). Uses ws's receiver.
 */
export function closeFrame(ws: WebSocket): Promise<{ code: number; reason: string }> {
  const receiver = (ws as unknown as { _receiver: NodeJS.EventEmitter })._receiver;
  return new Promise((resolve) => receiver.once('conclude', (code: number, reason: Buffer) => resolve({ code, reason: reason.toString() })));
}

/** Records every server message a raw client receives, from now on, independently of next(). */
export function record(client: RawClient): ServerMessage[] {
  const log: ServerMessage[] = [];
  client.ws.on('message', (data: Buffer) => log.push(...decodeServerMessages(data.toString())));
  return log;
}

/** The message as a comparable summary: replies by id and kind, pushes by type and channel. */
export function summary(m: ServerMessage): string {
  switch (m.kind) {
    case 'result':
      return `${m.id}:${m.method}`;
    case 'error':
      return `${m.id}:error ${m.error.code}`;
    case 'push':
      return `push ${m.push.type} ${m.push.channel ?? ''}`;
    case 'ping':
      return 'ping';
  }
}

export type UpgradeOutcome =
  | { readonly kind: 'open'; readonly ws: WebSocket }
  | { readonly kind: 'refused'; readonly status: number; readonly headers: IncomingHttpHeaders };

/** Tries a WebSocket upgrade and reports either the open socket or the HTTP refusal (status + headers). */
export function tryUpgrade(url: string, options: { origin?: string; headers?: Record<string, string> } = {}): Promise<UpgradeOutcome> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { ...(options.origin !== undefined && { origin: options.origin }), ...(options.headers && { headers: options.headers }) });
    ws.once('open', () => resolve({ kind: 'open', ws }));
    ws.once('unexpected-response', (_req, res) => {
      resolve({ kind: 'refused', status: res.statusCode ?? 0, headers: res.headers });
      res.resume();
      ws.terminate();
    });
    ws.on('error', (err) => {
      // After 'unexpected-response' + terminate ws reports an abort; only earlier errors matter.
      if (ws.readyState === WebSocket.CONNECTING) reject(err);
    });
  });
}

/** Reads one counter/gauge sample from GET /metrics, 0 when the series does not exist yet. */
export async function metric(gw: { baseUrl: string }, name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = await (await fetch(`${gw.baseUrl}/metrics`)).text();
  const want = Object.entries(labels);
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{([^}]*)\})?\s+(\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const got = new Map([...(match[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    if (want.every(([k, v]) => got.get(k) === v)) return Number(match[3]);
  }
  return 0;
}

/**
 * Per-test resources, released in afterEach: clients are terminated, then every socket the
 * gateway's HTTP server still holds is destroyed (a server-side socket can stay half-closed
 * for ws's 30 s close timeout, which would hold up server.close), then the gateway stops.
 */
export function useResources() {
  const gateways: { gw: TestGateway; sockets: Set<Socket> }[] = [];
  const sockets: WebSocket[] = [];

  afterEach(async () => {
    for (const ws of sockets.splice(0)) ws.terminate();
    for (const { gw, sockets: serverSockets } of gateways.splice(0)) {
      for (const s of serverSockets) s.destroy();
      await gw.stop();
    }
  });

  return {
    async gateway(config: ConfigInput = {}): Promise<TestGateway> {
      const gw = await startGateway(config);
      const serverSockets = new Set<Socket>();
      gw.server.on('connection', (s: Socket) => {
        serverSockets.add(s);
        s.once('close', () => serverSockets.delete(s));
      });
      gateways.push({ gw, sockets: serverSockets });
      return gw;
    },
    /** A RawClient that is open (handshake done) and terminated after the test. */
    async client(url: string, protocols?: string | string[]): Promise<RawClient> {
      const client = new RawClient(url, protocols);
      sockets.push(client.ws);
      client.ws.on('error', () => {});
      await client.opened;
      return client;
    },
    /** Registers a bare `ws` socket for termination after the test. */
    track(ws: WebSocket): WebSocket {
      sockets.push(ws);
      ws.on('error', () => {});
      return ws;
    },
  };
}

/** Open upgraded (WebSocket) sockets on the server side, tracked from now on. */
export function trackUpgrades(gw: TestGateway): { readonly open: Set<Duplex>; drained(count: number): Promise<void> } {
  const open = new Set<Duplex>();
  const waiters: { count: number; resolve: () => void }[] = [];
  const check = () => {
    for (const w of [...waiters]) {
      if (open.size <= w.count) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  };
  gw.server.on('upgrade', (_req, socket: Duplex) => {
    open.add(socket);
    socket.once('close', () => {
      open.delete(socket);
      check();
    });
  });
  return {
    open,
    drained: (count) =>
      new Promise<void>((resolve) => {
        waiters.push({ count, resolve });
        check();
      }),
  };
}
