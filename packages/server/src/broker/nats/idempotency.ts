import { DiscardPolicy, JetStreamApiError, type JetStreamClient, type JetStreamManager, RetentionPolicy, StorageType } from '@nats-io/jetstream';
import { nanos } from '@nats-io/transport-node';
import type { StreamPosition } from '../broker.js';
import { decodePosition, encodePosition } from '../envelope.js';
import { type NatsNames, noResponders } from './names.js';

const codes = { streamNotFound: 10059, streamNameInUse: 10058 } as const;

/**
 * Idempotency that a history stream's own dedupe cannot give: one stream for the fleet,
 * one subject per (channel, key), each message kept for the idempotency window.
 *
 * - A publication without history is published into this stream, its key as Nats-Msg-Id,
 *   and the stream republishes it to the channel's fan-out. Storing (the claim on the key)
 *   and fan-out are one server-side step: a repeat within the window is answered
 *   "duplicate" and not republished, and a publish whose outcome was lost with the
 *   connection can be retried with its key without being lost or doubled.
 * - A publication with history is deduplicated by its own stream (same Nats-Msg-Id), but
 *   JetStream caps a stream's dedupe window at its max_age (the history TTL). When the
 *   TTL is shorter than the idempotency window, the position is also recorded here and
 *   looked up before publishing.
 */
export class IdempotencyRecords {
  private ready: Promise<void> | undefined;

  constructor(
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly names: NatsNames,
    private readonly windowMs: number,
    private readonly replicas: number,
  ) {}

  /** Publishes `message` (an envelope without position) to `channel` once per `id` within the window; false for a repeat. */
  async publishOnce(channel: string, id: string, message: string): Promise<boolean> {
    const ack = await this.withStream(() => this.js.publish(this.names.claim(channel, id), message, { msgID: id }));
    return !ack.duplicate;
  }

  /** Where an earlier publication with history and this `id` landed, within the window. */
  async recall(id: string): Promise<StreamPosition | undefined> {
    await this.ensure();
    try {
      const record = await this.jsm.streams.getMessage(this.names.dedupeStream, { last_by_subj: this.names.record(id) });
      return record === null ? undefined : decodePosition(record.string());
    } catch (err) {
      if (!(err instanceof JetStreamApiError && err.code === codes.streamNotFound)) throw err;
      this.ready = undefined;
      return undefined;
    }
  }

  /** Records where a publication with history and this `id` landed. */
  async remember(id: string, position: StreamPosition): Promise<void> {
    await this.withStream(() => this.js.publish(this.names.record(id), encodePosition(position)));
  }

  private ensure(): Promise<void> {
    this.ready ??= this.create().catch((err: unknown) => {
      this.ready = undefined;
      throw err;
    });
    return this.ready;
  }

  private async create(): Promise<void> {
    const windowMs = Math.max(this.windowMs, 100);
    try {
      await this.jsm.streams.add({
        name: this.names.dedupeStream,
        subjects: [this.names.allClaims, this.names.allRecords],
        retention: RetentionPolicy.Limits,
        storage: StorageType.File,
        discard: DiscardPolicy.Old,
        max_msgs_per_subject: 1,
        max_age: nanos(windowMs),
        duplicate_window: nanos(windowMs),
        num_replicas: this.replicas,
        republish: { src: this.names.allClaims, dest: this.names.claimFanout },
      });
    } catch (err) {
      // Made by another node (possibly with another window: the first node's stands).
      if (!(err instanceof JetStreamApiError && err.code === codes.streamNameInUse)) throw err;
    }
  }

  /** Runs a publish into the stream, creating it again if it vanished (no responders). */
  private async withStream<T>(run: () => Promise<T>): Promise<T> {
    await this.ensure();
    try {
      return await run();
    } catch (err) {
      if (!noResponders(err)) throw err;
      this.ready = undefined;
      await this.ensure();
      return run();
    }
  }
}
