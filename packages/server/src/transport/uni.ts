import type { IncomingMessage, ServerResponse } from 'node:http';
import { isPlainObject } from '@fleetgate/protocol';
import { HttpError, readBody, sendText } from '../api/http.js';
import type { Transport } from '../session/transport.js';
import { PositionTracker, subsFromEventId } from './sse-position.js';
import { disconnectMessage, reasonOf, toUniMessage } from './uni-format.js';

export const UNI_SSE_PATH = '/connection/uni_sse';
export const UNI_HTTP_STREAM_PATH = '/connection/uni_http_stream';

type UniKind = 'uni_sse' | 'uni_http_stream';

/** A one-way stream of bare pushes over an HTTP response (SSE events or newline-delimited JSON). */
class UniTransport implements Transport {
  readonly bidirectional = false;
  private ended = false;
  private readonly positions: PositionTracker | undefined;

  constructor(
    readonly name: UniKind,
    private readonly res: ServerResponse,
    readonly remoteAddress: string,
  ) {
    this.positions = name === 'uni_sse' ? new PositionTracker() : undefined;
  }

  get bufferedBytes(): number {
    return this.res.writableLength;
  }

  write(frame: string | Buffer): void {
    const text = typeof frame === 'string' ? frame : frame.toString('utf8');
    for (const line of text.split('\n')) {
      if (this.ended) return;
      const message = toUniMessage(line);
      if (message.kind === 'end') this.close(message.code, reasonOf(message.code));
      else this.send(message.text);
    }
  }

  close(code: number, reason: string): void {
    if (this.ended) return;
    this.send(disconnectMessage(code, reason));
    this.ended = true;
    this.res.end();
  }

  onDrain(callback: () => void): void {
    if (this.res.writableLength === 0) queueMicrotask(callback);
    else this.res.once('drain', callback);
  }

  pause(): void {}
  resume(): void {}

  private send(text: string): void {
    if (this.positions === undefined) {
      this.res.write(`${text}\n`);
      return;
    }
    const id = this.positions.observe(text);
    this.res.write(`${id === undefined ? '' : `id: ${id}\n`}data: ${text}\n\n`);
  }
}

export interface UniDeps {
  /** Refusal before anything is streamed (origin, admission), or undefined to go on. */
  admit(req: IncomingMessage, res: ServerResponse): boolean;
  /** Starts a session on the transport; returns the function that feeds it a frame and the close hook. */
  open(transport: Transport): { receive(frame: string): void; transportClosed(): void };
  readonly maxRequestBytes: number;
}

/** Reads Centrifugo's unidirectional connect request: `?cf_connect=` (GET) or the JSON body (POST). */
async function connectRequest(req: IncomingMessage, url: URL, maxBytes: number): Promise<Record<string, unknown>> {
  const text = req.method === 'POST' ? (await readBody(req, maxBytes)).toString('utf8') : (url.searchParams.get('cf_connect') ?? '');
  const value: unknown = text === '' ? {} : JSON.parse(text);
  if (!isPlainObject(value)) throw new HttpError(400, 'connect request must be a JSON object');
  return value;
}

/** Unidirectional SSE (`/connection/uni_sse`) and HTTP streaming (`/connection/uni_http_stream`). */
export function createUniHandler(deps: UniDeps) {
  return async function handleUni(req: IncomingMessage, res: ServerResponse, url: URL, kind: UniKind): Promise<void> {
    const allowed = kind === 'uni_sse' ? ['GET', 'POST'] : ['POST'];
    if (req.method === 'OPTIONS') {
      res.writeHead(204, { 'access-control-allow-methods': allowed.join(', '), 'access-control-allow-headers': 'content-type, last-event-id' }).end();
      return;
    }
    if (!allowed.includes(req.method ?? '')) return sendText(res, 405, 'method not allowed', { allow: allowed.join(', ') });
    let request: Record<string, unknown>;
    try {
      request = await connectRequest(req, url, deps.maxRequestBytes);
    } catch (err) {
      return err instanceof HttpError ? sendText(res, err.status, err.message) : sendText(res, 400, 'malformed connect request');
    }
    if (!deps.admit(req, res)) return;
    const lastEventId = req.headers['last-event-id'];
    const resumed = kind === 'uni_sse' && typeof lastEventId === 'string' ? subsFromEventId(lastEventId) : undefined;
    if (resumed !== undefined) request['subs'] = { ...resumed, ...(isPlainObject(request['subs']) ? request['subs'] : {}) };

    const headers: Record<string, string> =
      kind === 'uni_sse'
        ? { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', 'x-accel-buffering': 'no' }
        : { 'content-type': 'application/json', 'cache-control': 'no-cache' };
    const origin = req.headers.origin;
    if (origin !== undefined) Object.assign(headers, { 'access-control-allow-origin': origin, vary: 'Origin' });
    res.writeHead(200, headers);
    if (kind === 'uni_sse') res.write('\r\n');
    const session = deps.open(new UniTransport(kind, res, req.socket.remoteAddress ?? ''));
    res.on('close', () => session.transportClosed());
    session.receive(JSON.stringify({ id: 1, connect: request }));
  };
}
