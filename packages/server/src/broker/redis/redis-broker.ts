import type { ClientInfo } from '@fleetgate/protocol';
import { Redis } from 'ioredis';
import { newEpoch } from '../../core/epoch.js';
import { HashRing } from '../../core/hash-ring.js';
import type {
  Broker,
  BrokerHandler,
  BrokerOptions,
  HistoryQuery,
  HistoryResult,
  JoinLeave,
  PresenceStore,
  Publication,
  PublishOptions,
  PublishResult,
} from '../broker.js';
import { BrokerError } from '../broker.js';
import { decodeBody, decodeMessage, decodePosition, encodeBody } from '../envelope.js';
import { InterestBatcher } from '../interest.js';
import { definePresenceScripts, RedisPresence } from './presence.js';
import { historyScript, publishScript } from './scripts.js';

interface Shard {
  readonly url: string;
  /** Commands: publish and history scripts. No offline queue: while Redis is away, publishing fails at once. */
  readonly cmd: Redis;
  /** Pub/sub: channels with local subscribers, and the control channel on the first shard. */
  readonly sub: Redis;
  readonly interest: InterestBatcher;
  up: boolean;
}

type ScriptedRedis = Redis & {
  fgPublish(stream: string, meta: string, result: string, ...args: (string | number)[]): Promise<[string, number]>;
  fgHistory(stream: string, meta: string, ...args: (string | number)[]): Promise<(string | number)[]>;
};

/**
 * Redis broker: per channel a stream (history), a meta hash (offset, epoch) and a
 * pub/sub channel, all touched by one Lua script per publish. Several Redis servers
 * (`redis://a,redis://b`) share the channels by a consistent-hash ring.
 */
export class RedisBroker implements Broker {
  private readonly shards: Shard[];
  private readonly ring: HashRing<Shard>;
  private readonly prefix: string;
  private handler: BrokerHandler | undefined;
  private closing = false;
  readonly presence: PresenceStore;

  constructor(
    urls: readonly string[],
    private readonly options: BrokerOptions,
    prefix = 'fleetgate',
  ) {
    this.prefix = prefix;
    this.shards = urls.map((url) => this.createShard(url));
    this.ring = new HashRing(this.shards.map((shard) => ({ id: shard.url, value: shard })));
    this.presence = new RedisPresence(
      (channel) => this.ring.get(channel).cmd,
      (kind, channel) => this.key(kind, channel),
      (run) => this.call(run),
    );
  }

  private createShard(url: string): Shard {
    const retryStrategy = (attempt: number) => Math.min(50 * 2 ** Math.min(attempt, 6), 2000);
    // Commands issued in one tick go out in one write (auto-pipelining): a fan-in of API
    // and client publishes costs a syscall per batch, not per publish.
    const cmd = new Redis(url, { enableOfflineQueue: false, enableAutoPipelining: true, maxRetriesPerRequest: 1, retryStrategy, lazyConnect: true });
    cmd.defineCommand('fgPublish', { numberOfKeys: 3, lua: publishScript });
    cmd.defineCommand('fgHistory', { numberOfKeys: 2, lua: historyScript });
    definePresenceScripts(cmd);
    const sub = new Redis(url, { retryStrategy, lazyConnect: true, maxRetriesPerRequest: null });
    const shard: Shard = {
      url,
      cmd,
      sub,
      up: false,
      interest: new InterestBatcher(async (op, channels) => {
        const keys = channels.map((c) => this.key('c', c));
        if (op === 'unsubscribe') {
          // While Redis is away this waits in the offline queue and runs after the resubscribe.
          await sub.unsubscribe(...keys);
          return;
        }
        // A subscribe must not hang while Redis is away: the client retries with backoff.
        if (!shard.up) throw new BrokerError(`Redis ${url} is unreachable`);
        await sub.subscribe(...keys);
      }),
    };
    sub.on('message', (channel: string, message: string) => this.onMessage(channel, message));
    let everUp = false;
    const health = () => {
      const up = cmd.status === 'ready' && sub.status === 'ready';
      if (shard.up === up) return;
      shard.up = up;
      this.reportHealth();
      if (!up) return;
      if (everUp) this.resyncAfterReconnect(sub);
      everUp = true;
    };
    for (const client of [cmd, sub]) for (const event of ['ready', 'close', 'end'] as const) client.on(event, health);
    for (const client of [cmd, sub]) client.on('error', () => undefined); // reconnects are handled; health tells
    return shard;
  }

  /**
   * ioredis resubscribes on reconnect; what was published meanwhile was missed. A PING on
   * the subscriber connection answers after the resubscribe, so the node then compares
   * positions with subscriptions already live again.
   */
  private resyncAfterReconnect(sub: Redis): void {
    sub.ping().then(
      () => this.handler?.onResync(),
      () => undefined, // lost again: the next reconnect resyncs
    );
  }

  private reportHealth(): void {
    if (!this.closing) this.handler?.onHealth(this.shards.every((s) => s.up));
  }

  async start(handler: BrokerHandler): Promise<void> {
    this.handler = handler;
    try {
      await Promise.all(this.shards.flatMap((s) => [s.cmd.connect(), s.sub.connect()]));
      await (this.shards[0] as Shard).sub.subscribe(this.key('control'));
    } catch (cause) {
      throw new BrokerError(`cannot reach Redis: ${(cause as Error).message}`, { cause });
    }
  }

  private key(kind: string, channel?: string): string {
    return channel === undefined ? `${this.prefix}.${kind}` : `${this.prefix}.${kind}.${channel}`;
  }

  private onMessage(redisChannel: string, message: string): void {
    if (redisChannel === this.key('control')) return this.handler?.onControl(message);
    const channel = redisChannel.slice(this.prefix.length + 3);
    // Join/leave travel on the channel too: `j|info` or `l|info` (a position is digits or empty).
    if (message.startsWith('j|') || message.startsWith('l|')) {
      return this.handler?.onJoinLeave(channel, message[0] === 'j' ? 'join' : 'leave', JSON.parse(message.slice(2)) as ClientInfo);
    }
    this.handler?.onPublication(channel, decodeMessage(message));
  }

  private shardOf(channel: string): ScriptedRedis {
    return this.ring.get(channel).cmd as ScriptedRedis;
  }

  async publish(channel: string, publication: Publication, options: PublishOptions): Promise<PublishResult> {
    const history = options.history;
    const key = options.idempotencyKey;
    const [position, deduplicated] = await this.call(() =>
      this.shardOf(channel).fgPublish(
        this.key('s', channel),
        this.key('m', channel),
        this.key('r', `${channel}\u0000${key ?? ''}`),
        encodeBody(publication),
        history?.size ?? 0,
        history?.ttlMs ?? 0,
        this.key('c', channel),
        history?.metaTtlMs ?? 0,
        newEpoch(),
        key === undefined ? 0 : this.options.idempotencyWindowMs,
      ),
    );
    const at = decodePosition(position);
    return { deduplicated: deduplicated === 1, ...(at !== undefined && { position: at }) };
  }

  subscribe(channels: readonly string[]): Promise<void> {
    return this.byShard(channels, (shard, group) => shard.interest.request('subscribe', group));
  }

  unsubscribe(channels: readonly string[]): Promise<void> {
    return this.byShard(channels, (shard, group) => shard.interest.request('unsubscribe', group));
  }

  async history(channel: string, query: HistoryQuery): Promise<HistoryResult> {
    const reply = await this.call(() =>
      this.shardOf(channel).fgHistory(
        this.key('s', channel),
        this.key('m', channel),
        query.sinceOffset === undefined ? '' : query.sinceOffset,
        query.limit,
        query.reverse ? '1' : '0',
        query.metaTtlMs,
        newEpoch(),
      ),
    );
    const [top, epoch] = reply as [number, string];
    const publications: Publication[] = [];
    for (let i = 2; i < reply.length; i += 2) {
      const id = String(reply[i]);
      publications.push(decodeBody(String(reply[i + 1]), { offset: Number(id.slice(0, id.indexOf('-'))), epoch }));
    }
    return { publications, position: { offset: Number(top), epoch } };
  }

  async removeHistory(channel: string): Promise<void> {
    await this.call(() => this.ring.get(channel).cmd.del(this.key('s', channel), this.key('m', channel)));
  }

  async publishJoinLeave(channel: string, kind: JoinLeave, info: ClientInfo): Promise<void> {
    await this.call(() => this.ring.get(channel).cmd.publish(this.key('c', channel), `${kind === 'join' ? 'j' : 'l'}|${JSON.stringify(info)}`));
  }

  async publishControl(message: string): Promise<void> {
    await this.call(() => (this.shards[0] as Shard).cmd.publish(this.key('control'), message));
  }

  async close(): Promise<void> {
    this.closing = true;
    this.handler = undefined;
    await Promise.all(this.shards.flatMap((s) => [s.cmd.quit().catch(() => s.cmd.disconnect()), s.sub.quit().catch(() => s.sub.disconnect())]));
  }

  private async byShard(channels: readonly string[], act: (shard: Shard, group: string[]) => Promise<void>): Promise<void> {
    const groups = new Map<Shard, string[]>();
    for (const channel of channels) {
      const shard = this.ring.get(channel);
      const group = groups.get(shard);
      if (group === undefined) groups.set(shard, [channel]);
      else group.push(channel);
    }
    await Promise.all([...groups].map(([shard, group]) => act(shard, group)));
  }

  /** Runs a command; a failure (Redis away) becomes a BrokerError, never a silent loss. */
  private async call<T>(run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (cause) {
      throw new BrokerError(`Redis: ${(cause as Error).message}`, { cause });
    }
  }
}
