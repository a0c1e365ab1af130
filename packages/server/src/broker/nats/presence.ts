import { randomInt } from 'node:crypto';
import type { ClientInfo } from '@fleetgate/protocol';
import { createInbox, type Msg, type NatsConnection } from '@nats-io/transport-node';
import type { Clock } from '../../core/clock.js';
import { MemoryPresence } from '../../core/memory-presence.js';
import { BrokerError, type PresenceList, type PresenceStats, type PresenceStore } from '../broker.js';
import type { NatsLink } from './link.js';
import type { NatsNames } from './names.js';
import {
  decodeList,
  decodeQuery,
  decodeStats,
  encodeQuery,
  listParts,
  type NodeStats,
  partOf,
  type Query,
  statsParts,
  userHash,
} from './presence-wire.js';
import { Roster } from './roster.js';

/**
 * Presence on NATS. The choice: every node keeps its own connections' entries in memory
 * (MemoryPresence: per-entry TTLs, as in the memory broker), and `list` and `stats` ask
 * every node over core NATS request/reply (`<prefix>.pq`) and merge the answers. Nothing
 * is stored in NATS; JetStream is not needed.
 *
 * Not a JetStream KV bucket of `<channel>.<client>` entries, because: nats-server before
 * 2.11 has one max_age per bucket, not a TTL per entry; KV has no counter that expiry
 * decrements, so num_users would mean reading every key of the channel; and every
 * refresh of every connection (a 10,000-member channel refreshed every 25 s is 400
 * writes/s) would be a replicated, fsynced JetStream write. Here a join or refresh costs
 * no NATS traffic, and a query one message to each node and one answer from each.
 *
 * What follows from it:
 * - A node that dies takes its entries with it at once: it no longer answers. TTLs still
 *   drop the entries a live node stops refreshing.
 * - A query waits for every node this node knows (roster.ts), at most `waitMs`. A node
 *   that misses the deadline is left out of that answer (an undercount, not an error) and
 *   not waited for until its next hello, so a crashed node slows one query.
 * - `stats` ships no member list: each node answers with its counts and one 8-byte hash
 *   per distinct user (users on several nodes count once); when at most one node has
 *   members its own user count stands, and no hash is even computed for this node's part.
 * - `list`: each node sends at most `limit` entries, in parts under max_payload, so a
 *   list costs up to nodes × limit entries on the wire before it is cut to `limit`.
 * - Every query reaches every node: reads cost O(nodes) messages (the fleet-wide
 *   maxConnectionsPerUser check is one stats query per connect), writes cost nothing.
 * - Nodes that cannot reach each other over NATS (a partitioned cluster) see only their side.
 */
export class NatsPresence implements PresenceStore {
  private readonly local: MemoryPresence;
  private readonly roster: Roster;
  /** Queries in flight, by reply subject. */
  private readonly pending = new Map<string, Pending>();
  private inbox = '';
  private queries = 0;

  constructor(
    private readonly link: NatsLink,
    private readonly names: NatsNames,
    clock: Clock,
    private readonly waitMs: number,
  ) {
    this.local = new MemoryPresence(clock);
    this.roster = new Roster(names.roster, () => link.isUp, () => {
      for (const query of this.pending.values()) query.check();
    });
  }

  start(nc: NatsConnection): void {
    // One subscription for the answers to all of this node's queries, not one per query.
    this.inbox = createInbox();
    nc.subscribe(`${this.inbox}.*`, {
      callback: (err, msg) => {
        if (err === null) this.pending.get(msg.subject)?.take(msg);
      },
    });
    nc.subscribe(this.names.presenceQuery, {
      callback: (err, msg) => {
        if (err === null) this.answer(msg);
      },
    });
    this.roster.start(nc);
  }

  resync(): void {
    this.roster.resync();
  }

  /** Says goodbye (while the connection still sends), so no query waits for this node. */
  close(): void {
    this.roster.close();
  }

  /** Drops expired entries of channels nobody asks about. */
  sweep(): void {
    this.local.sweep();
  }

  // Local: a node owns its connections' entries, reachable NATS or not.
  async add(channel: string, info: ClientInfo, ttlMs: number): Promise<void> {
    this.local.add(channel, info, ttlMs);
  }

  async remove(channel: string, info: ClientInfo): Promise<void> {
    this.local.remove(channel, info.client);
  }

  async list(channel: string, limit: number): Promise<PresenceList> {
    // JSON has no Infinity: "all" travels as the largest exact integer.
    const wire = Math.min(limit, Number.MAX_SAFE_INTEGER);
    const answers = await this.gather({ kind: 'list', channel, limit: wire }, decodeList, () => this.local.list(channel, limit));
    let total = 0;
    const clients: ClientInfo[] = [];
    for (const answer of answers) {
      total += answer.total;
      for (const info of answer.clients) if (clients.length < limit) clients.push(info);
    }
    return { clients, total };
  }

  async stats(channel: string): Promise<PresenceStats> {
    const seed = randomInt(0x1_0000_0000);
    const answers = await this.gather({ kind: 'stats', channel, seed }, decodeStats, () => this.localStats(channel, seed));
    const withMembers = answers.filter((a) => a.clients > 0);
    const numClients = withMembers.reduce((sum, a) => sum + a.clients, 0);
    if (withMembers.length <= 1) return { numClients, numUsers: withMembers[0]?.users ?? 0 };
    const users = new Set<number>();
    for (const answer of withMembers) for (const hash of answer.hashes()) users.add(hash);
    return { numClients, numUsers: users.size };
  }

  /** Counts now; hashes only when asked (by another node, or to merge with other nodes' users). */
  private localStats(channel: string, seed: number): NodeStats {
    const { numClients, numUsers } = this.local.stats(channel);
    const hashes = (): Set<number> => {
      const out = new Set<number>();
      if (numClients > 0) for (const info of this.local.list(channel, Infinity).clients) out.add(userHash(info.user, seed));
      return out;
    };
    return { clients: numClients, users: numUsers, hashes };
  }

  private answer(msg: Msg): void {
    const reply = msg.reply;
    if (reply === undefined) return;
    // This node's own query, back from the server: everything the server had for this node
    // before it (the hellos of nodes started meanwhile) has been read, so the roster is current.
    const own = this.pending.get(reply);
    if (own !== undefined) return own.own();
    const query = decodeQuery(msg.string());
    if (query === undefined) return;
    try {
      const nc = this.link.connection();
      const max = nc.info?.max_payload ?? 1_048_576;
      const parts =
        query.kind === 'stats'
          ? statsParts(this.roster.id, this.localStats(query.channel, query.seed), max)
          : listParts(this.roster.id, this.local.list(query.channel, query.limit), max);
      for (const part of parts) nc.publish(reply, part.payload, { headers: part.headers });
    } catch {
      // NATS went away meanwhile (or refused a part): the asker's deadline covers this node.
    }
  }

  private gather<T>(query: Query, decode: (parts: Msg[]) => T, local: () => T): Promise<T[]> {
    return this.link.call(async () => {
      const nc = this.link.connection();
      const reply = `${this.inbox}.${++this.queries}`;
      const gathering = new Gathering(this.roster, decode, local, this.waitMs);
      this.pending.set(reply, gathering);
      try {
        nc.publish(this.names.presenceQuery, encodeQuery(query), { reply });
        return await gathering.done;
      } finally {
        gathering.cancel();
        this.pending.delete(reply);
      }
    });
  }
}

interface Pending {
  own(): void;
  take(msg: Msg): void;
  check(): void;
}

/** The answers to one query: this node's own, and every other node's once all its parts arrived. */
class Gathering<T> implements Pending {
  readonly done: Promise<T[]>;
  private settle: { resolve(answers: T[]): void; reject(err: Error): void } | undefined;
  private readonly answers = new Map<string, T>();
  private readonly parts = new Map<string, Msg[]>();
  private readonly timer: NodeJS.Timeout;
  private recheck: NodeJS.Timeout | undefined;

  constructor(
    private readonly roster: Roster,
    private readonly decode: (parts: Msg[]) => T,
    private readonly local: () => T,
    private readonly waitMs: number,
  ) {
    this.done = new Promise<T[]>((resolve, reject) => {
      this.settle = { resolve, reject };
    });
    this.timer = setTimeout(() => this.expire(), waitMs);
    this.timer.unref();
  }

  own(): void {
    this.answers.set(this.roster.id, this.local());
    this.check();
  }

  take(msg: Msg): void {
    const part = partOf(msg);
    if (part === undefined || this.answers.has(part.node)) return;
    let got = this.parts.get(part.node);
    if (got === undefined) this.parts.set(part.node, (got = []));
    got.push(msg);
    if (got.length < part.count) return;
    this.parts.delete(part.node);
    try {
      this.answers.set(part.node, this.decode(got));
    } catch {
      return; // malformed (another version?): as if it had not answered
    }
    this.roster.alive(part.node);
    this.check();
  }

  /** Complete once this node and every node of the roster answered, and the roster is settled. */
  check(): void {
    if (!this.answers.has(this.roster.id)) return;
    for (const id of this.roster.others()) if (!this.answers.has(id)) return;
    const settling = this.roster.settlingMs();
    if (settling > 0) {
      // Just started or reconnected: nodes may still be introducing themselves.
      this.recheck ??= setTimeout(() => {
        this.recheck = undefined;
        this.check();
      }, settling);
      return;
    }
    this.settle?.resolve([...this.answers.values()]);
  }

  cancel(): void {
    clearTimeout(this.timer);
    clearTimeout(this.recheck);
  }

  private expire(): void {
    // Not even this node's own query came back: NATS is not delivering.
    if (!this.answers.has(this.roster.id)) {
      this.settle?.reject(new BrokerError(`NATS: presence query not delivered within ${this.waitMs} ms`));
      return;
    }
    for (const id of this.roster.others()) if (!this.answers.has(id)) this.roster.strike(id);
    this.settle?.resolve([...this.answers.values()]);
  }
}
