import type { ClientInfo } from '@fleetgate/protocol';

export interface PublicationFields {
  /** Raw JSON text of the payload, embedded verbatim. */
  readonly data: string;
  readonly info?: ClientInfo;
  readonly tags?: Readonly<Record<string, string>>;
  readonly offset?: number;
}

/**
 * Encodes `{"push":{"channel":…,"pub":{…}}}` by concatenation, so the payload is not
 * parsed or re-serialized: a node encodes each publication once for all its subscribers.
 */
export function encodePublicationPush(channel: string, pub: PublicationFields): string {
  let body = `{"data":${pub.data}`;
  if (pub.info !== undefined) body += `,"info":${JSON.stringify(pub.info)}`;
  if (pub.offset !== undefined) body += `,"offset":${pub.offset}`;
  if (pub.tags !== undefined) body += `,"tags":${JSON.stringify(pub.tags)}`;
  return `{"push":{"channel":${JSON.stringify(channel)},"pub":${body}}}}`;
}
