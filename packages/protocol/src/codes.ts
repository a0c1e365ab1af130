/**
 * Centrifugo's code tables: error replies (100–112), disconnects (3000–4999) and
 * unsubscribe pushes (2000–2999). Meanings follow centrifugal/centrifuge errors.go,
 * disconnect.go and unsubscribe.go, so unmodified SDKs react as they do with Centrifugo.
 */

export const ErrorCode = {
  Internal: 100,
  Unauthorized: 101,
  UnknownChannel: 102,
  PermissionDenied: 103,
  MethodNotFound: 104,
  AlreadySubscribed: 105,
  LimitExceeded: 106,
  BadRequest: 107,
  NotAvailable: 108,
  TokenExpired: 109,
  Expired: 110,
  TooManyRequests: 111,
  UnrecoverablePosition: 112,
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export interface ErrorCodeInfo {
  readonly message: string;
  /** The SDK retries a command that failed with a temporary error. */
  readonly temporary: boolean;
  readonly meaning: string;
}

export const errorCodes: Readonly<Record<ErrorCode, ErrorCodeInfo>> = {
  100: { message: 'internal server error', temporary: true, meaning: 'The server failed; retry later.' },
  101: { message: 'unauthorized', temporary: false, meaning: 'Credentials were not accepted.' },
  102: { message: 'unknown channel', temporary: false, meaning: 'The channel namespace is not configured.' },
  103: { message: 'permission denied', temporary: false, meaning: 'The channel or action is not allowed for this client.' },
  104: { message: 'method not found', temporary: false, meaning: 'The command or API method does not exist.' },
  105: { message: 'already subscribed', temporary: false, meaning: 'The connection already has this subscription.' },
  106: { message: 'limit exceeded', temporary: false, meaning: 'A configured limit (e.g. subscriptions per connection) was reached.' },
  107: { message: 'bad request', temporary: false, meaning: 'A field is missing or invalid.' },
  108: { message: 'not available', temporary: false, meaning: 'The feature is not enabled (e.g. rpc without a proxy).' },
  109: { message: 'token expired', temporary: false, meaning: 'The token is expired; the SDK fetches a new one and retries.' },
  110: { message: 'expired', temporary: false, meaning: 'The requested expiry is already in the past.' },
  111: { message: 'too many requests', temporary: true, meaning: 'A rate limit was hit; retry later.' },
  112: { message: 'unrecoverable position', temporary: false, meaning: 'The stream position asked for is gone (epoch changed or history trimmed).' },
};

export const DisconnectCode = {
  Shutdown: 3001,
  Internal: 3004,
  Expired: 3005,
  SubscriptionExpired: 3006,
  Slow: 3008,
  WriteError: 3009,
  InsufficientState: 3010,
  ForceReconnect: 3011,
  NoPong: 3012,
  TooManyRequests: 3013,
  StateInvalidated: 3014,
  InvalidToken: 3500,
  BadRequest: 3501,
  Stale: 3502,
  ForceNoReconnect: 3503,
  ConnectionLimit: 3504,
  ChannelLimit: 3505,
  InappropriateProtocol: 3506,
  PermissionDenied: 3507,
  NotAvailable: 3508,
  TooManyErrors: 3509,
} as const;
export type DisconnectCode = (typeof DisconnectCode)[keyof typeof DisconnectCode];

export interface DisconnectCodeInfo {
  /** Sent as the WebSocket close reason; never empty (an empty reason makes the SDK always reconnect). */
  readonly reason: string;
  readonly reconnect: boolean;
  readonly meaning: string;
}

export const disconnectCodes: Readonly<Record<DisconnectCode, DisconnectCodeInfo>> = {
  3001: { reason: 'shutdown', reconnect: true, meaning: 'The node is shutting down or draining; reconnect to another node.' },
  3004: { reason: 'internal server error', reconnect: true, meaning: 'The server failed while serving the connection.' },
  3005: { reason: 'connection expired', reconnect: true, meaning: 'The connection token expired and was not refreshed.' },
  3006: { reason: 'subscription expired', reconnect: true, meaning: 'A server-side subscription expired.' },
  3008: { reason: 'slow', reconnect: true, meaning: 'The client did not read fast enough; its outbound queue overflowed.' },
  3009: { reason: 'write error', reconnect: true, meaning: 'Writing to the socket failed.' },
  3010: { reason: 'insufficient state', reconnect: true, meaning: 'A server-side subscription missed publications; reconnect to recover.' },
  3011: { reason: 'force reconnect', reconnect: true, meaning: 'The backend asked the client to reconnect.' },
  3012: { reason: 'no pong', reconnect: true, meaning: 'The client did not answer a ping within the pong timeout.' },
  3013: { reason: 'too many requests', reconnect: true, meaning: 'The client exceeded a rate limit.' },
  3014: { reason: 'state invalidated', reconnect: true, meaning: 'The SDK must drop its tokens and positions and start over.' },
  3500: { reason: 'invalid token', reconnect: false, meaning: 'The connection token is malformed, badly signed or for another user.' },
  3501: { reason: 'bad request', reconnect: false, meaning: 'The client sent something that is not valid protocol.' },
  3502: { reason: 'stale', reconnect: false, meaning: 'The client did not send connect in time after opening the socket.' },
  3503: { reason: 'force disconnect', reconnect: false, meaning: 'The backend disconnected the client (API disconnect).' },
  3504: { reason: 'connection limit', reconnect: false, meaning: 'Too many connections for this user.' },
  3505: { reason: 'channel limit', reconnect: false, meaning: 'Too many channels in the connection token.' },
  3506: { reason: 'inappropriate protocol', reconnect: false, meaning: 'The client asked for a protocol this server does not speak (e.g. protobuf).' },
  3507: { reason: 'permission denied', reconnect: false, meaning: 'The client is not allowed to connect.' },
  3508: { reason: 'not available', reconnect: false, meaning: 'The client used a feature that is not enabled (e.g. send without a proxy).' },
  3509: { reason: 'too many errors', reconnect: false, meaning: 'The client caused too many errors.' },
};

/** Disconnect codes in 3000–3499 and 4000–4499 tell the SDK to reconnect; 3500–3999 and 4500–4999 are terminal. */
export function disconnectReconnects(code: number): boolean {
  return !((code >= 3500 && code < 4000) || (code >= 4500 && code < 5000));
}

export const UnsubscribeCode = {
  Server: 2000,
  InsufficientState: 2500,
  Expired: 2501,
  StateInvalidated: 2502,
} as const;
export type UnsubscribeCode = (typeof UnsubscribeCode)[keyof typeof UnsubscribeCode];

export interface UnsubscribeCodeInfo {
  readonly reason: string;
  /** Codes >= 2500 make the SDK resubscribe (with recovery where it has a position). */
  readonly resubscribe: boolean;
  readonly meaning: string;
}

export const unsubscribeCodes: Readonly<Record<UnsubscribeCode, UnsubscribeCodeInfo>> = {
  2000: { reason: 'server unsubscribe', resubscribe: false, meaning: 'The server removed the subscription.' },
  2500: { reason: 'insufficient state', resubscribe: true, meaning: 'The subscription missed publications; the SDK resubscribes and recovers.' },
  2501: { reason: 'subscription expired', resubscribe: true, meaning: 'The subscription token expired; the SDK fetches a new one.' },
  2502: { reason: 'state invalidated', resubscribe: true, meaning: 'The SDK must drop its position and token and subscribe anew.' },
};
