import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer } from 'ws';
import type { Logger } from 'pino';
import type { Transport } from '../session/transport.js';

export const JSON_SUBPROTOCOL = 'centrifuge-json';
export const PROTOBUF_SUBPROTOCOL = 'centrifuge-protobuf';

/** Bytes are sent as a text frame too: the protocol is JSON text either way. */
const textFrame = { binary: false } as const;

/** A session's view of one `ws` socket. */
export class WebSocketTransport implements Transport {
  readonly name = 'websocket';
  readonly bidirectional = true;

  constructor(
    private readonly ws: WebSocket,
    /** The upgraded TCP socket under `ws`: its 'drain' says when it can take more. */
    private readonly socket: Duplex,
    readonly remoteAddress: string,
  ) {}

  onDrain(callback: () => void): void {
    if (this.ws.bufferedAmount === 0) queueMicrotask(callback);
    else this.socket.once('drain', callback);
  }

  get bufferedBytes(): number {
    return this.ws.bufferedAmount;
  }

  write(frame: string | Buffer): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(frame, textFrame);
  }

  close(code: number, reason: string): void {
    this.ws.close(code, reason);
  }

  pause(): void {
    this.ws.pause();
  }

  resume(): void {
    this.ws.resume();
  }
}

/**
 * Centrifugo's negotiation: JSON unless the client asks for protobuf. Protobuf is
 * selected only so the handshake completes and the client can be told, with 3506,
 * that this server speaks JSON.
 */
function selectProtocol(offered: Set<string>): string | false {
  if (offered.has(JSON_SUBPROTOCOL)) return JSON_SUBPROTOCOL;
  if (offered.has(PROTOBUF_SUBPROTOCOL)) return PROTOBUF_SUBPROTOCOL;
  return false;
}

export function createWebSocketServer(maxFrameBytes: number): WebSocketServer {
  return new WebSocketServer({
    noServer: true,
    maxPayload: maxFrameBytes,
    perMessageDeflate: false,
    clientTracking: false,
    handleProtocols: selectProtocol,
  });
}

export function wantsProtobuf(ws: WebSocket, req: IncomingMessage): boolean {
  const url = new URL(req.url ?? '/', 'http://x');
  const format = url.searchParams.get('format') ?? url.searchParams.get('cf_protocol');
  return ws.protocol === PROTOBUF_SUBPROTOCOL || format === 'protobuf';
}

/** What a socket needs to reach its session; kept on the socket so handlers can be shared. */
interface SessionSink {
  receive(frame: string): void;
  transportClosed(code?: string): void;
  readonly id: string;
}

type BoundSocket = WebSocket & { fgSession: SessionSink; fgLogger: Logger };

// One set of handler functions for every socket (they find their session on `this`),
// instead of three closures per connection.
function onMessage(this: WebSocket, data: Buffer): void {
  (this as BoundSocket).fgSession.receive(data.toString('utf8'));
}

function onClose(this: WebSocket): void {
  (this as BoundSocket).fgSession.transportClosed();
}

function onError(this: WebSocket, err: Error & { code?: string }): void {
  const { fgSession, fgLogger } = this as BoundSocket;
  // ws has already closed with 1009 for an oversized frame; count it as such.
  if (err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') fgSession.transportClosed('1009');
  fgLogger.debug({ err, client: fgSession.id }, 'websocket error');
}

export function bindSession(ws: WebSocket, session: SessionSink, logger: Logger): void {
  const bound = Object.assign(ws, { fgSession: session, fgLogger: logger });
  bound.on('message', onMessage);
  bound.on('close', onClose);
  bound.on('error', onError);
}
