import type { ClientInfo } from '@fleetgate/protocol';
import type { Redis } from 'ioredis';
import type { PresenceList, PresenceStats, PresenceStore } from '../broker.js';
import { presenceAddScript, presenceListScript, presenceRemoveScript, presenceStatsScript } from './presence-scripts.js';

type PresenceRedis = Redis & {
  fgPresenceAdd(data: string, exp: string, users: string, ...args: (string | number)[]): Promise<number>;
  fgPresenceRemove(data: string, exp: string, users: string, client: string): Promise<number>;
  fgPresenceStats(data: string, exp: string, users: string): Promise<[number, number]>;
  fgPresenceList(data: string, exp: string, users: string, limit: number): Promise<(number | string)[]>;
};

export function definePresenceScripts(redis: Redis): void {
  redis.defineCommand('fgPresenceAdd', { numberOfKeys: 3, lua: presenceAddScript });
  redis.defineCommand('fgPresenceRemove', { numberOfKeys: 3, lua: presenceRemoveScript });
  redis.defineCommand('fgPresenceStats', { numberOfKeys: 3, lua: presenceStatsScript });
  redis.defineCommand('fgPresenceList', { numberOfKeys: 3, lua: presenceListScript });
}

/** Presence in Redis, on the shard of the channel (see presence-scripts.ts for the keys). */
export class RedisPresence implements PresenceStore {
  constructor(
    private readonly shardOf: (channel: string) => Redis,
    private readonly key: (kind: string, channel: string) => string,
    private readonly call: <T>(run: () => Promise<T>) => Promise<T>,
  ) {}

  private keys(channel: string): [string, string, string] {
    return [this.key('pd', channel), this.key('pe', channel), this.key('pu', channel)];
  }

  private redis(channel: string): PresenceRedis {
    return this.shardOf(channel) as PresenceRedis;
  }

  async add(channel: string, info: ClientInfo, ttlMs: number): Promise<void> {
    await this.call(() => this.redis(channel).fgPresenceAdd(...this.keys(channel), info.client, info.user, JSON.stringify(info), ttlMs));
  }

  async remove(channel: string, info: ClientInfo): Promise<void> {
    await this.call(() => this.redis(channel).fgPresenceRemove(...this.keys(channel), info.client));
  }

  async list(channel: string, limit: number): Promise<PresenceList> {
    const [total, ...infos] = await this.call(() => this.redis(channel).fgPresenceList(...this.keys(channel), limit));
    return { total: Number(total), clients: infos.map((info) => JSON.parse(String(info)) as ClientInfo) };
  }

  async stats(channel: string): Promise<PresenceStats> {
    const [numClients, numUsers] = await this.call(() => this.redis(channel).fgPresenceStats(...this.keys(channel)));
    return { numClients: Number(numClients), numUsers: Number(numUsers) };
  }
}
