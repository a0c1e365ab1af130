import {
  type ClientInfo,
  type Command,
  type ConnectResult,
  DisconnectCode,
  encodeResult,
  ErrorCode,
  type Params,
  type RefreshResult,
} from '@fleetgate/protocol';
import { type ConnectClaims, TokenError } from '../auth/jwt.js';
import { historyLimits } from '../config/namespaces.js';
import { withRawField } from '../core/encode.js';
import { registryChannel } from '../presence-keeper.js';
import { DisconnectError, ReplyError } from '../errors.js';
import { checkChannel, expiryFields, namespaceOf, nowSeconds } from './channel-access.js';
import { canPublish } from './permissions.js';
import { presence, presenceStats } from './presence.js';
import type { Session } from './session.js';
import { encodeSubscribeResult, history, joinServerSide, subRefresh, subscribe } from './subscribe.js';

/**
 * Runs one command of a session. Handlers write their own reply (so that publications
 * held back during a subscribe follow it); failures are thrown as ReplyError (error
 * reply) or DisconnectError (close).
 */
export async function handleCommand(s: Session, command: Exclude<Command, { method: 'pong' }>): Promise<void> {
  if (s.state === 'connecting' ? command.method !== 'connect' : command.method === 'connect') {
    throw new DisconnectError(DisconnectCode.BadRequest, s.state === 'connecting' ? `${command.method} before connect` : 'already connected');
  }
  switch (command.method) {
    case 'send':
      throw new DisconnectError(DisconnectCode.NotAvailable, 'send needs an rpc proxy');
    case 'unknown':
      throw new ReplyError(ErrorCode.MethodNotFound, `method not found: ${command.name}`);
  }
  if (command.id === 0) throw new DisconnectError(DisconnectCode.BadRequest, `${command.method} without id`);
  switch (command.method) {
    case 'connect':
      return connect(s, command.id, command.params);
    case 'subscribe':
      return subscribe(s, command.id, command.params);
    case 'unsubscribe':
      s.leave(checkChannel(s, command.params.channel));
      return s.reply(encodeResult(command.id, 'unsubscribe', {}));
    case 'publish':
      return publish(s, command.id, command.params);
    case 'history':
      return history(s, command.id, command.params);
    case 'refresh':
      return refresh(s, command.id, command.params);
    case 'sub_refresh':
      return subRefresh(s, command.id, command.params);
    case 'presence':
      return presence(s, command.id, command.params);
    case 'presence_stats':
      return presenceStats(s, command.id, command.params);
    case 'rpc':
      throw new ReplyError(ErrorCode.NotAvailable);
  }
}

async function verifyConnectToken(s: Session, token: string, expiredError: ReplyError | DisconnectError): Promise<ConnectClaims> {
  try {
    return await s.ctx.verifier.verifyConnect(token);
  } catch (err) {
    if (!(err instanceof TokenError)) throw err;
    if (err.kind === 'expired') throw expiredError;
    throw new DisconnectError(DisconnectCode.InvalidToken, err.message);
  }
}

async function connect(s: Session, id: number, params: Params<'connect'>): Promise<void> {
  const { ctx } = s;
  let claims: ConnectClaims = { user: '', expireAt: undefined, info: undefined, channels: [] };
  if (params.token) {
    claims = await verifyConnectToken(s, params.token, new ReplyError(ErrorCode.TokenExpired));
  } else if (!ctx.client.insecure && !ctx.client.allowAnonymousConnectWithoutToken) {
    throw new DisconnectError(DisconnectCode.BadRequest, 'client credentials not found');
  }
  if (s.state !== 'connecting') return;
  const { user, expireAt } = claims;
  const channels = withPersonalChannel(s, user, claims.channels);
  if (expireAt !== undefined && expireAt <= nowSeconds(s)) throw new ReplyError(ErrorCode.Expired);
  if (channels.length > ctx.client.maxSubscriptions) throw new DisconnectError(DisconnectCode.ChannelLimit);
  for (const channel of channels) namespaceOf(s, channel);
  const { maxConnectionsPerUser: max, connectionLimitMode } = ctx.client;
  if (max > 0 && user !== '' && connectionLimitMode === 'refuse-new' && ctx.node.connectionsOf(user) >= max) {
    throw new DisconnectError(DisconnectCode.ConnectionLimit);
  }

  s.user = user;
  s.connInfo = claims.info;
  s.transition('connected');
  ctx.node.register(s);
  if (user !== '') {
    await ctx.presence.add(registryChannel(user), registryEntry(s));
    await enforceUserLimit(s, user);
  }
  if (!s.isConnected) return;
  ctx.metrics.connects.inc();
  ctx.events.connected(s);
  s.setExpiry(expireAt);
  s.heartbeat.start();
  const subs: string[] = [];
  for (const channel of channels) {
    if (!s.isConnected) return;
    const joined = await joinServerSide(s, channel, params.subs?.[channel]);
    subs.push(`${JSON.stringify(channel)}:${encodeSubscribeResult(joined)}`);
  }
  if (!s.isConnected) return;
  const pingSeconds = Math.ceil(ctx.client.pingInterval / 1000);
  const result: ConnectResult = {
    client: s.id,
    version: ctx.version,
    ...expiryFields(s, expireAt),
    ...(pingSeconds > 0 && { ping: pingSeconds }),
    ...(pingSeconds > 0 && s.transport.bidirectional && { pong: true }),
    ...(!s.transport.bidirectional && { session: s.id }),
  };
  const body = subs.length > 0 ? withRawField(JSON.stringify(result), 'subs', `{${subs.join(',')}}`) : JSON.stringify(result);
  s.reply(`{"id":${id},"connect":${body}}`);
  for (const channel of channels) s.releaseEarly(channel);
}

/** With `subscribeToPersonal`, every connection of a user joins `<ns>:#<user>`. */
function withPersonalChannel(s: Session, user: string, channels: readonly string[]): readonly string[] {
  const { subscribeToPersonal, personalChannelNamespace: ns } = s.ctx.client;
  if (!subscribeToPersonal || user === '') return channels;
  const personal = `${ns === '' ? '' : `${ns}:`}#${user}`;
  return channels.includes(personal) ? channels : [...channels, personal];
}

/** This connection in the fleet's user registry (presence of the user's registry channel). */
function registryEntry(s: Session): ClientInfo {
  const where = { node: s.ctx.node.name, node_id: s.ctx.node.id, transport: s.transport.name, connected_at: s.ctx.clock() };
  return { ...s.clientInfo, chan_info: where };
}

/** Registry order: oldest first; ties by client id so every node decides alike. */
const byAge = (a: ClientInfo, b: ClientInfo) => connectedAt(a) - connectedAt(b) || a.client.localeCompare(b.client);
const connectedAt = (info: ClientInfo) => (info.chan_info as { connected_at?: number } | undefined)?.connected_at ?? 0;

/**
 * Fleet-wide `maxConnectionsPerUser`, decided after this connection is in the registry so
 * that connections racing on several nodes all see each other: `refuse-new` keeps the
 * oldest ones (this one, if among the newest, closes with 3504); `close-oldest` keeps the
 * newest ones and closes the rest, wherever they are.
 */
async function enforceUserLimit(s: Session, user: string): Promise<void> {
  const { maxConnectionsPerUser: max, connectionLimitMode: mode } = s.ctx.client;
  if (max === 0) return;
  const registry = registryChannel(user);
  const { numClients } = await s.ctx.node.presence.stats(registry);
  if (numClients <= max) return;
  const { clients } = await s.ctx.node.presence.list(registry, numClients);
  const ordered = clients.sort(byAge);
  const over = mode === 'refuse-new' ? ordered.slice(max) : ordered.slice(0, ordered.length - max);
  if (mode === 'refuse-new') {
    if (over.some((info) => info.client === s.id)) throw new DisconnectError(DisconnectCode.ConnectionLimit);
    return;
  }
  for (const info of over) {
    await s.ctx.fleet.disconnect({ user, client: info.client }, DisconnectCode.ConnectionLimit, 'replaced by a newer connection');
  }
}

async function publish(s: Session, id: number, params: Params<'publish'>): Promise<void> {
  const channel = checkChannel(s, params.channel);
  if (params.data === undefined) throw new ReplyError(ErrorCode.BadRequest, 'publish without data');
  const { ns, name } = namespaceOf(s, channel);
  const subscription = s.channels.get(channel);
  if (!s.ctx.client.insecure && !canPublish(ns, name, s.user, subscription !== undefined)) throw new ReplyError(ErrorCode.PermissionDenied);
  const info = subscription?.info === undefined ? s.clientInfo : { ...s.clientInfo, chan_info: subscription.info };
  await s.ctx.node.publish(channel, { data: JSON.stringify(params.data), info }, historyLimits(ns));
  s.ctx.metrics.publications.inc({ source: 'client' });
  s.reply(encodeResult(id, 'publish', {}));
}

async function refresh(s: Session, id: number, params: Params<'refresh'>): Promise<void> {
  if (!params.token) throw new DisconnectError(DisconnectCode.BadRequest, 'refresh without token');
  const claims = await verifyConnectToken(s, params.token, new DisconnectError(DisconnectCode.Expired, 'refresh with an expired token'));
  if (claims.user !== s.user) throw new DisconnectError(DisconnectCode.InvalidToken, 'refresh token is for another user');
  if (claims.expireAt !== undefined && claims.expireAt <= nowSeconds(s)) throw new ReplyError(ErrorCode.Expired);
  if (!s.isConnected) return;
  if (claims.info !== undefined) s.connInfo = claims.info;
  s.setExpiry(claims.expireAt);
  const result: RefreshResult = { client: s.id, version: s.ctx.version, ...expiryFields(s, claims.expireAt) };
  s.reply(encodeResult(id, 'refresh', result));
}
