import type { ClientInfo } from '@fleetgate/protocol';
import type { Clock } from '../core/clock.js';

/**
 * A publication as brokers carry it. `data` is the raw JSON text of the payload: it is
 * serialized once where it enters the system and embedded verbatim in every push.
 */
export interface Publication {
  readonly data: string;
  /** When the publishing node accepted it (ms since the epoch), for delivery latency. */
  readonly publishedAt: number;
  readonly info?: ClientInfo;
  readonly tags?: Readonly<Record<string, string>>;
}

export interface PublishOptions {
  /** Publishing twice with the same key within the broker's idempotency window publishes once. */
  readonly idempotencyKey?: string;
}

export interface PublishResult {
  /** True when an earlier publish with the same idempotency key answered for this one. */
  readonly deduplicated: boolean;
}

/** What a broker tells the node it serves. */
export interface BrokerHandler {
  onPublication(channel: string, publication: Publication): void;
}

/**
 * Moves publications between the nodes of a fleet. A node subscribes to a channel only
 * while it has local subscribers (interest management), so `subscribe`/`unsubscribe`
 * are called on the first and after the last local subscriber.
 * Implementations: memory (single node). Redis and NATS implement the same contract.
 */
export interface Broker {
  start(handler: BrokerHandler): Promise<void>;
  publish(channel: string, publication: Publication, options: PublishOptions): Promise<PublishResult>;
  subscribe(channels: readonly string[]): Promise<void>;
  unsubscribe(channels: readonly string[]): Promise<void>;
  close(): Promise<void>;
}

export interface BrokerOptions {
  readonly clock: Clock;
  readonly idempotencyWindowMs: number;
}

export class BrokerError extends Error {
  override readonly name = 'BrokerError';
}
