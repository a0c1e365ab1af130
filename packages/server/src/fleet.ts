import type { Logger } from 'pino';
import type { Clock } from './core/clock.js';
import { type NodeInfo, NodeRegistry } from './core/registry.js';
import type { DisconnectFilter, Node } from './node.js';

/** Control messages nodes exchange over the broker. */
type ControlMessage =
  | { readonly type: 'node'; readonly node: NodeInfo }
  | { readonly type: 'bye'; readonly uid: string }
  | { readonly type: 'disconnect'; readonly filter: DisconnectFilter; readonly code: number; readonly reason?: string }
  | { readonly type: 'subscribe' | 'unsubscribe'; readonly user: string; readonly channel: string; readonly client?: string };

export interface FleetOptions {
  readonly announceIntervalMs: number;
  readonly nodeTtlMs: number;
  readonly version: string;
}

/**
 * This node's membership in the fleet: announces itself over the broker every few
 * seconds, keeps the registry of every live node, and runs fleet-wide commands
 * (disconnect a user everywhere) that arrive as control messages.
 */
export class Fleet {
  private readonly registry: NodeRegistry;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly node: Node,
    private readonly options: FleetOptions,
    private readonly logger: Logger,
    clock: Clock,
  ) {
    this.registry = new NodeRegistry(options.nodeTtlMs, clock);
  }

  info(): NodeInfo {
    const stats = this.node.stats();
    return {
      uid: this.node.id,
      name: this.node.name,
      version: this.options.version,
      num_clients: stats.clients,
      num_users: stats.users,
      num_channels: stats.channels,
      num_subs: stats.subscriptions,
      uptime: this.node.uptimeSeconds,
    };
  }

  start(): void {
    this.registry.update(this.info());
    this.announce();
    this.timer = setInterval(() => this.announce(), this.options.announceIntervalMs);
    this.timer.unref();
  }

  /** Every live node; this one always first-hand. */
  nodes(): NodeInfo[] {
    this.registry.update(this.info());
    return this.registry.list();
  }

  /** Disconnects matching connections on every node. */
  disconnect(filter: DisconnectFilter, code: number, reason?: string): Promise<void> {
    return this.send({ type: 'disconnect', filter, code, ...(reason !== undefined && { reason }) });
  }

  /** Subscribes (server-side) or unsubscribes every connection of a user, on every node (or one client). */
  subscription(type: 'subscribe' | 'unsubscribe', user: string, channel: string, client?: string): Promise<void> {
    return this.send({ type, user, channel, ...(client !== undefined && { client }) });
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.send({ type: 'bye', uid: this.node.id }).catch(() => undefined);
  }

  onControl(raw: string): void {
    let message: ControlMessage;
    try {
      message = JSON.parse(raw) as ControlMessage;
    } catch {
      this.logger.warn({ raw: raw.slice(0, 200) }, 'malformed control message');
      return;
    }
    switch (message.type) {
      case 'node':
        return this.registry.update(message.node);
      case 'bye':
        return message.uid === this.node.id ? undefined : this.registry.remove(message.uid);
      case 'disconnect':
        this.node.disconnect(message.filter, message.code, message.reason);
        return;
      case 'subscribe':
      case 'unsubscribe':
        for (const client of this.node.clientsOf(message.user)) {
          if (message.client !== undefined && client.id !== message.client) continue;
          if (message.type === 'subscribe') client.serverSubscribe(message.channel);
          else client.serverUnsubscribe(message.channel);
        }
        return;
    }
  }

  private announce(): void {
    this.send({ type: 'node', node: this.info() }).catch((err: unknown) => this.logger.debug({ err }, 'node announcement failed'));
  }

  private send(message: ControlMessage): Promise<void> {
    return this.node.publishControl(JSON.stringify(message));
  }
}
