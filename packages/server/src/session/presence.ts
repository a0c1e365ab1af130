import { encodeResult, ErrorCode, type Params } from '@fleetgate/protocol';
import { ReplyError } from '../errors.js';
import { readPresence, readPresenceStats } from '../presence-keeper.js';
import { checkChannel, namespaceOf } from './channel-access.js';
import type { Session } from './session.js';

/** A channel whose presence this client may read: 108 without presence, 103 without permission. */
function presenceChannel(s: Session, raw: string): string {
  const channel = checkChannel(s, raw);
  const { ns } = namespaceOf(s, channel);
  if (!ns.presence) throw new ReplyError(ErrorCode.NotAvailable, 'channel has no presence');
  const allowed = s.ctx.client.insecure || ns.allowPresenceForClient || (ns.allowPresenceForSubscriber && s.channels.has(channel));
  if (!allowed) throw new ReplyError(ErrorCode.PermissionDenied);
  return channel;
}

export async function presence(s: Session, id: number, params: Params<'presence'>): Promise<void> {
  const channel = presenceChannel(s, params.channel);
  const result = await readPresence(s.ctx.node.presence, channel, s.ctx.presenceMaxList);
  s.reply(encodeResult(id, 'presence', { presence: result }));
}

export async function presenceStats(s: Session, id: number, params: Params<'presence_stats'>): Promise<void> {
  const channel = presenceChannel(s, params.channel);
  s.reply(encodeResult(id, 'presence_stats', await readPresenceStats(s.ctx.node.presence, channel)));
}
