import type { JsonValue, ServerMessage } from '@fleetgate/protocol';
import { decodeServerMessages } from '@fleetgate/protocol';
import { Redis } from 'ioredis';
import { mintConnectToken, mintSubscriptionToken } from '../src/auth/jwt.js';
import { RawClient, SECRET } from './helpers.js';

/**
 * Helpers for the presence tests: a raw protocol client that keeps every message it
 * received (decoded and as the JSON the server wrote) and waits for messages by content,
 * so that pushes arriving between replies are never lost.
 */

/** Rejects with `label` if `promise` has not settled within `ms` (a hang guard, never a synchronisation point). */
export function guard<T>(promise: Promise<T>, label: string, ms = 10_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${label}`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

/** A connection token with `info` (conn_info) and optional server-side channels. */
export function tokenWithInfo(user: string, info?: JsonValue, channels?: string[]): Promise<string> {
  return mintConnectToken(SECRET, { user, ttlSeconds: 3600, ...(info !== undefined && { info }), ...(channels !== undefined && { channels }) });
}

/** A subscription token for `channel` with `info` (chan_info). */
export function subscriptionToken(user: string, channel: string, info?: JsonValue): Promise<string> {
  return mintSubscriptionToken(SECRET, channel, { user, ttlSeconds: 3600, ...(info !== undefined && { info }) });
}

type Match = (m: ServerMessage) => boolean;

export class Peer {
  /** Every message received, decoded, in order. */
  readonly messages: ServerMessage[] = [];
  /** Every message received as the JSON object the server sent, in order. */
  readonly wire: Record<string, unknown>[] = [];
  /** The client id from the connect reply. */
  id = '';
  private nextId = 1;
  private waiters: { match: Match; resolve: (m: ServerMessage) => void }[] = [];

  constructor(readonly raw: RawClient) {
    raw.ws.on('message', (data: Buffer) => {
      const text = data.toString();
      for (const line of text.split('\n')) if (line.trim() !== '') this.wire.push(JSON.parse(line) as Record<string, unknown>);
      for (const message of decodeServerMessages(text)) {
        this.messages.push(message);
        this.waiters = this.waiters.filter((w) => {
          if (!w.match(message)) return true;
          w.resolve(message);
          return false;
        });
      }
    });
  }

  static async open(url: string): Promise<Peer> {
    const raw = await RawClient.open(url);
    raw.ws.on('error', () => {});
    return new Peer(raw);
  }

  /** The first message (already received or to come) that matches. */
  waitFor(match: Match, label: string): Promise<ServerMessage> {
    return guard(this.waitForever(match), label);
  }

  /** Like waitFor, without a deadline (for races against other events). */
  waitForever(match: Match): Promise<ServerMessage> {
    const found = this.messages.find(match);
    if (found !== undefined) return Promise.resolve(found);
    return new Promise<ServerMessage>((resolve) => this.waiters.push({ match, resolve }));
  }

  /** Sends a command and resolves with its reply (a result or an error). */
  async call(method: string, params: Record<string, unknown>): Promise<ServerMessage> {
    const id = this.nextId++;
    this.raw.send({ id, [method]: params });
    return this.waitFor((m) => (m.kind === 'result' || m.kind === 'error') && m.id === id, `reply ${id} (${method})`);
  }

  /** The reply of `call` as the server wrote it. */
  wireReply(reply: ServerMessage): Record<string, unknown> | undefined {
    if (reply.kind !== 'result' && reply.kind !== 'error') return undefined;
    return this.wire.find((w) => w['id'] === reply.id);
  }

  /** Connects; fails unless the reply is a connect result. */
  async connect(jwt: string): Promise<ServerMessage & { kind: 'result' }> {
    const reply = await this.call('connect', { token: jwt });
    if (reply.kind !== 'result' || reply.method !== 'connect') throw new Error(`connect failed: ${JSON.stringify(reply)}`);
    this.id = (reply.result as { client?: string }).client ?? '';
    return reply;
  }

  /** Subscribes; fails unless the reply is a subscribe result. */
  async subscribe(channel: string, params: Record<string, unknown> = {}): Promise<void> {
    const reply = await this.call('subscribe', { channel, ...params });
    if (reply.kind !== 'result') throw new Error(`subscribe to ${channel} failed: ${JSON.stringify(reply)}`);
  }

  /** Pushes of `type` in `channel` received so far. */
  pushes(type: string, channel?: string): (ServerMessage & { kind: 'push' })[] {
    return this.messages.filter(
      (m): m is ServerMessage & { kind: 'push' } => m.kind === 'push' && m.push.type === type && (channel === undefined || m.push.channel === channel),
    );
  }

  /** Waits for a publication push in `channel` whose data satisfies `match`. */
  publication(channel: string, match: (data: any) => boolean, label: string): Promise<ServerMessage> {
    return this.waitFor((m) => m.kind === 'push' && m.push.type === 'pub' && m.push.channel === channel && match(m.push.body.data), label);
  }

  close(): void {
    this.raw.close();
  }
}

/** Calls `Date.now()` until it is past `ms` (distinct millisecond timestamps, not a wait for an event). */
export async function pastMillisecond(ms: number): Promise<void> {
  while (Date.now() <= ms) await new Promise((resolve) => setImmediate(resolve));
}

/** Sends connect and resolves with 'connected' on a connect result, or the close code if the socket closes first. */
export function connectOutcome(peer: Peer, jwt: string): Promise<'connected' | number> {
  return new Promise((resolve) => {
    peer.raw.closed.then(({ code }) => resolve(code), () => {});
    peer.waitForever((m) => m.kind === 'result' && m.method === 'connect').then((m) => {
      peer.id = m.kind === 'result' ? ((m.result as { client?: string }).client ?? '') : '';
      resolve('connected');
    }, () => {});
    peer.raw.send({ id: 1_000_000, connect: { token: jwt } });
  });
}

/** The pid of the redis-server at `url` (one the test started itself), from INFO. */
export async function redisPid(url: string): Promise<number> {
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await client.connect();
  try {
    const pid = Number(/process_id:(\d+)/.exec(await client.info('server'))?.[1]);
    if (!Number.isInteger(pid) || pid <= 0) throw new Error('no process_id in INFO server');
    return pid;
  } finally {
    client.disconnect();
  }
}
