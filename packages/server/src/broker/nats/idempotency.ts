import {
  DiscardPolicy,
  JetStreamApiError,
  type JetStreamClient,
  type JetStreamManager,
  RetentionPolicy,
  StorageType,
} from '@nats-io/jetstream';
import { Empty, nanos } from '@nats-io/transport-node';
import type { StreamPosition } from '../broker.js';
import { decodePosition, encodePosition } from '../envelope.js';
import { type NatsNames, noResponders } from './names.js';

const codes = { streamNotFound: 10059, streamNameInUse: 10058 } as const;

/**
 * Idempotency records that a history stream's own dedupe cannot keep: one small stream,
 * one subject per (channel, key), messages kept for the idempotency window.
 *
 * - A publication without history claims its key by publishing an empty record with the
 *   key as Nats-Msg-Id: JetStream answers "duplicate" to the second claim within the
 *   window, atomically, on every node.
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

  /** Claims `id` for a publication without history; false when it was claimed within the window. */
  async claim(id: string): Promise<boolean> {
    const ack = await this.withStream(() => this.js.publish(this.names.dedupeSubject(id), Empty, { msgID: id }));
    return !ack.duplicate;
  }

  /** Where an earlier publication with history and this `id` landed, within the window. */
  async recall(id: string): Promise<StreamPosition | undefined> {
    await this.ensure();
    try {
      const record = await this.jsm.streams.getMessage(this.names.dedupeStream, { last_by_subj: this.names.dedupeSubject(id) });
      return record === null ? undefined : decodePosition(record.string());
    } catch (err) {
      if (!(err instanceof JetStreamApiError && err.code === codes.streamNotFound)) throw err;
      this.ready = undefined;
      return undefined;
    }
  }

  /** Records where a publication with history and this `id` landed. */
  async remember(id: string, position: StreamPosition): Promise<void> {
    await this.withStream(() => this.js.publish(this.names.dedupeSubject(id), encodePosition(position)));
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
        subjects: [this.names.allDedupe],
        retention: RetentionPolicy.Limits,
        storage: StorageType.File,
        discard: DiscardPolicy.Old,
        max_msgs_per_subject: 1,
        max_age: nanos(windowMs),
        duplicate_window: nanos(windowMs),
        num_replicas: this.replicas,
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
