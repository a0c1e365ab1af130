import { DisconnectCode, disconnectCodes, ErrorCode } from '@fleetgate/protocol';

/**
 * Unidirectional transports carry bare Push objects: `{"connect":…}` first, then
 * `{"channel":…,"pub":…}`, pings `{}`, and `{"disconnect":…}` last. These turn the
 * session's frames (replies and `{"push":…}` wrappers) into that form.
 */
export type UniMessage = { readonly kind: 'message'; readonly text: string } | { readonly kind: 'end'; readonly code: number };

/** Connect errors become disconnects on unidirectional transports, as in Centrifugo. */
export function connectErrorToDisconnect(code: number): number {
  switch (code) {
    case ErrorCode.TokenExpired:
    case ErrorCode.Expired:
      return DisconnectCode.Expired;
    case ErrorCode.TooManyRequests:
      return DisconnectCode.TooManyRequests;
    case ErrorCode.PermissionDenied:
      return DisconnectCode.PermissionDenied;
    default:
      return DisconnectCode.Internal;
  }
}

export function toUniMessage(message: string): UniMessage {
  if (message.startsWith('{"push":')) return { kind: 'message', text: message.slice('{"push":'.length, -1) };
  if (!message.startsWith('{"id":')) return { kind: 'message', text: message };
  const reply = JSON.parse(message) as { error?: { code: number }; connect?: unknown };
  if (reply.error !== undefined) return { kind: 'end', code: connectErrorToDisconnect(reply.error.code) };
  return { kind: 'message', text: JSON.stringify({ connect: reply.connect }) };
}

export function disconnectMessage(code: number, reason: string): string {
  return JSON.stringify({ disconnect: { code, reason } });
}

export function reasonOf(code: number): string {
  return disconnectCodes[code as DisconnectCode]?.reason ?? 'disconnect';
}
