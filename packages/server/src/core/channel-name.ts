/**
 * Channel naming as in Centrifugo: `$` prefix marks a private channel, the part before
 * the first `:` is the namespace, and a `#` suffix lists the only users allowed
 * (`chat:dialog#42,7`).
 */
export interface ChannelName {
  readonly namespace: string;
  readonly isPrivate: boolean;
  /** Users after `#`, or undefined for an ordinary channel. */
  readonly allowedUsers: readonly string[] | undefined;
}

export function parseChannelName(channel: string): ChannelName {
  const isPrivate = channel.startsWith('$');
  const body = isPrivate ? channel.slice(1) : channel;
  const colon = body.indexOf(':');
  const hash = channel.lastIndexOf('#');
  return {
    namespace: colon === -1 ? '' : body.slice(0, colon),
    isPrivate,
    allowedUsers: hash === -1 ? undefined : channel.slice(hash + 1).split(',').filter((u) => u.length > 0),
  };
}
