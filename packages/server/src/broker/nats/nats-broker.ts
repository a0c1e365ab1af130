import { type JetStreamClient, type JetStreamManager, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, deadline, type Msg, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import type {
  Broker,
  BrokerHandler,
  BrokerOptions,
  HistoryLimits,
  HistoryQuery,
  HistoryResult,
  Publication,
  PublishOptions,
  PublishResult,
} from '../broker.js';
import { BrokerError } from '../broker.js';
import { decodeBody, decodeMessage, EnvelopeError, encodeBody } from '../envelope.js';
import { InterestBatcher } from '../interest.js';
import { HistoryStreams } from './history-streams.js';
import { IdempotencyRecords } from './idempotency.js';
import { epochOf, idempotencyId, NatsNames, noResponders } from './names.js';

export interface NatsBrokerOptions extends BrokerOptions {
  /** Subject prefix (and stream name prefix): fleets with different prefixes share a server unaware of each other. */
  readonly prefix?: string;
  /** JetStream replicas of each history stream (1 on a single server; 3 for a fault-tolerant cluster). */
  readonly replicas?: number;
  /** How long a JetStream request (publish with history, history read) may take. */
  readonly requestTimeoutMs?: number;
  /** How often this node deletes history streams whose position expired (default 30 s). */
  readonly sweepIntervalMs?: number;
}

/** After a reconnect: how long to wait for JetStream (a restarted server loads its streams) before reporting up. */
const jetStreamWaitMs = 5_000;

/**
 * NATS broker: fan-out over core NATS (`<prefix>.c.<channel token>`, subscribed only
 * while the node has local subscribers), history and offsets in one JetStream stream
 * per channel (see HistoryStreams), fleet control on `<prefix>.control`.
 *
 * A publication with history is one JetStream publish: the stream assigns the offset
 * (its sequence), stores, trims and deduplicates it, and republishes it to the fan-out
 * subject in sequence order (stream `republish`). So appending and fan-out cannot be
 * separated by a failure of this node, and subscribers get a channel's publications in
 * offset order whichever nodes published them. A publication without history is a core
 * NATS publish of `|body` (see envelope.ts).
 */
export class NatsBroker implements Broker {
  private readonly names: NatsNames;
  private readonly timeoutMs: number;
  private nc: NatsConnection | undefined;
  private js: JetStreamClient | undefined;
  private streams: HistoryStreams | undefined;
  private records: IdempotencyRecords | undefined;
  private handler: BrokerHandler | undefined;
  private readonly subs = new Map<string, Subscription>();
  private readonly interest = new InterestBatcher((op, channels) => (op === 'subscribe' ? this.listen(channels) : this.unlisten(channels)));
  private up = false;
  /** Counts disconnects, so a slow "back up" check cannot report up after a newer disconnect. */
  private outages = 0;
  private closing = false;
  private sweeper: NodeJS.Timeout | undefined;

  constructor(
    private readonly urls: readonly string[],
    private readonly options: NatsBrokerOptions,
  ) {
    this.names = new NatsNames(options.prefix ?? 'fleetgate');
    this.timeoutMs = options.requestTimeoutMs ?? 5_000;
  }

  async start(handler: BrokerHandler): Promise<void> {
    this.handler = handler;
    let nc: NatsConnection;
    try {
      nc = await connect({
        servers: [...this.urls],
        name: 'fleetgate',
        maxReconnectAttempts: -1,
        reconnectTimeWait: 500,
        reconnectJitter: 500,
        // A half-open connection is noticed within ~10 s.
        pingInterval: 5_000,
        maxPingOut: 2,
        timeout: this.timeoutMs,
      });
    } catch (cause) {
      throw new BrokerError(`cannot reach NATS (${this.urls.join(', ')}): ${(cause as Error).message}`, { cause });
    }
    this.nc = nc;
    const js = (this.js = jetstream(nc, { timeout: this.timeoutMs }));
    // No API check here: without JetStream, channels without history still work.
    const jsm = await jetstreamManager(nc, { checkAPI: false, timeout: this.timeoutMs });
    const replicas = this.options.replicas ?? 1;
    this.streams = new HistoryStreams(jsm, this.names, { clock: this.options.clock, idempotencyWindowMs: this.options.idempotencyWindowMs, replicas });
    this.records = new IdempotencyRecords(js, jsm, this.names, this.options.idempotencyWindowMs, replicas);
    nc.subscribe(this.names.control, {
      callback: (err, msg) => {
        if (err === null) this.handler?.onControl(msg.string());
      },
    });
    await nc.flush();
    void this.watch(nc, jsm);
    this.sweeper = setInterval(() => this.sweep(), this.options.sweepIntervalMs ?? 30_000).unref();
    this.setUp(true);
  }

  async publish(channel: string, publication: Publication, options: PublishOptions): Promise<PublishResult> {
    this.connection();
    const body = encodeBody(publication);
    const id = options.idempotencyKey === undefined ? undefined : idempotencyId(channel, options.idempotencyKey);
    return this.call(async () => {
      if (options.history !== undefined) return this.publishWithHistory(channel, body, options.history, id);
      if (id !== undefined && !(await this.ready().records.claim(id))) return { deduplicated: true };
      this.connection().publish(this.names.fanout(channel), `|${body}`);
      return { deduplicated: false };
    });
  }

  private async publishWithHistory(channel: string, body: string, limits: HistoryLimits, id: string | undefined): Promise<PublishResult> {
    const { js, streams, records } = this.ready();
    // The stream's own dedupe window is at most the history TTL; a longer window needs a record.
    const recorded = id !== undefined && limits.ttlMs < this.options.idempotencyWindowMs;
    if (recorded) {
      const earlier = await records.recall(id);
      if (earlier !== undefined) return { deduplicated: true, position: earlier };
    }
    const subject = this.names.history(channel);
    const publishOptions = id === undefined ? {} : { msgID: id };
    let stream = await streams.forPublish(channel, limits);
    let ack;
    try {
      ack = await js.publish(subject, body, publishOptions);
    } catch (err) {
      // No stream answered (deleted by another node, or expired): make one and publish again.
      if (!noResponders(err)) throw err;
      streams.forget(channel);
      stream = await streams.forPublish(channel, limits);
      ack = await js.publish(subject, body, publishOptions);
    }
    if (ack.stream !== stream) {
      // Another node replaced the stream (possibly from a history read, without limits): apply ours.
      streams.forget(channel);
      await streams.forPublish(channel, limits);
    }
    const position = { offset: ack.seq, epoch: epochOf(ack.stream) };
    if (recorded && !ack.duplicate) await records.remember(id, position);
    return { deduplicated: ack.duplicate, position };
  }

  subscribe(channels: readonly string[]): Promise<void> {
    return this.interest.request('subscribe', channels);
  }

  unsubscribe(channels: readonly string[]): Promise<void> {
    return this.interest.request('unsubscribe', channels);
  }

  async history(channel: string, query: HistoryQuery): Promise<HistoryResult> {
    this.connection();
    const { streams } = this.ready();
    return this.call(async () => {
      const info = await streams.current(channel, query.metaTtlMs);
      const epoch = epochOf(info.config.name);
      const messages = await streams.read(info, query);
      return {
        publications: messages.map((m) => decodeBody(m.string(), { offset: m.seq, epoch })),
        position: { offset: info.state.last_seq, epoch },
      };
    });
  }

  async removeHistory(channel: string): Promise<void> {
    this.connection();
    const { streams } = this.ready();
    await this.call(() => streams.remove(channel));
  }

  async publishControl(message: string): Promise<void> {
    this.connection().publish(this.names.control, message);
  }

  async close(): Promise<void> {
    this.closing = true;
    this.handler = undefined;
    clearInterval(this.sweeper);
    const nc = this.nc;
    if (nc === undefined || nc.isClosed()) return;
    // Drain delivers what is in flight; a connection that is down closes at once.
    if (this.up) await deadline(nc.drain(), this.timeoutMs).catch(() => undefined);
    if (!nc.isClosed()) await nc.close();
  }

  /** Subscribes the fan-out subjects; resolves once the server has them (a round trip). */
  private async listen(channels: readonly string[]): Promise<void> {
    // A subscribe must not wait for a reconnect: the caller retries with backoff.
    const nc = this.connection();
    const added: [string, Subscription][] = [];
    for (const channel of channels) {
      if (this.subs.has(channel)) continue;
      const sub = nc.subscribe(this.names.fanout(channel), {
        callback: (err, msg) => {
          if (err === null) this.deliver(channel, msg);
        },
      });
      this.subs.set(channel, sub);
      added.push([channel, sub]);
    }
    try {
      await deadline(nc.flush(), this.timeoutMs);
    } catch (cause) {
      for (const [channel, sub] of added) {
        sub.unsubscribe();
        if (this.subs.get(channel) === sub) this.subs.delete(channel);
      }
      throw new BrokerError(`NATS: subscribing failed: ${(cause as Error).message}`, { cause });
    }
  }

  private async unlisten(channels: readonly string[]): Promise<void> {
    // Works while disconnected too: the client does not restore it on reconnect.
    for (const channel of channels) {
      this.subs.get(channel)?.unsubscribe();
      this.subs.delete(channel);
    }
  }

  private deliver(channel: string, msg: Msg): void {
    let publication: Publication;
    try {
      // Republished by a history stream: the position is in its headers, the body as stored.
      const seq = msg.headers?.get('Nats-Sequence');
      publication =
        seq === undefined || seq === ''
          ? decodeMessage(msg.string())
          : decodeBody(msg.string(), { offset: Number(seq), epoch: epochOf(msg.headers?.get('Nats-Stream') ?? '') });
    } catch (err) {
      // Not ours (another client on our subject): dropped rather than breaking the connection.
      if (err instanceof EnvelopeError || err instanceof SyntaxError) return;
      throw err;
    }
    this.handler?.onPublication(channel, publication);
  }

  /** Follows the connection: down on disconnect; up again (and resync) once JetStream answers. */
  private async watch(nc: NatsConnection, jsm: JetStreamManager): Promise<void> {
    for await (const status of nc.status()) {
      if (status.type === 'disconnect' || status.type === 'staleConnection') {
        this.outages += 1;
        this.setUp(false);
      } else if (status.type === 'reconnect') {
        void this.back(nc, jsm, this.outages);
      }
    }
    this.setUp(false);
  }

  private async back(nc: NatsConnection, jsm: JetStreamManager, outage: number): Promise<void> {
    await this.jetStreamBack(jsm);
    // A newer disconnect (or close) overtook this reconnect: its own reconnect reports.
    if (outage !== this.outages || nc.isClosed() || this.closing) return;
    this.setUp(true);
    // The client resubscribed; what was published meanwhile was missed.
    this.handler?.onResync();
  }

  /** Waits (bounded) until JetStream answers, so the resync reads real positions. */
  private async jetStreamBack(jsm: JetStreamManager): Promise<void> {
    const until = Date.now() + jetStreamWaitMs;
    while (Date.now() < until && !this.closing) {
      try {
        await jsm.getAccountInfo();
        return;
      } catch (err) {
        if (noResponders(err)) return; // a server without JetStream: nothing to wait for
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  }

  private setUp(up: boolean): void {
    if (this.up === up) return;
    this.up = up;
    if (!this.closing) this.handler?.onHealth(up);
  }

  private sweep(): void {
    if (!this.up || this.streams === undefined) return;
    this.streams.sweep().catch(() => undefined); // retried next interval; reads check expiry themselves
  }

  /** The connection, if it is up: while NATS is away, operations fail at once instead of queueing. */
  private connection(): NatsConnection {
    if (this.nc === undefined) throw new BrokerError('NATS broker not started');
    if (!this.up || this.nc.isClosed()) throw new BrokerError('NATS is unreachable');
    return this.nc;
  }

  private ready(): { js: JetStreamClient; streams: HistoryStreams; records: IdempotencyRecords } {
    if (this.js === undefined || this.streams === undefined || this.records === undefined) throw new BrokerError('NATS broker not started');
    return { js: this.js, streams: this.streams, records: this.records };
  }

  /** Runs a JetStream operation; a failure becomes a BrokerError, never a silent loss. */
  private async call<T>(run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (cause) {
      if (cause instanceof BrokerError) throw cause;
      const reason = noResponders(cause) ? 'JetStream is not available (history and idempotency keys need nats-server -js)' : (cause as Error).message;
      throw new BrokerError(`NATS: ${reason}`, { cause });
    }
  }
}
