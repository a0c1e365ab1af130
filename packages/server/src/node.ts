import { randomUUID } from 'node:crypto';
import { type ClientInfo, encodePush } from '@fleetgate/protocol';
import type { Logger } from 'pino';
import type { Broker, HistoryLimits, HistoryQuery, HistoryResult, JoinLeave, PresenceStore, Publication, PublishResult, StreamPosition } from './broker/broker.js';
import type { Clock } from './core/clock.js';
import { MultiMap } from './core/multimap.js';
import { encodePublicationPush } from './core/encode.js';
import type { Outgoing, QueueItem } from './core/outbound-queue.js';

/** A publication on its way to this node's subscribers: encoded once, and queued as one item shared by all of them. */
export interface Delivery {
  readonly frame: Buffer;
  readonly pub: Publication;
  /** Built by the first subscriber that queues it (a channel's lane and policy are the same for every subscriber). */
  item: QueueItem<Outgoing> | undefined;
}

/** A spread fan-out goes out in this many slices over its window. */
const spreadSlices = 10;

/** What the node needs of a connected client; sessions implement it. */
export interface NodeClient {
  readonly id: string;
  readonly user: string;
  /** Uniform in [0, 1), fixed for the client: its slice when a fan-out is spread over time. */
  readonly spreadSlot: number;
  /** Receives a publication on its way to subscribers; false when the client does not take it. */
  deliver(channel: string, delivery: Delivery): boolean;
  /** The stream is at `top`: a positioned subscription that is behind must recover. */
  checkPosition(channel: string, top: StreamPosition): void;
  /** A join or leave push (encoded once) for a channel the client is in. */
  deliverJoinLeave(channel: string, frame: string): void;
  /** Subscribes server-side (API `subscribe`) or unsubscribes (API `unsubscribe`). */
  serverSubscribe(channel: string): void;
  serverUnsubscribe(channel: string): void;
  disconnect(code: number, detail?: string): void;
}

export interface PublishRequest {
  /** Raw JSON text of the payload. */
  readonly data: string;
  readonly info?: ClientInfo;
  readonly tags?: Readonly<Record<string, string>>;
  readonly idempotencyKey?: string;
}

export interface NodeStats {
  readonly clients: number;
  readonly users: number;
  readonly channels: number;
  readonly subscriptions: number;
}

export interface DisconnectFilter {
  readonly user: string;
  readonly client?: string;
  /** Client ids spared by a user-wide disconnect. */
  readonly whitelist?: readonly string[];
}

/** What the node reports to the rest of the gateway. */
export interface NodeHooks {
  /** After every fan-out, for metrics. */
  delivered(count: number, publishedAt: number): void;
  /** A fleet control message arrived from the broker. */
  control(message: string): void;
  /** The broker became reachable or unreachable. */
  brokerHealth(up: boolean): void;
  /** History limits of a channel, or undefined when it keeps no history. */
  historyOf(channel: string): HistoryLimits | undefined;
  /** Window over which a channel's fan-out is spread (namespace `fanoutSpread`), 0 for at once. */
  spreadOf(channel: string): number;
}

/**
 * The per-process coordinator: knows the local clients, which channels each is in
 * (the hub), and keeps the broker subscribed to exactly the channels with local
 * subscribers. Publications from the broker are encoded once and handed to every
 * local subscriber.
 */
export class Node {
  readonly id = randomUUID();
  readonly startedAt: number;
  private readonly clients = new Map<string, NodeClient>();
  private readonly hub = new MultiMap<string, NodeClient>();
  private readonly users = new MultiMap<string, NodeClient>();
  /** Channels whose broker subscription is in flight; later subscribers wait for it. */
  private readonly brokerPending = new Map<string, Promise<void>>();

  constructor(
    readonly name: string,
    private readonly broker: Broker,
    private readonly logger: Logger,
    private readonly clock: Clock,
    private readonly hooks: NodeHooks,
  ) {
    this.startedAt = clock();
  }

  /** Whether the broker is reachable (readiness). */
  brokerUp = false;

  start(): Promise<void> {
    return this.broker.start({
      onPublication: (channel, pub) => this.deliver(channel, pub),
      onJoinLeave: (channel, kind, info) => {
        const subscribers = this.hub.get(channel);
        if (subscribers === undefined) return;
        const frame = encodePush({ type: kind, channel, body: { info } });
        for (const client of subscribers) client.deliverJoinLeave(channel, frame);
      },
      onControl: (message) => this.hooks.control(message),
      onResync: () => {
        this.resync().catch((err: unknown) => this.logger.error({ err }, 'resync after broker reconnect failed'));
      },
      onHealth: (up) => {
        if (up !== this.brokerUp) this.logger[up ? 'info' : 'error']({ broker: up ? 'up' : 'down' }, up ? 'broker reachable' : 'broker unreachable');
        this.brokerUp = up;
        this.hooks.brokerHealth(up);
      },
    });
  }

  publishControl(message: string): Promise<void> {
    return this.broker.publishControl(message);
  }

  publishJoinLeave(channel: string, kind: JoinLeave, info: ClientInfo): void {
    this.broker.publishJoinLeave(channel, kind, info).catch((err: unknown) => this.logger.warn({ err, channel, kind }, 'join/leave publish failed'));
  }

  /** Local clients of `user` (for fleet-wide commands that arrive as control messages). */
  clientsOf(user: string): NodeClient[] {
    return [...(this.users.get(user) ?? [])];
  }

  /**
   * After delivery was interrupted: reads the top of every local channel with history
   * and lets each subscriber compare it with its position (behind = recover).
   */
  async resync(): Promise<void> {
    for (const channel of [...this.hub.keys()]) {
      const limits = this.hooks.historyOf(channel);
      if (limits === undefined) continue;
      const { position } = await this.broker.history(channel, { limit: 0, metaTtlMs: limits.metaTtlMs });
      for (const client of [...(this.hub.get(channel) ?? [])]) client.checkPosition(channel, position);
    }
  }

  get uptimeSeconds(): number {
    return Math.floor((this.clock() - this.startedAt) / 1000);
  }

  connectionsOf(user: string): number {
    return this.users.count(user);
  }

  register(client: NodeClient): void {
    this.clients.set(client.id, client);
    this.users.add(client.user, client);
  }

  /** Forgets a client (its channels were left one by one before). */
  unregister(client: NodeClient): void {
    if (this.clients.get(client.id) === client) this.clients.delete(client.id);
    this.users.delete(client.user, client);
  }

  /** Adds a local subscriber; resolves once the broker delivers the channel to this node. */
  async subscribe(client: NodeClient, channel: string): Promise<void> {
    let pending = this.brokerPending.get(channel);
    if (this.hub.add(channel, client)) {
      const started = (pending = this.broker.subscribe([channel]));
      this.brokerPending.set(channel, started);
      const settle = () => this.brokerPending.get(channel) === started && this.brokerPending.delete(channel);
      started.then(settle, settle);
    }
    if (pending === undefined) return;
    try {
      await pending;
    } catch (cause) {
      this.unsubscribe(client, channel);
      throw cause;
    }
  }

  unsubscribe(client: NodeClient, channel: string): void {
    if (!this.hub.delete(channel, client)) return;
    this.brokerPending.delete(channel);
    this.broker.unsubscribe([channel]).catch((err: unknown) => this.logger.error({ err, channel }, 'broker unsubscribe failed'));
  }

  /** Publishes; with `history` the publication is kept and gets an offset. */
  publish(channel: string, request: PublishRequest, history?: HistoryLimits): Promise<PublishResult> {
    const pub: Publication = {
      data: request.data,
      publishedAt: this.clock(),
      ...(request.info && { info: request.info }),
      ...(request.tags && { tags: request.tags }),
    };
    return this.broker.publish(channel, pub, {
      ...(request.idempotencyKey !== undefined && { idempotencyKey: request.idempotencyKey }),
      ...(history !== undefined && { history }),
    });
  }

  get presence(): PresenceStore {
    return this.broker.presence;
  }

  history(channel: string, query: HistoryQuery): Promise<HistoryResult> {
    return this.broker.history(channel, query);
  }

  removeHistory(channel: string): Promise<void> {
    return this.broker.removeHistory(channel);
  }

  /** Closes the matching local connections; returns how many. */
  disconnect(filter: DisconnectFilter, code: number, detail?: string): number {
    const spared = new Set(filter.whitelist);
    const targets = [...(this.users.get(filter.user) ?? [])].filter(
      (c) => (filter.client === undefined || c.id === filter.client) && !spared.has(c.id),
    );
    for (const client of targets) client.disconnect(code, detail);
    return targets.length;
  }

  /** Every local client, e.g. to close them all on shutdown. */
  allClients(): NodeClient[] {
    return [...this.clients.values()];
  }

  stats(): NodeStats {
    return { clients: this.clients.size, users: this.users.size, channels: this.hub.size, subscriptions: this.hub.totalMembers };
  }

  /** Local subscriber count per channel, optionally filtered. */
  channelCounts(match: (channel: string) => boolean = () => true): Map<string, number> {
    const out = new Map<string, number>();
    for (const channel of this.hub.keys()) if (match(channel)) out.set(channel, this.hub.count(channel));
    return out;
  }

  close(): Promise<void> {
    return this.broker.close();
  }

  private deliver(channel: string, pub: Publication): void {
    const subscribers = this.hub.get(channel);
    if (subscribers === undefined) return;
    // Encoded once, as bytes, for every subscriber: no per-socket JSON or UTF-8 work.
    const delivery: Delivery = { frame: Buffer.from(encodePublicationPush(channel, pub)), pub, item: undefined };
    const spreadMs = subscribers.size > 1 ? this.hooks.spreadOf(channel) : 0;
    if (spreadMs > 0) return this.deliverSpread(channel, delivery, subscribers, spreadMs);
    this.deliverTo(subscribers, channel, delivery);
  }

  private deliverTo(clients: Iterable<NodeClient>, channel: string, delivery: Delivery): void {
    let count = 0;
    for (const client of clients) if (client.deliver(channel, delivery)) count++;
    this.hooks.delivered(count, delivery.pub.publishedAt);
  }

  /**
   * Delivers in slices over `spreadMs`. A client is always in the slice of its fixed
   * `spreadSlot`, so each client's publications keep their order (later publication,
   * same delay, later timer).
   */
  private deliverSpread(channel: string, delivery: Delivery, subscribers: ReadonlySet<NodeClient>, spreadMs: number): void {
    const slices = spreadSlices;
    const buckets: NodeClient[][] = Array.from({ length: slices }, () => []);
    for (const client of subscribers) buckets[Math.min(slices - 1, Math.floor(client.spreadSlot * slices))]?.push(client);
    buckets.forEach((bucket, k) => {
      if (bucket.length === 0) return;
      if (k === 0) this.deliverTo(bucket, channel, delivery);
      else setTimeout(() => this.deliverTo(bucket, channel, delivery), Math.round((k * spreadMs) / slices));
    });
  }
}
