import type { ClientInfo } from '@fleetgate/protocol';

export interface PublicationFields {
  /** Raw JSON text of the payload, embedded verbatim. */
  readonly data: string;
  readonly info?: ClientInfo;
  readonly tags?: Readonly<Record<string, string>>;
  readonly offset?: number;
}

/**
 * Encodes a Publication by concatenation, so the payload is not parsed or re-serialized:
 * a node encodes each publication once for all its subscribers. The epoch is not sent
 * (clients learn it from the subscribe reply), as Centrifugo does.
 */
export function encodePublication(pub: PublicationFields): string {
  let body = `{"data":${pub.data}`;
  if (pub.info !== undefined) body += `,"info":${JSON.stringify(pub.info)}`;
  if (pub.offset !== undefined) body += `,"offset":${pub.offset}`;
  if (pub.tags !== undefined) body += `,"tags":${JSON.stringify(pub.tags)}`;
  return `${body}}`;
}

/** `{"push":{"channel":…,"pub":{…}}}` */
export function encodePublicationPush(channel: string, pub: PublicationFields): string {
  return `{"push":{"channel":${JSON.stringify(channel)},"pub":${encodePublication(pub)}}}`;
}

export function encodePublications(pubs: readonly PublicationFields[]): string {
  return `[${pubs.map(encodePublication).join(',')}]`;
}

/** Adds `"key":raw` to an encoded JSON object (raw being JSON text built elsewhere). */
export function withRawField(objectJson: string, key: string, raw: string): string {
  const field = `${JSON.stringify(key)}:${raw}`;
  return objectJson === '{}' ? `{${field}}` : `${objectJson.slice(0, -1)},${field}}`;
}
