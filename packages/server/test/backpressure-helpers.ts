import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import v8 from 'node:v8';
import vm from 'node:vm';
import { WebSocket } from 'ws';
import { CommandPeer, type Msg } from './listeners.js';

/**
 * Helpers for the backpressure tests: a lean raw protocol client that keeps only what a
 * test asks for (so 10 MB of publications do not pile up in the test process whose RSS is
 * measured), reading switched off and on at the TCP level, and a forced GC for RSS samples.
 */

export type { Msg };

/** A publication as a test sees it. */
export interface SeenPub {
  readonly channel: string;
  readonly n: number;
  readonly offset: number | undefined;
  readonly key: string | undefined;
  /** performance.now() when its frame arrived. */
  readonly at: number;
  /** Index of the frame it arrived in (0-based, counting every frame of this socket). */
  readonly frame: number;
  /** true when it came in a subscribe reply (recovery), not as a push. */
  readonly recovered: boolean;
}

/**
 * A raw JSON-protocol client over `ws`. Every message is parsed; publications are kept
 * as SeenPub (without their payload padding), other messages are only passed to listeners.
 */
export class Peer extends CommandPeer {
  readonly pubs: SeenPub[] = [];
  frames = 0;
  readonly closed: Promise<{ code: number; reason: string }>;

  private constructor(readonly ws: WebSocket) {
    super();
    this.closed = new Promise((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
    ws.on('error', () => {});
    ws.on('message', (data: Buffer) => {
      const frame = this.frames++;
      const at = performance.now();
      for (const line of data.toString().split('\n')) {
        if (line.trim() === '') continue;
        const m = JSON.parse(line) as Msg;
        const push = m['push'];
        if (push?.pub !== undefined) this.pubs.push(seen(push.channel as string, push.pub as Msg, at, frame, false));
        const recovered = m['subscribe']?.publications as Msg[] | undefined;
        if (recovered !== undefined) {
          const channel = this.pending.get(m['id'] as number);
          if (channel !== undefined) for (const p of recovered) this.pubs.push(seen(channel, p, at, frame, true));
        }
        this.listeners.emit(m);
      }
    });
  }

  /** Subscribe ids → their channel, to attribute recovered publications. */
  private readonly pending = new Map<number, string>();

  static async open(url: string, track: (ws: WebSocket) => WebSocket): Promise<Peer> {
    const ws = track(new WebSocket(url));
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return new Peer(ws);
  }

  /** Resolves once `condition()` holds: now, or after some later message. */
  until(condition: () => boolean): Promise<void> {
    if (condition()) return Promise.resolve();
    return this.waitFor(() => condition()).then(() => undefined);
  }

  protected transmit(id: number, method: string, params: unknown): void {
    if (method === 'subscribe') this.pending.set(id, (params as { channel: string }).channel);
    this.ws.send(JSON.stringify({ id, [method]: params }));
  }

  async connect(token: string): Promise<string> {
    const reply = await this.call('connect', { token });
    if (reply['connect'] === undefined) throw new Error(`connect failed: ${JSON.stringify(reply)}`);
    return reply['connect'].client as string;
  }

  async subscribe(params: Record<string, unknown>): Promise<Msg> {
    const reply = await this.call('subscribe', params);
    if (reply['subscribe'] === undefined) throw new Error(`subscribe to ${String(params['channel'])} failed: ${JSON.stringify(reply)}`);
    return reply['subscribe'] as Msg;
  }

  /** Publications of `channel` seen so far. */
  of(channel: string): SeenPub[] {
    return this.pubs.filter((p) => p.channel === channel);
  }

  /**
   * Resubscribes, recovering from the last publication seen, whenever the server sends an
   * unsubscribe push with a resubscribe code (>= 2500) for `channel`; `resyncs` counts them.
   */
  followRecovering(channel: string, epoch: string): { resyncs: number; failures: string[] } {
    const state = { resyncs: 0, failures: [] as string[] };
    this.on((m) => {
      const push = m['push'];
      if (push?.channel !== channel || push.unsubscribe === undefined) return;
      if ((push.unsubscribe.code as number) < 2500) return;
      state.resyncs++;
      const last = this.of(channel).at(-1);
      this.call('subscribe', { channel, recover: true, offset: last?.offset ?? 0, epoch }).then((reply) => {
        const result = reply['subscribe'] as Msg | undefined;
        if (result?.['recovered'] !== true) state.failures.push(JSON.stringify(reply).slice(0, 300));
      }, (err: unknown) => state.failures.push(String(err)));
    });
    return state;
  }

  /** Stops reading from the TCP socket: the kernel buffers fill up, then the server's. */
  pauseReading(): void {
    socketOf(this.ws).pause();
  }

  resumeReading(): void {
    socketOf(this.ws).resume();
  }
}

function seen(channel: string, pub: Msg, at: number, frame: number, recovered: boolean): SeenPub {
  const data = pub['data'] as { n?: number } | undefined;
  return { channel, n: data?.n ?? Number.NaN, offset: pub['offset'] as number | undefined, key: (pub['tags'] as Record<string, string> | undefined)?.['key'], at, frame, recovered };
}

/** The TCP socket under a `ws` client. */
export function socketOf(ws: WebSocket): Socket {
  return (ws as unknown as { _socket: Socket })._socket;
}

let collect: (() => void) | undefined;

/** Resident set size of this process (which hosts the gateway) after a full GC, in bytes. */
export function rssAfterGc(): number {
  if (collect === undefined) {
    v8.setFlagsFromString('--expose-gc');
    collect = vm.runInNewContext('gc') as () => void;
  }
  collect();
  collect();
  return process.memoryUsage().rss;
}

/** Histogram buckets of `name` from a /metrics text: le → cumulative count, plus `count`. */
export function histogram(text: string, name: string): { buckets: Map<string, number>; count: number } {
  const buckets = new Map<string, number>();
  let count = Number.NaN;
  for (const line of text.split('\n')) {
    const bucket = new RegExp(`^${name}_bucket\\{le="([^"]+)"\\} (\\S+)$`).exec(line);
    if (bucket) buckets.set(bucket[1] as string, Number(bucket[2]));
    const total = new RegExp(`^${name}_count (\\S+)$`).exec(line);
    if (total) count = Number(total[1]);
  }
  return { buckets, count };
}

export const range = (from: number, to: number): number[] => Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);
