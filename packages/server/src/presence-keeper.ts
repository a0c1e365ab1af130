import { type ClientInfo, ErrorCode } from '@fleetgate/protocol';
import type { Logger } from 'pino';
import type { PresenceStore } from './broker/broker.js';
import { ReplyError } from './errors.js';

export interface PresenceTiming {
  readonly updateIntervalMs: number;
  readonly ttlMs: number;
}

/**
 * This node's share of fleet-wide presence: the entries of its own connections, written
 * to the broker's store when they appear, refreshed every `updateIntervalMs` (batched in
 * one pass), removed when they go. Entries of a node that dies are not refreshed and
 * expire after `ttlMs`.
 */
export class PresenceKeeper {
  private readonly entries = new Map<string, Map<string, ClientInfo>>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly store: PresenceStore,
    private readonly timing: PresenceTiming,
    private readonly logger: Logger,
  ) {}

  start(): void {
    this.timer = setInterval(() => this.refresh(), this.timing.updateIntervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  async add(channel: string, info: ClientInfo): Promise<void> {
    let members = this.entries.get(channel);
    if (members === undefined) this.entries.set(channel, (members = new Map()));
    members.set(info.client, info);
    await this.store.add(channel, info, this.timing.ttlMs);
  }

  remove(channel: string, client: string): void {
    const members = this.entries.get(channel);
    const info = members?.get(client);
    if (members === undefined || info === undefined) return;
    members.delete(client);
    if (members.size === 0) this.entries.delete(channel);
    this.store.remove(channel, info).catch((err: unknown) => this.logger.warn({ err, channel }, 'presence remove failed (the entry expires by itself)'));
  }

  private refresh(): void {
    for (const [channel, members] of this.entries) {
      for (const info of members.values()) {
        this.store.add(channel, info, this.timing.ttlMs).catch((err: unknown) => this.logger.debug({ err, channel }, 'presence refresh failed'));
      }
    }
  }
}

/** The registry of a user's connections is presence in a channel no client can name. */
export function registryChannel(user: string): string {
  return `\u0000user:${user}`;
}

/**
 * A channel's presence as Centrifugo replies it (client id → info), refused with 106
 * when the channel has more than `max` clients: a huge member list is not something to
 * send in one reply (`presence_stats` counts without loading it).
 */
export async function readPresence(store: PresenceStore, channel: string, max: number): Promise<Record<string, ClientInfo>> {
  const { clients, total } = await store.list(channel, max);
  if (total > max) throw new ReplyError(ErrorCode.LimitExceeded, `presence has ${total} clients, above presence.maxList (${max}): use presence_stats`);
  const out: Record<string, ClientInfo> = {};
  for (const info of clients) Object.defineProperty(out, info.client, { value: info, enumerable: true });
  return out;
}

export async function readPresenceStats(store: PresenceStore, channel: string): Promise<{ num_clients: number; num_users: number }> {
  const { numClients, numUsers } = await store.stats(channel);
  return { num_clients: numClients, num_users: numUsers };
}
