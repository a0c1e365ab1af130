import { createHash } from 'node:crypto';

/**
 * Subjects and stream names of one fleet (one prefix) on a NATS server.
 *
 * Channel names may hold '.', '*', '>' and spaces, which mean something in a subject,
 * so a channel is one subject token: the base64url of its name (A–Z a–z 0–9 - _).
 */
export class NatsNames {
  /** Stream names allow no '.', '*', '>', whitespace or path separators. */
  private readonly streamPrefix: string;

  constructor(readonly prefix: string) {
    this.streamPrefix = prefix.replace(/[^A-Za-z0-9_-]/g, '_');
  }

  /**
   * Everything for a channel reaches its nodes on `<prefix>.c.<token>.<kind>`: `p` core
   * publishes, `h` its history stream's republished messages, `<id>` publications with an
   * idempotency key republished by the dedupe stream, `j`/`l` joins and leaves. A node
   * subscribes to all at once.
   */
  fanout(channel: string): string {
    return `${this.prefix}.c.${token(channel)}.*`;
  }

  fanoutCore(channel: string): string {
    return `${this.prefix}.c.${token(channel)}.p`;
  }

  fanoutHistory(channel: string): string {
    return `${this.prefix}.c.${token(channel)}.h`;
  }

  /**
   * A join or leave in the channel: one-letter kinds `j` and `l` on its fan-out, so they
   * reach exactly the nodes subscribed to it (idempotency ids are 22 characters: no clash).
   */
  joinLeave(channel: string, kind: 'join' | 'leave'): string {
    return `${this.prefix}.c.${token(channel)}.${kind === 'join' ? 'j' : 'l'}`;
  }

  /** Presence queries, which every node answers for its own connections (see presence.ts). */
  get presenceQuery(): string {
    return `${this.prefix}.pq`;
  }

  /** Node hellos and goodbyes: who a presence query waits for (see roster.ts). */
  get roster(): string {
    return `${this.prefix}.pn`;
  }

  /** JetStream subject the channel's history stream captures. */
  history(channel: string): string {
    return `${this.prefix}.h.${token(channel)}`;
  }

  /** Every history subject of the fleet, for the sweeper. */
  get allHistory(): string {
    return `${this.prefix}.h.>`;
  }

  get control(): string {
    return `${this.prefix}.control`;
  }

  /** The stream of idempotency records: claims (publications without history) and positions. */
  get dedupeStream(): string {
    return `${this.streamPrefix}_dedupe`;
  }

  /** A publication without history claiming its key; the dedupe stream republishes it to the channel. */
  claim(channel: string, id: string): string {
    return `${this.prefix}.d.${token(channel)}.${id}`;
  }

  get allClaims(): string {
    return `${this.prefix}.d.*.*`;
  }

  /** Where claims are republished: the channel's fan-out, kind = the key's id. */
  get claimFanout(): string {
    return `${this.prefix}.c.{{wildcard(1)}}.{{wildcard(2)}}`;
  }

  /** Where a publication with history and a key landed (kept for the idempotency window). */
  record(id: string): string {
    return `${this.prefix}.r.${id}`;
  }

  get allRecords(): string {
    return `${this.prefix}.r.*`;
  }

  /**
   * A history stream's name carries its epoch: every node reads the same epoch from the
   * name (in a PubAck, a republished message's Nats-Stream header, a stream listing), and
   * a deleted and recreated stream necessarily has a new name, hence a new epoch.
   */
  stream(channel: string, epoch: string): string {
    return `${this.streamPrefix}_h_${digest(channel, 'hex', 32)}_${epoch}`;
  }
}

/** The epoch in a history stream's name (epochs are letters only, so the last '_' splits). */
export function epochOf(stream: string): string {
  return stream.slice(stream.lastIndexOf('_') + 1);
}

/** Nats-Msg-Id and dedupe subject token for an idempotency key: any string, hashed to a safe token. */
export function idempotencyId(channel: string, key: string): string {
  return digest(`${channel}\u0000${key}`, 'base64url', 22);
}

/**
 * Whether a JetStream request found nobody to answer it: no stream captures the subject
 * (a publish), or JetStream is off. The client reports both as JetStreamNotEnabled,
 * a class it does not export.
 */
export function noResponders(err: unknown): boolean {
  return err instanceof Error && err.name === 'JetStreamNotEnabled';
}

function token(channel: string): string {
  // base64url of a non-empty string is at least two characters, so '-' cannot clash.
  return channel === '' ? '-' : Buffer.from(channel, 'utf8').toString('base64url');
}

function digest(text: string, encoding: 'hex' | 'base64url', length: number): string {
  return createHash('sha256').update(text, 'utf8').digest(encoding).slice(0, length);
}
