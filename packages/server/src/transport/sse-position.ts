/**
 * Tracks the stream position of every positioned channel a unidirectional SSE client
 * receives, and writes it into the SSE event id. A plain EventSource sends the last id
 * back as `Last-Event-ID` when it reconnects, and the server turns it into `subs` with
 * `recover`, so the client resumes from where it was without any code of its own.
 */
export class PositionTracker {
  private readonly positions = new Map<string, [offset: number, epoch: string]>();

  /** Notes what `message` (a bare push) moves; returns the new event id, if any. */
  observe(message: string): string | undefined {
    if (message.startsWith('{"connect":')) return this.onConnect(message);
    if (!message.startsWith('{"channel":') || !message.includes('"pub":')) return undefined;
    const push = JSON.parse(message) as { channel: string; pub: { offset?: number } };
    const known = this.positions.get(push.channel);
    if (known === undefined || push.pub.offset === undefined) return undefined;
    known[0] = push.pub.offset;
    return this.id();
  }

  private onConnect(message: string): string | undefined {
    const { connect } = JSON.parse(message) as { connect: { subs?: Record<string, { epoch?: string; offset?: number; publications?: { offset?: number }[] }> } };
    for (const [channel, sub] of Object.entries(connect.subs ?? {})) {
      if (sub.epoch === undefined) continue;
      const last = sub.publications?.at(-1)?.offset;
      this.positions.set(channel, [last ?? sub.offset ?? 0, sub.epoch]);
    }
    return this.positions.size > 0 ? this.id() : undefined;
  }

  private id(): string {
    return Buffer.from(JSON.stringify(Object.fromEntries(this.positions))).toString('base64url');
  }
}

/** `Last-Event-ID` back into connect `subs`; undefined when it is not one of ours. */
export function subsFromEventId(id: string): Record<string, { recover: true; offset: number; epoch: string }> | undefined {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(id, 'base64url').toString('utf8'));
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined;
    const subs: Record<string, { recover: true; offset: number; epoch: string }> = {};
    for (const [channel, value] of Object.entries(parsed)) {
      if (!Array.isArray(value) || !Number.isSafeInteger(value[0]) || typeof value[1] !== 'string') return undefined;
      Object.defineProperty(subs, channel, { value: { recover: true, offset: value[0] as number, epoch: value[1] }, enumerable: true });
    }
    return subs;
  } catch {
    return undefined;
  }
}
