import type { Histogram } from 'hdr-histogram-js';
import hdr from 'hdr-histogram-js';
import { createClient, type LeanClient } from '../clients/index.js';
import { reconnectDelay } from '../clients/backoff.js';
import { type CategoryTotals, keptAddress, type Owed, type SubscriberSpec, type WorkerReport, type WorkerStatus } from '../ipc.js';
import { nowMs } from '../payload.js';
import type { TargetName } from '../types.js';
import { createLatencyHistogram, recordLatency } from './latency.js';
import { SequenceState } from './sequence.js';

/** One subscriber slot: its current connection ("life") and what that life has received. */
interface Subscriber {
  readonly spec: SubscriberSpec;
  client: LeanClient | undefined;
  subscribed: boolean;
  /** Subscribed before publishing began and never closed since: owed every message. */
  full: boolean;
  attempts: number;
  streams: Map<number, SequenceState>;
}

class Totals {
  deliveries = 0;
  duplicates = 0;
  reordered = 0;
  loss = 0;
  subscribersWithLoss = 0;
  readonly histogram: Histogram = createLatencyHistogram();

  /** `owed(p)`: messages publisher p sent to the subscriber's channel (omitted: judge the stream by its gaps). */
  add(streams: ReadonlyMap<number, SequenceState>, owed?: (publisher: number) => number): void {
    let lost = 0;
    for (const [publisher, stream] of streams) {
      this.duplicates += stream.duplicates;
      this.reordered += stream.reordered;
      lost += stream.loss(owed?.(publisher));
    }
    this.loss += lost;
    if (lost > 0) this.subscribersWithLoss++;
  }

  encode(): CategoryTotals {
    const { deliveries, duplicates, reordered, loss, subscribersWithLoss } = this;
    return { deliveries, duplicates, reordered, loss, subscribersWithLoss, histogram: hdr.encodeIntoCompressedBase64(this.histogram) };
  }
}

export interface PoolOptions {
  readonly target: TargetName;
  /** Gateway nodes; a subscriber connects to urls[spec.node]. */
  readonly urls: readonly string[];
  readonly localAddress: string | undefined;
  /** Reconnect with the SDK's backoff when a socket drops (the storm). */
  readonly reconnect: boolean;
}

/** The subscribers of one load-generator process. */
export class SubscriberPool {
  private readonly slots: Subscriber[] = [];
  private readonly fast = new Totals();
  private readonly slow = new Totals();
  private readonly kept = new Totals();
  private lastReceiveAt = 0;
  private unexpectedCloses = 0;
  private slowDisconnected = 0;
  private connectFailures = 0;
  private reconnectAttempts = 0;
  private readonly backAt: number[] = [];
  churnOpened = 0;
  churnClosed = 0;
  churnFailed = 0;
  private reconnect: boolean;

  constructor(private readonly options: PoolOptions) {
    this.reconnect = options.reconnect;
  }

  /** Opens and subscribes `specs`, at most `concurrency` handshakes in flight. */
  async open(specs: readonly SubscriberSpec[], concurrency: number): Promise<{ opened: number; failed: number }> {
    let next = 0;
    let opened = 0;
    const lane = async () => {
      while (next < specs.length) {
        const spec = specs[next++] as SubscriberSpec;
        const slot: Subscriber = { spec, client: undefined, subscribed: false, full: true, attempts: 0, streams: new Map() };
        this.slots.push(slot);
        let ok = await this.connect(slot);
        // Storm runs (reconnect on): a refused first connect (admission control) is retried with the SDK's backoff, as the SDK would.
        for (let attempt = 0; !ok && this.reconnect && attempt < 6; attempt++) {
          await new Promise((resolve) => setTimeout(resolve, reconnectDelay(attempt)));
          ok = await this.connect(slot);
        }
        if (ok) opened++;
        else this.connectFailures++;
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, concurrency) }, lane));
    return { opened, failed: specs.length - opened };
  }

  private totalsOf(spec: SubscriberSpec): Totals {
    return spec.keep === true ? this.kept : spec.slow ? this.slow : this.fast;
  }

  private async connect(slot: Subscriber): Promise<boolean> {
    const totals = this.totalsOf(slot.spec);
    const { urls } = this.options;
    const url = urls[slot.spec.node % urls.length] as string;
    const from = slot.spec.keep === true ? keptAddress(this.options.localAddress) : this.options.localAddress;
    const client = createClient(this.options.target, url, from, {
      onStamp: (t, s, p) => {
        // Stragglers to a connection we already closed belong to a life that was counted.
        if (slot.client !== client) return;
        const now = nowMs();
        recordLatency(totals.histogram, t, now);
        totals.deliveries++;
        this.lastReceiveAt = now;
        let stream = slot.streams.get(p);
        if (stream === undefined) slot.streams.set(p, (stream = new SequenceState(slot.full ? 0 : undefined)));
        stream.record(s);
      },
      onClose: () => {
        if (slot.client === client && slot.subscribed) this.lost(slot);
      },
    });
    slot.client = client;
    try {
      await client.connect();
      await client.subscribe(slot.spec.channel);
      slot.subscribed = true;
      return true;
    } catch {
      client.terminate();
      return false;
    }
  }

  /** A subscribed socket closed without us asking: end its life, maybe come back. */
  private lost(slot: Subscriber): void {
    this.endLife(slot);
    this.unexpectedCloses++;
    if (slot.spec.slow) this.slowDisconnected++;
    if (this.reconnect) this.scheduleReconnect(slot);
  }

  private endLife(slot: Subscriber): void {
    this.totalsOf(slot.spec).add(slot.streams);
    slot.streams = new Map();
    slot.subscribed = false;
    slot.full = false;
  }

  private scheduleReconnect(slot: Subscriber): void {
    const delay = reconnectDelay(slot.attempts++);
    setTimeout(() => {
      if (!this.reconnect) return;
      this.reconnectAttempts++;
      void this.connect(slot).then((ok) => {
        if (!ok) return this.scheduleReconnect(slot);
        slot.attempts = 0;
        this.backAt.push(nowMs());
      });
    }, delay).unref();
  }

  /** Closes the oldest subscribed fast client and opens a fresh one on its channel. */
  churnOne(cursor: number): number {
    for (let tried = 0; tried < this.slots.length; tried++) {
      const index = (cursor + tried) % this.slots.length;
      const slot = this.slots[index];
      if (slot === undefined || slot.spec.slow || !slot.subscribed) continue;
      slot.client?.close();
      this.endLife(slot);
      this.churnClosed++;
      this.churnOpened++;
      void this.connect(slot).then((ok) => {
        if (!ok) this.churnFailed++;
      });
      return index + 1;
    }
    return cursor;
  }

  setPaused(paused: boolean): number {
    let count = 0;
    for (const slot of this.slots) {
      if (!slot.spec.slow) continue;
      if (paused) slot.client?.pause();
      else slot.client?.resume();
      count++;
    }
    return count;
  }

  /** Client-side storm: every socket dropped without a close handshake (but the kept ones). */
  dropAll(): number {
    let dropped = 0;
    for (const slot of this.slots) {
      if (!slot.subscribed || slot.spec.keep === true) continue;
      slot.client?.terminate();
      dropped++;
    }
    return dropped;
  }

  private missing(expected: Owed, slow: boolean): number {
    let missing = 0;
    for (const slot of this.slots) {
      if (!slot.full || !slot.subscribed || slot.spec.slow !== slow) continue;
      expected.forEach((perChannel, publisher) => {
        const owed = perChannel[slot.spec.channel] ?? 0;
        missing += Math.max(0, owed - (slot.streams.get(publisher)?.unique ?? 0));
      });
    }
    return missing;
  }

  status(expected: Owed | undefined): WorkerStatus {
    const cpu = process.cpuUsage();
    return {
      subscribed: this.slots.reduce((n, slot) => n + (slot.subscribed ? 1 : 0), 0),
      deliveries: this.fast.deliveries + this.slow.deliveries + this.kept.deliveries,
      lastReceiveAt: this.lastReceiveAt,
      missing: expected === undefined ? 0 : this.missing(expected, false),
      slowMissing: expected === undefined ? 0 : this.missing(expected, true),
      back: this.backAt.length,
      cpuUserUs: cpu.user,
      cpuSystemUs: cpu.system,
    };
  }

  /** Final numbers; `expected` is what each publisher sent per channel. */
  report(expected: Owed): WorkerReport {
    for (const slot of this.slots) {
      if (!slot.subscribed) continue;
      const totals = this.totalsOf(slot.spec);
      const channel = slot.spec.channel;
      if (slot.full) {
        // A publisher whose messages never arrived has no stream yet: all of them are lost.
        expected.forEach((perChannel, publisher) => {
          if ((perChannel[channel] ?? 0) > 0 && !slot.streams.has(publisher)) slot.streams.set(publisher, new SequenceState(0));
        });
        totals.add(slot.streams, (publisher) => expected[publisher]?.[channel] ?? 0);
      } else totals.add(slot.streams);
      slot.streams = new Map();
    }
    return {
      fast: this.fast.encode(),
      slow: this.slow.encode(),
      kept: this.kept.encode(),
      slowClients: this.slots.filter((slot) => slot.spec.slow).length,
      slowDisconnected: this.slowDisconnected,
      unexpectedCloses: this.unexpectedCloses,
      connectFailures: this.connectFailures,
      churnOpened: this.churnOpened,
      churnClosed: this.churnClosed,
      churnFailed: this.churnFailed,
      reconnectAttempts: this.reconnectAttempts,
      backAt: this.backAt,
    };
  }

  closeAll(): void {
    this.reconnect = false;
    for (const slot of this.slots) slot.client?.close();
  }
}
