import type { NamespaceOptions } from '../config/schema.js';
import type { ChannelName } from '../core/channel-name.js';

/**
 * Channel access rules, as Centrifugo applies them to clients without a subscription
 * token. `#` marks a user-limited channel only where the namespace enables them;
 * elsewhere it is an ordinary character.
 */

function userLimited(ns: NamespaceOptions, name: ChannelName): readonly string[] | undefined {
  return ns.allowUserLimitedChannels ? name.allowedUsers : undefined;
}

export function canSubscribe(ns: NamespaceOptions, name: ChannelName, user: string): boolean {
  if (name.isPrivate) return false;
  const users = userLimited(ns, name);
  if (users !== undefined) return user !== '' && users.includes(user);
  return ns.allowSubscribeForClient && (user !== '' || ns.allowSubscribeForAnonymous);
}

export function canPublish(ns: NamespaceOptions, name: ChannelName, user: string, subscribed: boolean): boolean {
  if (user === '' && !ns.allowPublishForAnonymous) return false;
  const users = userLimited(ns, name);
  if (users !== undefined && !users.includes(user)) return false;
  return ns.allowPublishForClient || (ns.allowPublishForSubscriber && subscribed);
}
