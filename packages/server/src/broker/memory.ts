import type { ClientInfo } from '@fleetgate/protocol';
import { newEpoch } from '../core/epoch.js';
import { MemoryStreams } from '../core/memory-stream.js';
import { MemoryPresence } from '../core/memory-presence.js';
import { TtlCache } from '../core/ttl-cache.js';
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
} from './broker.js';

/** Bound on remembered idempotency keys; past it the oldest are forgotten early. */
const maxIdempotencyKeys = 100_000;
/** How often streams whose position expired are forgotten. */
const sweepIntervalMs = 60_000;

/** Single-process broker: history in memory, delivery synchronous to the node that owns it. */
export class MemoryBroker implements Broker {
  private handler: BrokerHandler | undefined;
  private readonly interest = new Set<string>();
  private readonly published: TtlCache<string, PublishResult>;
  private readonly streams: MemoryStreams<Publication>;
  private readonly members: MemoryPresence;
  private sweeper: NodeJS.Timeout | undefined;
  readonly presence: PresenceStore;

  constructor(options: BrokerOptions) {
    this.published = new TtlCache(options.idempotencyWindowMs, maxIdempotencyKeys, options.clock);
    this.streams = new MemoryStreams(options.clock, newEpoch);
    const members = (this.members = new MemoryPresence(options.clock));
    this.presence = {
      add: async (channel, info, ttlMs) => members.add(channel, info, ttlMs),
      remove: async (channel, info) => members.remove(channel, info.client),
      list: async (channel, limit) => members.list(channel, limit),
      stats: async (channel) => members.stats(channel),
    };
  }

  async start(handler: BrokerHandler): Promise<void> {
    this.handler = handler;
    handler.onHealth(true);
    this.sweeper = setInterval(() => {
      this.streams.sweep();
      this.members.sweep();
    }, sweepIntervalMs).unref();
  }

  async publish(channel: string, publication: Publication, options: PublishOptions): Promise<PublishResult> {
    const key = options.idempotencyKey === undefined ? undefined : `${channel}\u0000${options.idempotencyKey}`;
    const earlier = key === undefined ? undefined : this.published.get(key);
    if (earlier !== undefined) return { ...earlier, deduplicated: true };
    let pub = publication;
    let result: PublishResult = { deduplicated: false };
    if (options.history !== undefined) {
      const position = this.streams.append(channel, options.history, (at) => (pub = { ...publication, offset: at.offset, epoch: at.epoch }));
      result = { deduplicated: false, position };
    }
    if (key !== undefined) this.published.set(key, result);
    if (this.interest.has(channel)) this.handler?.onPublication(channel, pub);
    return result;
  }

  async subscribe(channels: readonly string[]): Promise<void> {
    for (const channel of channels) this.interest.add(channel);
  }

  async unsubscribe(channels: readonly string[]): Promise<void> {
    for (const channel of channels) this.interest.delete(channel);
  }

  async history(channel: string, query: HistoryQuery): Promise<HistoryResult> {
    const { entries, position } = this.streams.read(channel, query, query.metaTtlMs);
    return { publications: entries.map((e) => e.value), position };
  }

  async removeHistory(channel: string): Promise<void> {
    this.streams.remove(channel);
  }

  async publishControl(message: string): Promise<void> {
    this.handler?.onControl(message);
  }

  async publishJoinLeave(channel: string, kind: JoinLeave, info: ClientInfo): Promise<void> {
    if (this.interest.has(channel)) this.handler?.onJoinLeave(channel, kind, info);
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
    this.handler = undefined;
    this.interest.clear();
  }
}
