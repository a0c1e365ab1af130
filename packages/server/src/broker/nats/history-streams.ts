import {
  DiscardPolicy,
  JetStreamApiError,
  type JetStreamManager,
  RetentionPolicy,
  StorageType,
  type StoredMsg,
  type StreamConfig,
  type StreamInfo,
} from '@nats-io/jetstream';
import { nanos } from '@nats-io/transport-node';
import type { Clock } from '../../core/clock.js';
import { newEpoch } from '../../core/epoch.js';
import type { HistoryLimits, HistoryQuery } from '../broker.js';
import type { NatsNames } from './names.js';

const codes = { streamNotFound: 10059, subjectsOverlap: 10065 } as const;
/** JetStream refuses a duplicate window under 100 ms, and one longer than max_age. */
const minWindowMs = 100;
/** Channels whose stream settings this node remembers; past it the oldest are looked up again. */
const maxKnown = 50_000;
/** Message gets in flight at once during one history read. */
const readBatch = 256;

/** The stream settings a channel's history limits translate to (what update compares). */
type Settings = Pick<StreamConfig, 'max_msgs' | 'max_age' | 'duplicate_window' | 'description'>;

export interface HistoryStreamOptions {
  readonly clock: Clock;
  readonly idempotencyWindowMs: number;
  readonly replicas: number;
}

/**
 * One JetStream stream per channel with history: stream sequence = offset, the epoch is
 * in the stream's name, and the stream republishes every stored message, in sequence
 * order, to the channel's fan-out subject (so appending and fan-out are one server-side
 * step). The position's meta TTL lives in the stream's description (nats-server 2.9 has
 * no stream metadata); a stream idle for longer is deleted, so the channel starts over
 * in a new epoch.
 */
export class HistoryStreams {
  /** channel → stream name and the settings last seen on it. */
  private readonly known = new Map<string, { name: string; settings: Settings }>();
  private readonly preparing = new Map<string, Promise<string>>();

  constructor(
    private readonly jsm: JetStreamManager,
    private readonly names: NatsNames,
    private readonly options: HistoryStreamOptions,
  ) {}

  /** The stream a publish with `limits` appends to: known, found, created, or updated to the limits. */
  forPublish(channel: string, limits: HistoryLimits): Promise<string> {
    const want = this.settings(limits);
    const known = this.known.get(channel);
    if (known !== undefined && sameSettings(known.settings, want)) return Promise.resolve(known.name);
    // Concurrent first publishes on a channel share one lookup (and creation).
    let pending = this.preparing.get(channel);
    if (pending === undefined) {
      pending = this.prepare(channel, want).finally(() => this.preparing.delete(channel));
      this.preparing.set(channel, pending);
    }
    return pending;
  }

  /** Forgets what this node knew of a channel's stream (it was deleted or replaced elsewhere). */
  forget(channel: string): void {
    this.known.delete(channel);
  }

  /**
   * Fresh state of the channel's live stream. A channel without one (or whose position
   * expired) gets a new, empty stream: that fixes its epoch at offset 0, so the first
   * publish lands at offset 1 of the epoch readers were already given.
   */
  async current(channel: string, metaTtlMs: number): Promise<StreamInfo> {
    const known = this.known.get(channel);
    let info = known === undefined ? undefined : await this.info(known.name);
    info ??= await this.lookup(channel);
    if (info !== undefined && this.stale(channel, info)) info = await this.drop(info);
    // Limits are unknown to a reader: the first publish sets them (an update).
    info ??= await this.create(channel, { max_msgs: -1, max_age: 0, duplicate_window: nanos(this.windowMs(0)), description: describe(metaTtlMs) });
    this.remember(channel, info);
    return info;
  }

  /** Messages of `info`'s stream that `query` selects, by sequence (= offset). */
  async read(info: StreamInfo, query: HistoryQuery): Promise<StoredMsg[]> {
    const { first_seq: first, last_seq: last, messages } = info.state;
    if (query.limit === 0 || messages === 0) return [];
    const seqs: number[] = [];
    if (query.reverse) {
      const top = query.sinceOffset === undefined ? last : Math.min(last, query.sinceOffset - 1);
      const bottom = query.limit > 0 ? Math.max(first, top - query.limit + 1) : first;
      for (let seq = top; seq >= bottom; seq--) seqs.push(seq);
    } else {
      const bottom = Math.max(first, (query.sinceOffset ?? 0) + 1);
      const top = query.limit > 0 ? Math.min(last, bottom + query.limit - 1) : last;
      for (let seq = bottom; seq <= top; seq++) seqs.push(seq);
    }
    const out: StoredMsg[] = [];
    for (let i = 0; i < seqs.length; i += readBatch) {
      const batch = seqs.slice(i, i + readBatch).map((seq) => this.jsm.streams.getMessage(info.config.name, { seq }));
      // null: expired (by age) between the info and the get.
      for (const msg of await Promise.all(batch)) if (msg !== null) out.push(msg);
    }
    return out;
  }

  /** Deletes the channel's stream (every stream on its subject, and the one this node knew). */
  async remove(channel: string): Promise<void> {
    const names = new Set<string>();
    const known = this.known.get(channel);
    if (known !== undefined) names.add(known.name);
    for await (const info of this.jsm.streams.list(this.names.history(channel))) names.add(info.config.name);
    this.forget(channel);
    await Promise.all([...names].map((name) => this.delete(name)));
  }

  /** Deletes the streams of every channel whose position expired; returns how many. */
  async sweep(): Promise<number> {
    const expired: StreamInfo[] = [];
    for await (const info of this.jsm.streams.list(this.names.allHistory)) if (this.expired(info)) expired.push(info);
    for (const info of expired) await this.delete(info.config.name);
    return expired.length;
  }

  /** Resolves once JetStream answers requests. */
  async probe(): Promise<void> {
    await this.jsm.getAccountInfo();
  }

  /**
   * A stream to replace by a new epoch: its position expired, or it does not fan out where
   * this version's nodes listen (made by another version; republish cannot be updated).
   */
  private stale(channel: string, info: StreamInfo): boolean {
    return this.expired(info) || info.config.republish?.dest !== this.names.fanoutHistory(channel);
  }

  /** A stream's position expires `metaTtlMs` after its last publication (or its creation, if none). */
  private expired(info: StreamInfo): boolean {
    const metaTtlMs = metaTtlOf(info.config.description);
    if (metaTtlMs === undefined || metaTtlMs <= 0) return false;
    const last = info.state.last_seq > 0 ? Date.parse(info.state.last_ts) : Date.parse(info.created);
    return last + metaTtlMs <= this.options.clock();
  }

  private async prepare(channel: string, want: Settings): Promise<string> {
    let info = await this.lookup(channel);
    if (info !== undefined && this.stale(channel, info)) info = await this.drop(info);
    info ??= await this.create(channel, want);
    if (!sameSettings(info.config, want)) info = await this.jsm.streams.update(info.config.name, want);
    this.remember(channel, info);
    return info.config.name;
  }

  private settings(limits: HistoryLimits): Settings {
    const ttlMs = Math.max(limits.ttlMs, minWindowMs);
    return { max_msgs: limits.size, max_age: nanos(ttlMs), duplicate_window: nanos(this.windowMs(ttlMs)), description: describe(limits.metaTtlMs) };
  }

  /** JetStream's dedupe window for a stream whose messages live `ttlMs` (0: forever). */
  private windowMs(ttlMs: number): number {
    const window = Math.max(this.options.idempotencyWindowMs, minWindowMs);
    return ttlMs > 0 ? Math.min(window, ttlMs) : window;
  }

  private async create(channel: string, settings: Settings): Promise<StreamInfo> {
    const subject = this.names.history(channel);
    try {
      return await this.jsm.streams.add({
        ...settings,
        name: this.names.stream(channel, newEpoch()),
        subjects: [subject],
        retention: RetentionPolicy.Limits,
        storage: StorageType.File,
        discard: DiscardPolicy.Old,
        num_replicas: this.options.replicas,
        republish: { src: subject, dest: this.names.fanoutHistory(channel) },
      });
    } catch (err) {
      // Another node created the channel's stream first (its epoch wins): use that one.
      if (!(err instanceof JetStreamApiError && err.code === codes.subjectsOverlap)) throw err;
      const winner = await this.lookup(channel);
      if (winner === undefined) throw err;
      return winner;
    }
  }

  /** Deletes a stale stream; the caller creates the next epoch's. */
  private async drop(info: StreamInfo): Promise<undefined> {
    await this.delete(info.config.name);
    return undefined;
  }

  private async lookup(channel: string): Promise<StreamInfo | undefined> {
    // Subjects of two streams cannot overlap, so at most one stream captures the channel.
    for await (const info of this.jsm.streams.list(this.names.history(channel))) return info;
    return undefined;
  }

  private async info(name: string): Promise<StreamInfo | undefined> {
    try {
      return await this.jsm.streams.info(name);
    } catch (err) {
      if (err instanceof JetStreamApiError && err.code === codes.streamNotFound) return undefined;
      throw err;
    }
  }

  private async delete(name: string): Promise<void> {
    try {
      await this.jsm.streams.delete(name);
    } catch (err) {
      if (!(err instanceof JetStreamApiError && err.code === codes.streamNotFound)) throw err;
    }
  }

  private remember(channel: string, info: StreamInfo): void {
    this.known.delete(channel);
    if (this.known.size >= maxKnown) this.known.delete(this.known.keys().next().value as string);
    const { max_msgs, max_age, duplicate_window, description = '' } = info.config;
    this.known.set(channel, { name: info.config.name, settings: { max_msgs, max_age, duplicate_window, description } });
  }
}

function describe(metaTtlMs: number): string {
  return JSON.stringify({ fleetgate: 'history', metaTtlMs });
}

function metaTtlOf(description: string | undefined): number | undefined {
  if (description === undefined) return undefined;
  try {
    const parsed = JSON.parse(description) as { metaTtlMs?: unknown };
    return typeof parsed.metaTtlMs === 'number' ? parsed.metaTtlMs : undefined;
  } catch {
    return undefined;
  }
}

function sameSettings(a: Settings, b: Settings): boolean {
  return a.max_msgs === b.max_msgs && a.max_age === b.max_age && a.duplicate_window === b.duplicate_window && a.description === b.description;
}
