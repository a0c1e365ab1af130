import type { NamespaceOptions } from '../config/schema.js';
import type { ChannelName } from '../core/channel-name.js';

/** Channel access rules, as Centrifugo applies them to clients without a subscription token. */

export function canSubscribe(ns: NamespaceOptions, name: ChannelName, user: string): boolean {
  if (name.isPrivate) return false;
  if (name.allowedUsers !== undefined) return ns.allowUserLimitedChannels && user !== '' && name.allowedUsers.includes(user);
  return ns.allowSubscribeForClient && (user !== '' || ns.allowSubscribeForAnonymous);
}

export function canPublish(ns: NamespaceOptions, name: ChannelName, user: string, subscribed: boolean): boolean {
  if (user === '' && !ns.allowPublishForAnonymous) return false;
  if (name.allowedUsers !== undefined && !name.allowedUsers.includes(user)) return false;
  return ns.allowPublishForClient || (ns.allowPublishForSubscriber && subscribed);
}
