import type { IncomingMessage, ServerResponse } from 'node:http';
import { timingSafeEqual } from 'node:crypto';
import { ErrorCode, isPlainObject } from '@fleetgate/protocol';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import { ReplyError } from '../errors.js';
import { HttpError, readBody, sendJson, sendText } from './http.js';
import { type ApiContext, asReplyError, callApi, isApiMethod } from './methods.js';

/** Key from `X-API-Key`, `Authorization: apikey <key>` or `?api_key=`, as Centrifugo reads it. */
function presentedKey(req: IncomingMessage, url: URL): string | undefined {
  const header = req.headers['x-api-key'];
  if (typeof header === 'string') return header;
  const auth = req.headers.authorization;
  const match = auth === undefined ? null : /^apikey\s+(.+)$/i.exec(auth);
  if (match) return match[1];
  return url.searchParams.get('api_key') ?? undefined;
}

function sameKey(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * Centrifugo's HTTP server API: `POST /api/<method>` (and the legacy `POST /api` with
 * `{"method","params"}`), answered `{"result":…}` or `{"error":…}` with HTTP 200.
 */
export function createApiHandler(ctx: ApiContext, config: Config['api'], logger: Logger) {
  const authorized = (req: IncomingMessage, url: URL): boolean => {
    if (config.insecure) return true;
    const key = presentedKey(req, url);
    return config.key !== undefined && key !== undefined && sameKey(key, config.key);
  };

  return async function handleApi(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const name = url.pathname === '/api' ? undefined : url.pathname.slice('/api/'.length);
    const label = name !== undefined && isApiMethod(name) ? name : 'unknown';
    if (!authorized(req, url)) {
      ctx.metrics.apiRequests.inc({ method: label, outcome: 'unauthorized' });
      res.writeHead(401).end();
      return;
    }
    if (req.method !== 'POST') return sendText(res, 405, 'method not allowed', { allow: 'POST' });
    let body: unknown;
    try {
      body = JSON.parse((await readBody(req, config.maxBodyBytes)).toString('utf8') || '{}');
    } catch (err) {
      return err instanceof HttpError ? sendText(res, err.status, err.message) : sendText(res, 400, 'malformed JSON body');
    }
    let method = name;
    if (method === undefined && isPlainObject(body)) {
      method = typeof body['method'] === 'string' ? body['method'] : '';
      body = body['params'] ?? {};
    }
    if (method === undefined || !isApiMethod(method)) {
      ctx.metrics.apiRequests.inc({ method: 'unknown', outcome: String(ErrorCode.MethodNotFound) });
      return sendJson(res, 404, { error: new ReplyError(ErrorCode.MethodNotFound).toBody() });
    }
    try {
      const result = await callApi(ctx, method, body);
      ctx.metrics.apiRequests.inc({ method, outcome: 'ok' });
      sendJson(res, 200, method === 'batch' ? result : { result });
    } catch (err) {
      const replyError = asReplyError(err);
      if (replyError.code === ErrorCode.Internal) logger.error({ err, method }, 'api call failed');
      ctx.metrics.apiRequests.inc({ method, outcome: String(replyError.code) });
      sendJson(res, 200, { error: replyError.toBody() });
    }
  };
}
