import type { ClientInfo } from '@fleetgate/protocol';
import type { Publication, StreamPosition } from './broker.js';

/**
 * How a publication travels through Redis and NATS: `publishedAt|metaLength|meta data`,
 * where meta is JSON of info and tags (or empty) and data the raw payload JSON. The
 * payload is never parsed on the way, only sliced out. On the fan-out path it is
 * prefixed with its stream position: `offset:epoch|body` (or `|body` without history).
 */
export function encodeBody(pub: Publication): string {
  const meta = pub.info === undefined && pub.tags === undefined ? '' : JSON.stringify({ i: pub.info, t: pub.tags });
  return `${pub.publishedAt}|${meta.length}|${meta}${pub.data}`;
}

export class EnvelopeError extends Error {
  override readonly name = 'EnvelopeError';
}

export function decodeBody(body: string, position: StreamPosition | undefined): Publication {
  const first = body.indexOf('|');
  const second = body.indexOf('|', first + 1);
  const publishedAt = Number(body.slice(0, first));
  const metaLength = Number(body.slice(first + 1, second));
  if (first < 0 || second < 0 || !Number.isFinite(publishedAt) || !Number.isInteger(metaLength)) throw new EnvelopeError('malformed publication envelope');
  const metaEnd = second + 1 + metaLength;
  const meta = metaLength === 0 ? {} : (JSON.parse(body.slice(second + 1, metaEnd)) as { i?: ClientInfo; t?: Record<string, string> });
  return {
    data: body.slice(metaEnd),
    publishedAt,
    ...(meta.i !== undefined && { info: meta.i }),
    ...(meta.t !== undefined && { tags: meta.t }),
    ...(position !== undefined && { offset: position.offset, epoch: position.epoch }),
  };
}

export function encodePosition(position: StreamPosition | undefined): string {
  return position === undefined ? '' : `${position.offset}:${position.epoch}`;
}

export function decodePosition(text: string): StreamPosition | undefined {
  if (text === '') return undefined;
  const colon = text.indexOf(':');
  return { offset: Number(text.slice(0, colon)), epoch: text.slice(colon + 1) };
}

/** `offset:epoch|body` as sent on the fan-out path. */
export function decodeMessage(message: string): Publication {
  const bar = message.indexOf('|');
  if (bar < 0) throw new EnvelopeError('malformed publication message');
  return decodeBody(message.slice(bar + 1), decodePosition(message.slice(0, bar)));
}
