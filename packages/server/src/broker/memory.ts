import { TtlCache } from '../core/ttl-cache.js';
import type { Broker, BrokerHandler, BrokerOptions, Publication, PublishOptions, PublishResult } from './broker.js';

/** Bound on remembered idempotency keys; past it the oldest are forgotten early. */
const maxIdempotencyKeys = 100_000;

/** Single-process broker: delivers synchronously to the node that owns it. */
export class MemoryBroker implements Broker {
  private handler: BrokerHandler | undefined;
  private readonly interest = new Set<string>();
  private readonly published: TtlCache<string, true>;

  constructor(options: BrokerOptions) {
    this.published = new TtlCache(options.idempotencyWindowMs, maxIdempotencyKeys, options.clock);
  }

  async start(handler: BrokerHandler): Promise<void> {
    this.handler = handler;
  }

  async publish(channel: string, publication: Publication, options: PublishOptions): Promise<PublishResult> {
    if (options.idempotencyKey !== undefined) {
      const key = `${channel}\u0000${options.idempotencyKey}`;
      if (this.published.get(key)) return { deduplicated: true };
      this.published.set(key, true);
    }
    if (this.interest.has(channel)) this.handler?.onPublication(channel, publication);
    return { deduplicated: false };
  }

  async subscribe(channels: readonly string[]): Promise<void> {
    for (const channel of channels) this.interest.add(channel);
  }

  async unsubscribe(channels: readonly string[]): Promise<void> {
    for (const channel of channels) this.interest.delete(channel);
  }

  async close(): Promise<void> {
    this.handler = undefined;
    this.interest.clear();
  }
}
