import { WebSocket } from 'ws';
import { RawClient } from './helpers.js';
import { Counter } from './sdk-helpers.js';
import { CommandPeer, type Msg } from './listeners.js';

/**
 * Helpers for the history / recovery tests: a raw-JSON view of a RawClient (exact wire
 * shapes, replies matched by id, every message seen in order by synchronous listeners)
 * and a `ws` WebSocket class for the SDK whose new sockets can be held back behind a
 * gate and whose current socket can be killed from the network side.
 */

export type { Msg };

export class Deferred<T = void> {
  readonly promise: Promise<T>;
  resolve!: (value: T) => void;
  constructor() {
    this.promise = new Promise<T>((resolve) => (this.resolve = resolve));
  }
}

/** Raw JSON protocol on a RawClient: messages parsed line by line, in arrival order. */
export class Wire extends CommandPeer {
  /** Every message received, parsed. */
  readonly log: Msg[] = [];
  /** Every frame received, verbatim. */
  readonly frames: string[] = [];

  constructor(readonly raw: RawClient) {
    super();
    raw.ws.on('message', (data: Buffer) => {
      const text = data.toString();
      this.frames.push(text);
      for (const line of text.split('\n')) {
        if (line.trim() === '') continue;
        const m = JSON.parse(line) as Msg;
        this.log.push(m);
        this.listeners.emit(m);
      }
    });
  }

  static async open(url: string): Promise<Wire> {
    const raw = await RawClient.open(url);
    raw.ws.on('error', () => {});
    return new Wire(raw);
  }

  protected transmit(id: number, method: string, params: unknown): void {
    this.raw.send({ id, [method]: params });
  }

  /** Connects; throws unless the reply is a connect result. */
  async connect(token?: string, extra: Record<string, unknown> = {}): Promise<Msg> {
    const reply = await this.call('connect', { ...(token === undefined ? {} : { token }), ...extra });
    if (reply['connect'] === undefined) throw new Error(`connect failed: ${JSON.stringify(reply)}`);
    return reply['connect'] as Msg;
  }

  /** Subscribes; resolves with the reply message (result or error). */
  subscribe(params: Record<string, unknown>): Promise<Msg> {
    return this.call('subscribe', params);
  }

  /** Publication pushes of `channel` received from now on. */
  pubs(channel: string): Msg[] {
    const out: Msg[] = [];
    this.on((m) => {
      if (m['push']?.channel === channel && m['push'].pub !== undefined) out.push(m['push'].pub as Msg);
    });
    return out;
  }

  terminate(): void {
    if (this.raw.ws.readyState !== WebSocket.CLOSED) this.raw.ws.terminate();
  }
}

/** What a test controls of the sockets an SDK client opens. */
export interface SocketControl {
  /** Sockets created from now on wait (unconnected) until release(). */
  hold(): void;
  release(): void;
  /** Counts socket constructions by the SDK (connection attempts). */
  readonly attempts: Counter;
  /** Every frame the SDK sent, verbatim. */
  readonly sent: string[];
  /** The newest real socket. */
  current: WebSocket | undefined;
  /** Kills the current socket as the network would: no close frame, the SDK sees 1006. */
  terminate(): void;
  /** Commands of `method` the SDK sent, parsed. */
  commands(method: string): Msg[];
}

/**
 * A WebSocket class for the SDK's `websocket` option: behaves like `ws`, but a socket
 * created while the gate is held only connects once it is released, so a test can
 * hold a reconnect back until it has done what it needs while the client is away.
 */
export function controlledWebSocket(): { control: SocketControl; WebSocket: new (url: string, protocols?: string | string[]) => unknown } {
  let gate: Deferred | undefined;
  const control: SocketControl = {
    hold: () => {
      gate ??= new Deferred();
    },
    release: () => {
      gate?.resolve();
      gate = undefined;
    },
    attempts: new Counter(),
    sent: [],
    current: undefined,
    terminate: () => control.current?.terminate(),
    commands: (method) =>
      control.sent
        .flatMap((frame) => frame.split('\n'))
        .filter((line) => line.trim() !== '')
        .map((line) => JSON.parse(line) as Msg)
        .filter((m) => m[method] !== undefined)
        .map((m) => m[method] as Msg),
  };

  class ControlledWebSocket {
    onopen: ((event: unknown) => void) | null = null;
    onclose: ((event: unknown) => void) | null = null;
    onerror: ((event: unknown) => void) | null = null;
    onmessage: ((event: unknown) => void) | null = null;
    binaryType = 'nodebuffer';
    private real: WebSocket | undefined;
    private abandoned = false;

    constructor(url: string, protocols?: string | string[]) {
      control.attempts.inc();
      const open = () => {
        if (this.abandoned) return;
        const ws = new WebSocket(url, protocols);
        this.real = ws;
        control.current = ws;
        ws.binaryType = this.binaryType as 'nodebuffer';
        ws.onopen = (e) => this.onopen?.(e);
        ws.onmessage = (e) => this.onmessage?.(e);
        ws.onerror = (e) => this.onerror?.(e);
        ws.onclose = (e) => this.onclose?.(e);
      };
      if (gate === undefined) open();
      else void gate.promise.then(open);
    }

    get readyState(): number {
      return this.real?.readyState ?? WebSocket.CONNECTING;
    }

    send(data: string): void {
      control.sent.push(String(data));
      this.real?.send(data);
    }

    close(code?: number, reason?: string): void {
      if (this.real === undefined) this.abandoned = true;
      else this.real.close(code, reason);
    }
  }

  return { control, WebSocket: ControlledWebSocket };
}

export const range = (from: number, to: number): number[] => Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);
