import { boolean, type Infer, int, json, list, object, optional, record, string, uint } from './schema.js';

/**
 * Message bodies of the Centrifugo client protocol v2 (field names as in client.proto,
 * snake_case on the wire). Each spec is both the validator and, through `Infer`, the type.
 */

const opt = optional;

export const clientInfoSpec = {
  user: string(),
  client: string(),
  conn_info: opt(json()),
  chan_info: opt(json()),
};
export type ClientInfo = Infer<typeof clientInfoSpec>;

export const publicationSpec = {
  data: json(),
  info: opt(object(clientInfoSpec)),
  offset: opt(uint()),
  tags: opt(record(string())),
  time: opt(uint()),
  channel: opt(string()),
};
export type Publication = Infer<typeof publicationSpec>;

export const streamPositionSpec = { offset: uint(), epoch: string() };
export type StreamPosition = Infer<typeof streamPositionSpec>;

// ---- requests (client -> server) ----

export const subscribeRecoverySpec = { recover: opt(boolean()), offset: opt(uint()), epoch: opt(string()) };
export type SubscribeRecovery = Infer<typeof subscribeRecoverySpec>;

export const connectRequestSpec = {
  token: opt(string()),
  data: opt(json()),
  subs: opt(record(object(subscribeRecoverySpec))),
  name: opt(string()),
  version: opt(string()),
  headers: opt(record(string())),
};
export const subscribeRequestSpec = {
  channel: string(),
  token: opt(string()),
  recover: opt(boolean()),
  epoch: opt(string()),
  offset: opt(uint()),
  data: opt(json()),
  positioned: opt(boolean()),
  recoverable: opt(boolean()),
  join_leave: opt(boolean()),
  delta: opt(string()),
  flag: opt(int()),
  type: opt(int()),
};
export const channelRequestSpec = { channel: string() };
export const publishRequestSpec = { channel: string(), data: opt(json()) };
export const historyRequestSpec = {
  channel: string(),
  limit: opt(int()),
  since: opt(object(streamPositionSpec)),
  reverse: opt(boolean()),
};
export const refreshRequestSpec = { token: string() };
export const subRefreshRequestSpec = { channel: string(), token: string() };
export const rpcRequestSpec = { method: opt(string()), data: opt(json()) };
export const sendRequestSpec = { data: opt(json()) };

export type ConnectRequest = Infer<typeof connectRequestSpec>;
export type SubscribeRequest = Infer<typeof subscribeRequestSpec>;
export type PublishRequest = Infer<typeof publishRequestSpec>;
export type HistoryRequest = Infer<typeof historyRequestSpec>;
export type RefreshRequest = Infer<typeof refreshRequestSpec>;
export type SubRefreshRequest = Infer<typeof subRefreshRequestSpec>;
export type RpcRequest = Infer<typeof rpcRequestSpec>;
export type SendRequest = Infer<typeof sendRequestSpec>;

// ---- results (server -> client) ----

export const subscribeResultSpec = {
  expires: opt(boolean()),
  ttl: opt(uint()),
  recoverable: opt(boolean()),
  epoch: opt(string()),
  publications: opt(list(object(publicationSpec))),
  recovered: opt(boolean()),
  offset: opt(uint()),
  positioned: opt(boolean()),
  data: opt(json()),
  was_recovering: opt(boolean()),
};
export const connectResultSpec = {
  client: string(),
  version: string(),
  expires: opt(boolean()),
  ttl: opt(uint()),
  data: opt(json()),
  subs: opt(record(object(subscribeResultSpec))),
  ping: opt(uint()),
  pong: opt(boolean()),
  session: opt(string()),
  node: opt(string()),
  time: opt(uint()),
};
export const emptySpec = {};
export const presenceResultSpec = { presence: record(object(clientInfoSpec)) };
export const presenceStatsResultSpec = { num_clients: uint(), num_users: uint() };
export const historyResultSpec = { publications: list(object(publicationSpec)), epoch: string(), offset: uint() };
export const refreshResultSpec = { client: opt(string()), version: opt(string()), expires: opt(boolean()), ttl: opt(uint()) };
export const subRefreshResultSpec = { expires: opt(boolean()), ttl: opt(uint()) };
export const rpcResultSpec = { data: opt(json()) };

export type SubscribeResult = Infer<typeof subscribeResultSpec>;
export type ConnectResult = Infer<typeof connectResultSpec>;
export type PresenceResult = Infer<typeof presenceResultSpec>;
export type PresenceStatsResult = Infer<typeof presenceStatsResultSpec>;
export type HistoryResult = Infer<typeof historyResultSpec>;
export type RefreshResult = Infer<typeof refreshResultSpec>;
export type SubRefreshResult = Infer<typeof subRefreshResultSpec>;

export const errorBodySpec = { code: uint(), message: string(), temporary: opt(boolean()) };
export type ErrorBody = Infer<typeof errorBodySpec>;

// ---- push bodies ----

export const joinLeaveSpec = { info: object(clientInfoSpec) };
export const unsubscribePushSpec = { code: uint(), reason: string() };
export const subscribePushSpec = {
  recoverable: opt(boolean()),
  epoch: opt(string()),
  offset: opt(uint()),
  positioned: opt(boolean()),
  data: opt(json()),
  expires: opt(boolean()),
  ttl: opt(uint()),
};
export const messagePushSpec = { data: json() };
export const disconnectPushSpec = { code: uint(), reason: string(), reconnect: opt(boolean()) };
export const refreshPushSpec = { expires: opt(boolean()), ttl: opt(uint()) };
