import type { ClientInfo } from '@fleetgate/protocol';
import { type JetStreamClient, jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { Msg, Subscription } from '@nats-io/transport-node';
import type {
  Broker,
  BrokerHandler,
  BrokerOptions,
  HistoryLimits,
  HistoryQuery,
  HistoryResult,
  JoinLeave,
  Publication,
  PublishOptions,
  PublishResult,
} from '../broker.js';
import { BrokerError } from '../broker.js';
import { decodeBody, decodeMessage, EnvelopeError, encodeBody } from '../envelope.js';
import { InterestBatcher } from '../interest.js';
import { HistoryStreams } from './history-streams.js';
import { IdempotencyRecords } from './idempotency.js';
import { NatsLink } from './link.js';
import { epochOf, idempotencyId, NatsNames, noResponders } from './names.js';
import { NatsPresence } from './presence.js';

export interface NatsBrokerOptions extends BrokerOptions {
  /** Subject and stream name prefix: fleets with different prefixes share a server unaware of each other. */
  readonly prefix?: string;
  /** JetStream replicas of each stream (1 on a single server; 3 for a fault-tolerant cluster). */
  readonly replicas?: number;
  /** How long a JetStream request (publish with history, history read) may take. */
  readonly requestTimeoutMs?: number;
  /** How often this node deletes history streams whose position expired (default 30 s). */
  readonly sweepIntervalMs?: number;
  /** How long a presence query waits for the other nodes' answers (default 1 s; see presence.ts). */
  readonly presenceWaitMs?: number;
}

interface JetStreamParts {
  readonly js: JetStreamClient;
  readonly streams: HistoryStreams;
  readonly records: IdempotencyRecords;
}

/**
 * NATS broker: fan-out over core NATS (`<prefix>.c.<channel token>`, subscribed only
 * while the node has local subscribers), history and offsets in one JetStream stream
 * per channel (see HistoryStreams), fleet control on `<prefix>.control`.
 *
 * A publication with history is one JetStream publish: the stream assigns the offset
 * (its sequence), stores, trims and deduplicates it, and republishes it to the fan-out
 * subject in sequence order (stream `republish`, done by the stream leader after it
 * stored the message). So appending and fan-out cannot be separated by a failure of the
 * publishing node, and subscribers get a channel's publications in offset order whichever
 * nodes published them. (Publishing to JetStream and then to core NATS from the node
 * would reorder concurrent publishers' messages and lose the fan-out when the node's
 * connection drops between the two.) A publication without history is a core NATS
 * publish of `|body` (see envelope.ts), at most once like every broker's; with an
 * idempotency key it goes through the dedupe stream instead (see IdempotencyRecords).
 * Joins and leaves are core publishes on the channel's fan-out too; presence stays in
 * each node's memory and is gathered from every node on demand (see NatsPresence).
 */
export class NatsBroker implements Broker {
  private readonly names: NatsNames;
  private readonly link: NatsLink;
  private parts: JetStreamParts | undefined;
  private handler: BrokerHandler | undefined;
  private readonly subs = new Map<string, Subscription>();
  private readonly interest = new InterestBatcher((op, channels) => (op === 'subscribe' ? this.listen(channels) : this.unlisten(channels)));
  private sweeper: NodeJS.Timeout | undefined;
  readonly presence: NatsPresence;

  constructor(
    urls: readonly string[],
    private readonly options: NatsBrokerOptions,
  ) {
    this.names = new NatsNames(options.prefix ?? 'fleetgate');
    this.link = new NatsLink(urls, options.requestTimeoutMs ?? 5_000, {
      onHealth: (up) => this.handler?.onHealth(up),
      onResync: () => {
        this.presence.resync();
        this.handler?.onResync();
      },
      probe: async () => {
        await this.parts?.streams.probe();
      },
    });
    this.presence = new NatsPresence(this.link, this.names, options.clock, options.presenceWaitMs ?? 1_000);
  }

  async start(handler: BrokerHandler): Promise<void> {
    this.handler = handler;
    const nc = await this.link.open();
    const timeout = this.options.requestTimeoutMs ?? 5_000;
    const js = jetstream(nc, { timeout });
    // No API check: without JetStream, channels without history still work.
    const jsm = await jetstreamManager(nc, { checkAPI: false, timeout });
    const { clock, idempotencyWindowMs, replicas = 1 } = this.options;
    this.parts = {
      js,
      streams: new HistoryStreams(jsm, this.names, { clock, idempotencyWindowMs, replicas }),
      records: new IdempotencyRecords(js, jsm, this.names, idempotencyWindowMs, replicas),
    };
    nc.subscribe(this.names.control, {
      callback: (err, msg) => {
        if (err === null) this.handler?.onControl(msg.string());
      },
    });
    this.presence.start(nc);
    await nc.flush();
    this.sweeper = setInterval(() => this.sweep(), this.options.sweepIntervalMs ?? 30_000).unref();
    this.link.started();
  }

  publish(channel: string, publication: Publication, options: PublishOptions): Promise<PublishResult> {
    const body = encodeBody(publication);
    const id = options.idempotencyKey === undefined ? undefined : idempotencyId(channel, options.idempotencyKey);
    return this.link.call(async () => {
      if (options.history !== undefined) return this.publishWithHistory(channel, body, options.history, id);
      if (id !== undefined) return { deduplicated: !(await this.jetStream().records.publishOnce(channel, id, `|${body}`)) };
      this.link.connection().publish(this.names.fanoutCore(channel), `|${body}`);
      return { deduplicated: false };
    });
  }

  private async publishWithHistory(channel: string, body: string, limits: HistoryLimits, id: string | undefined): Promise<PublishResult> {
    const { js, streams, records } = this.jetStream();
    // A stream's own dedupe window is at most its history TTL; a longer window needs a record.
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
      // No stream took it (deleted by another node, or swept): make one and publish again.
      if (!noResponders(err)) throw err;
      streams.forget(channel);
      stream = await streams.forPublish(channel, limits);
      ack = await js.publish(subject, body, publishOptions);
    }
    if (ack.stream !== stream) {
      // Another node replaced the stream (maybe from a history read, without limits): apply ours.
      streams.forget(channel);
      await streams.forPublish(channel, limits);
    }
    // The epoch comes from the stream that stored it, not from what this node believed.
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

  history(channel: string, query: HistoryQuery): Promise<HistoryResult> {
    return this.link.call(async () => {
      const { streams } = this.jetStream();
      const info = await streams.current(channel, query.metaTtlMs);
      const epoch = epochOf(info.config.name);
      const messages = await streams.read(info, query);
      return {
        publications: messages.map((m) => decodeBody(m.string(), { offset: m.seq, epoch })),
        position: { offset: info.state.last_seq, epoch },
      };
    });
  }

  removeHistory(channel: string): Promise<void> {
    return this.link.call(() => this.jetStream().streams.remove(channel));
  }

  async publishControl(message: string): Promise<void> {
    this.link.connection().publish(this.names.control, message);
  }

  publishJoinLeave(channel: string, kind: JoinLeave, info: ClientInfo): Promise<void> {
    const message = JSON.stringify(info);
    return this.link.call(async () => this.link.connection().publish(this.names.joinLeave(channel, kind), message));
  }

  async close(): Promise<void> {
    this.handler = undefined;
    clearInterval(this.sweeper);
    this.presence.close();
    await this.link.close();
  }

  /** Subscribes fan-out subjects; resolves once the server has them (one round trip per batch). */
  private async listen(channels: readonly string[]): Promise<void> {
    // A subscribe must not wait for a reconnect: the caller retries with backoff.
    const nc = this.link.connection();
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
      await this.link.flush();
    } catch (err) {
      for (const [channel, sub] of added) {
        sub.unsubscribe();
        if (this.subs.get(channel) === sub) this.subs.delete(channel);
      }
      throw err;
    }
  }

  private async unlisten(channels: readonly string[]): Promise<void> {
    // Works while disconnected too: the client then does not restore it on reconnect.
    for (const channel of channels) {
      this.subs.get(channel)?.unsubscribe();
      this.subs.delete(channel);
    }
  }

  private deliver(channel: string, msg: Msg): void {
    const kind = msg.subject.slice(msg.subject.lastIndexOf('.') + 1);
    if (kind === 'j' || kind === 'l') return this.deliverJoinLeave(channel, kind === 'j' ? 'join' : 'leave', msg);
    let publication: Publication;
    try {
      // Republished by a history stream: the position is in its headers, the body as stored.
      // Core publishes and the dedupe stream's republished claims carry `|body`.
      const stream = msg.headers?.get('Nats-Stream') ?? '';
      publication =
        stream === '' || stream === this.names.dedupeStream
          ? decodeMessage(msg.string())
          : decodeBody(msg.string(), { offset: Number(msg.headers?.get('Nats-Sequence')), epoch: epochOf(stream) });
    } catch (err) {
      // Not ours (another client on our subject): dropped rather than thrown into the NATS client.
      if (err instanceof EnvelopeError || err instanceof SyntaxError) return;
      throw err;
    }
    this.handler?.onPublication(channel, publication);
  }

  private deliverJoinLeave(channel: string, kind: JoinLeave, msg: Msg): void {
    let info: ClientInfo;
    try {
      info = JSON.parse(msg.string()) as ClientInfo;
    } catch {
      return; // not ours: dropped like a foreign publication
    }
    this.handler?.onJoinLeave(channel, kind, info);
  }

  private sweep(): void {
    this.presence.sweep();
    if (!this.link.isUp) return;
    // Retried next interval; history reads check expiry themselves.
    this.parts?.streams.sweep().catch(() => undefined);
  }

  private jetStream(): JetStreamParts {
    if (this.parts === undefined) throw new BrokerError('NATS broker not started');
    return this.parts;
  }
}
