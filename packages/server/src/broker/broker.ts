import type { ClientInfo } from '@fleetgate/protocol';
import type { Clock } from '../core/clock.js';
import type { StreamLimits, StreamPosition } from '../core/memory-stream.js';

export type { StreamPosition };

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
  /** Position in the channel's stream, for channels with history. */
  readonly offset?: number;
  readonly epoch?: string;
}

/** A channel's history limits; publishing with them keeps the publication and gives it an offset. */
export type HistoryLimits = StreamLimits;

export interface PublishOptions {
  /** Publishing twice with the same key within the broker's idempotency window publishes once. */
  readonly idempotencyKey?: string;
  readonly history?: HistoryLimits;
}

export interface PublishResult {
  /** True when an earlier publish with the same idempotency key answered for this one. */
  readonly deduplicated: boolean;
  /** Where the publication landed, for channels with history. */
  readonly position?: StreamPosition;
}

export interface HistoryQuery {
  /** Publications after this offset (before it with `reverse`). */
  readonly sinceOffset?: number;
  /** -1: all, 0: none (position only), N: at most N. */
  readonly limit: number;
  readonly reverse?: boolean;
  /** Keeps (or creates) the stream position for this long. */
  readonly metaTtlMs: number;
}

export interface HistoryResult {
  /** Oldest first (newest first with `reverse`), each with its offset. */
  readonly publications: Publication[];
  /** The stream's current top offset and epoch. */
  readonly position: StreamPosition;
}

export type JoinLeave = 'join' | 'leave';

export interface PresenceList {
  /** At most the `limit` asked for. */
  readonly clients: ClientInfo[];
  /** How many clients the channel has in all. */
  readonly total: number;
}

export interface PresenceStats {
  readonly numClients: number;
  readonly numUsers: number;
}

/**
 * Who is in a channel, fleet-wide. Each node adds and refreshes its own connections;
 * an entry not refreshed within its TTL is gone, so a node that dies leaves no ghosts.
 * `stats` never loads the member list.
 */
export interface PresenceStore {
  /** Adds or refreshes `info` (its `client` is the key) for `ttlMs`. */
  add(channel: string, info: ClientInfo, ttlMs: number): Promise<void>;
  remove(channel: string, info: ClientInfo): Promise<void>;
  list(channel: string, limit: number): Promise<PresenceList>;
  stats(channel: string): Promise<PresenceStats>;
}

/** What a broker tells the node it serves. */
export interface BrokerHandler {
  onPublication(channel: string, publication: Publication): void;
  /** A join or leave in a channel this node is subscribed to (namespace `joinLeave`). */
  onJoinLeave(channel: string, kind: JoinLeave, info: ClientInfo): void;
  /** A fleet control message (node announcements, fleet-wide commands), from any node including this one. */
  onControl(message: string): void;
  /**
   * Delivery was interrupted (connection to the broker lost and regained): publications
   * of any subscribed channel may have been missed, so positions must be checked.
   */
  onResync(): void;
  /** The broker became reachable (true) or unreachable (false). */
  onHealth(up: boolean): void;
}

/**
 * Moves publications between the nodes of a fleet and keeps channel history. A node
 * subscribes to a channel only while it has local subscribers (interest management),
 * so `subscribe`/`unsubscribe` are called on the first and after the last local
 * subscriber. Publishing with history is one atomic step: next offset, append, trim,
 * expire, fan-out. Implementations: memory (single node); Redis and NATS implement the
 * same contract.
 */
export interface Broker {
  start(handler: BrokerHandler): Promise<void>;
  publish(channel: string, publication: Publication, options: PublishOptions): Promise<PublishResult>;
  subscribe(channels: readonly string[]): Promise<void>;
  unsubscribe(channels: readonly string[]): Promise<void>;
  history(channel: string, query: HistoryQuery): Promise<HistoryResult>;
  removeHistory(channel: string): Promise<void>;
  /** Sends a control message to every node of the fleet (this one included). */
  publishControl(message: string): Promise<void>;
  /** Tells every node with subscribers of `channel` that a client joined or left it. */
  publishJoinLeave(channel: string, kind: JoinLeave, info: ClientInfo): Promise<void>;
  readonly presence: PresenceStore;
  close(): Promise<void>;
}

export interface BrokerOptions {
  readonly clock: Clock;
  readonly idempotencyWindowMs: number;
}

export class BrokerError extends Error {
  override readonly name = 'BrokerError';
}
