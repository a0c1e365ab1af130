import { DisconnectCode, ErrorCode } from '@fleetgate/protocol';
import type { Namespaces } from '../config/namespaces.js';
import { DisconnectError, ReplyError } from '../errors.js';
import type { Session } from './session.js';

/** Checks a channel name from a command: empty is a bad request (3501), too long is 107. */
export function checkChannel(s: Session, channel: string): string {
  if (channel === '') throw new DisconnectError(DisconnectCode.BadRequest, 'empty channel');
  if (Buffer.byteLength(channel) > s.ctx.client.maxChannelLength) throw new ReplyError(ErrorCode.BadRequest, 'channel name too long');
  return channel;
}

/** The channel's namespace options and parsed name; an unconfigured namespace is 102. */
export function namespaceOf(s: Session, channel: string): NonNullable<ReturnType<Namespaces['ofChannel']>> {
  const found = s.ctx.namespaces.ofChannel(channel);
  if (found === undefined) throw new ReplyError(ErrorCode.UnknownChannel);
  return found;
}

export const nowSeconds = (s: Session): number => Math.floor(s.ctx.clock() / 1000);

/** `expires`/`ttl` tell the SDK when to refresh; omitted for credentials that never expire. */
export function expiryFields(s: Session, expireAt: number | undefined): { expires?: true; ttl?: number } {
  return expireAt === undefined ? {} : { expires: true, ttl: Math.max(0, expireAt - nowSeconds(s)) };
}
