import { WebSocket } from 'ws';
import { type Payload, scanStamps, type StampHandler } from '../payload.js';

export interface ClientEvents {
  /** A publication arrived: its send time, sequence and publisher. */
  readonly onStamp: StampHandler;
  /** The socket closed after the handshake (code 1006 when dropped). */
  readonly onClose: (code: number) => void;
}

const noEvents: ClientEvents = { onStamp: () => undefined, onClose: () => undefined };

/**
 * A bare WebSocket client for one target's wire format: handshake, subscribe (join),
 * publish, and payload scanning. No SDK, no validation of pushes: the generator must be
 * far cheaper than the server it loads. Subclasses speak the target's framing.
 */
export abstract class LeanClient {
  protected ws: WebSocket | undefined;
  private pending = new Map<string, { resolve: () => void; reject: (err: Error) => void }>();
  private closed = false;

  constructor(
    protected readonly url: string,
    private readonly localAddress: string | undefined,
    protected readonly events: ClientEvents = noEvents,
  ) {}

  /** Path and query of the WebSocket endpoint. */
  protected abstract readonly path: string;
  /** Handles a text frame that is not only payloads; calls `settle` for acknowledgements. */
  protected abstract onControl(text: string): void;
  /** True when the frame is a publication (scanned for stamps, nothing else done). */
  protected abstract isPublication(text: string): boolean;
  /** Sends what subscribing to `channel` takes; the reply settles key `sub:<channel>`. */
  protected abstract sendSubscribe(channel: string): void;
  /** Sends a batch of publications to `channel` (open loop: replies are ignored). */
  abstract publish(channel: string, payloads: readonly Payload[]): void;

  /** Opens the socket and completes the target's handshake. */
  connect(timeoutMs = 15_000): Promise<void> {
    const ws = new WebSocket(this.url + this.path, {
      perMessageDeflate: false,
      // Payloads are ASCII we made; validating them would only load the generator.
      skipUTF8Validation: true,
      handshakeTimeout: timeoutMs,
      ...(this.localAddress === undefined ? {} : { localAddress: this.localAddress }),
    });
    this.ws = ws;
    const ready = this.expect('ready', timeoutMs);
    ws.on('message', (data: Buffer) => {
      const text = data.toString('utf8');
      if (this.isPublication(text)) scanStamps(text, this.events.onStamp);
      else this.onControl(text);
    });
    ws.on('open', () => this.onOpen());
    ws.on('error', (err) => this.failAll(err));
    ws.on('close', (code: number) => {
      this.failAll(new Error(`closed with ${code}`));
      if (!this.closed) this.events.onClose(code);
      this.closed = true;
    });
    return ready;
  }

  /** Subscribes and resolves once the server has confirmed it. */
  subscribe(channel: string, timeoutMs = 15_000): Promise<void> {
    const done = this.expect(`sub:${channel}`, timeoutMs);
    this.sendSubscribe(channel);
    return done;
  }

  /** Called once the socket is open; protocols whose handshake starts on the client send here. */
  protected onOpen(): void {}

  protected send(text: string): void {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(text);
  }

  /** Resolves what waits for `key` (the handshake, a subscription). */
  protected settle(key: string, error?: Error): void {
    const waiter = this.pending.get(key);
    if (waiter === undefined) return;
    this.pending.delete(key);
    if (error === undefined) waiter.resolve();
    else waiter.reject(error);
  }

  private expect(key: string, timeoutMs: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => this.settle(key, new Error(`${key} timed out`)), timeoutMs);
      const clear = () => clearTimeout(timer);
      this.pending.set(key, {
        resolve: () => (clear(), resolve()),
        reject: (err) => (clear(), reject(err)),
      });
    });
  }

  private failAll(err: Error): void {
    for (const key of [...this.pending.keys()]) this.settle(key, err);
  }

  /** Stops reading: the server's writes pile up in its buffers (the slow scenario). */
  pause(): void {
    this.ws?.pause();
  }

  resume(): void {
    this.ws?.resume();
  }

  get isOpen(): boolean {
    return this.ws?.readyState === WebSocket.OPEN;
  }

  /** Closes on purpose: no onClose, no reconnect. */
  close(): void {
    this.closed = true;
    this.ws?.close(1000);
  }

  /** Drops the TCP connection without a close handshake (client-side storm). */
  terminate(): void {
    this.ws?.terminate();
  }
}
