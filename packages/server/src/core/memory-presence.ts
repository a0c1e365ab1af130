import type { ClientInfo } from '@fleetgate/protocol';
import type { Clock } from './clock.js';

interface ChannelPresence {
  readonly clients: Map<string, { info: ClientInfo; expires: number }>;
  /** Connections per user, so that counting users never walks the clients. */
  readonly users: Map<string, number>;
}

/**
 * Presence in memory, with TTLs like the shared stores: the memory broker's store and
 * the model of the Redis one.
 */
export class MemoryPresence {
  private readonly channels = new Map<string, ChannelPresence>();

  constructor(private readonly clock: Clock) {}

  add(channel: string, info: ClientInfo, ttlMs: number): void {
    let presence = this.channels.get(channel);
    if (presence === undefined) this.channels.set(channel, (presence = { clients: new Map(), users: new Map() }));
    if (!presence.clients.has(info.client)) presence.users.set(info.user, (presence.users.get(info.user) ?? 0) + 1);
    presence.clients.set(info.client, { info, expires: this.clock() + ttlMs });
  }

  remove(channel: string, client: string): void {
    const presence = this.channels.get(channel);
    const entry = presence?.clients.get(client);
    if (presence === undefined || entry === undefined) return;
    presence.clients.delete(client);
    const left = (presence.users.get(entry.info.user) ?? 1) - 1;
    if (left > 0) presence.users.set(entry.info.user, left);
    else presence.users.delete(entry.info.user);
    if (presence.clients.size === 0) this.channels.delete(channel);
  }

  list(channel: string, limit: number): { clients: ClientInfo[]; total: number } {
    const presence = this.swept(channel);
    if (presence === undefined) return { clients: [], total: 0 };
    const clients: ClientInfo[] = [];
    for (const { info } of presence.clients.values()) {
      if (clients.length >= limit) break;
      clients.push(info);
    }
    return { clients, total: presence.clients.size };
  }

  stats(channel: string): { numClients: number; numUsers: number } {
    const presence = this.swept(channel);
    return { numClients: presence?.clients.size ?? 0, numUsers: presence?.users.size ?? 0 };
  }

  /** Drops expired entries everywhere (periodically, so idle channels do not keep ghosts in memory). */
  sweep(): void {
    for (const channel of [...this.channels.keys()]) this.swept(channel);
  }

  private swept(channel: string): ChannelPresence | undefined {
    const presence = this.channels.get(channel);
    if (presence === undefined) return undefined;
    const now = this.clock();
    for (const [client, entry] of presence.clients) if (entry.expires <= now) this.remove(channel, client);
    return this.channels.get(channel);
  }
}
