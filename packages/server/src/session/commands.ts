import {
  type Command,
  type ConnectResult,
  DisconnectCode,
  encodeResult,
  ErrorCode,
  type Params,
  type RefreshResult,
  type SubscribeResult,
} from '@fleetgate/protocol';
import { TokenError } from '../auth/jwt.js';
import type { NamespaceOptions } from '../config/schema.js';
import { type ChannelName, parseChannelName } from '../core/channel-name.js';
import { DisconnectError, ReplyError } from '../errors.js';
import { canPublish, canSubscribe } from './permissions.js';
import type { Session } from './session.js';

/**
 * Runs one command of a session. Handlers write their own reply (so that pushes held
 * back during a subscribe follow it); failures are thrown as ReplyError (error reply)
 * or DisconnectError (close).
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
      unsubscribe(s, checkChannel(s, command.params.channel));
      return s.reply(encodeResult(command.id, 'unsubscribe', {}));
    case 'publish':
      return publish(s, command.id, command.params);
    case 'refresh':
      return refresh(s, command.id, command.params);
    case 'presence':
    case 'presence_stats':
    case 'history':
    case 'sub_refresh':
    case 'rpc':
      throw new ReplyError(ErrorCode.NotAvailable);
  }
}

const nowSeconds = (s: Session) => Math.floor(s.ctx.clock() / 1000);

/** `expires`/`ttl` tell the SDK when to refresh; omitted for credentials that never expire. */
function expiryFields(s: Session, expireAt: number | undefined): { expires?: true; ttl?: number } {
  return expireAt === undefined ? {} : { expires: true, ttl: Math.max(0, expireAt - nowSeconds(s)) };
}

async function verify(s: Session, token: string, expiredError: ReplyError | DisconnectError) {
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
  let user = '';
  let info: ConnectResult['data'];
  let expireAt: number | undefined;
  let channels: readonly string[] = [];
  if (params.token) {
    ({ user, info, expireAt, channels } = await verify(s, params.token, new ReplyError(ErrorCode.TokenExpired)));
  } else if (!ctx.client.insecure && !ctx.client.allowAnonymousConnectWithoutToken) {
    throw new DisconnectError(DisconnectCode.BadRequest, 'client credentials not found');
  }
  if (s.state !== 'connecting') return;
  if (expireAt !== undefined && expireAt <= nowSeconds(s)) throw new ReplyError(ErrorCode.Expired);
  const perUser = ctx.client.maxConnectionsPerUser;
  if (perUser > 0 && user !== '' && ctx.node.connectionsOf(user) >= perUser) throw new DisconnectError(DisconnectCode.ConnectionLimit);
  if (channels.length > ctx.client.maxSubscriptions) throw new DisconnectError(DisconnectCode.ChannelLimit);
  for (const channel of channels) namespaceOf(s, channel);

  s.user = user;
  s.connInfo = info;
  s.transition('connected');
  ctx.node.register(s);
  ctx.metrics.connects.inc();
  ctx.events.connected(s);
  s.setExpiry(expireAt);
  s.startHeartbeat();
  const subs: Record<string, SubscribeResult> = {};
  for (const channel of channels) {
    if (!s.isConnected) return;
    await join(s, channel);
    subs[channel] = {};
  }
  if (!s.isConnected) return;
  const pingSeconds = Math.ceil(ctx.client.pingInterval / 1000);
  const result: ConnectResult = {
    client: s.id,
    version: ctx.version,
    ...expiryFields(s, expireAt),
    ...(channels.length > 0 && { subs }),
    ...(pingSeconds > 0 && { ping: pingSeconds, pong: true }),
  };
  s.reply(encodeResult(id, 'connect', result));
  for (const channel of channels) s.releaseEarly(channel);
}

function checkChannel(s: Session, channel: string): string {
  if (channel === '') throw new DisconnectError(DisconnectCode.BadRequest, 'empty channel');
  if (Buffer.byteLength(channel) > s.ctx.client.maxChannelLength) throw new ReplyError(ErrorCode.BadRequest, 'channel name too long');
  return channel;
}

function namespaceOf(s: Session, channel: string): [NamespaceOptions, ChannelName] {
  const name = parseChannelName(channel);
  const ns = s.ctx.namespaces.get(name.namespace);
  if (ns === undefined) throw new ReplyError(ErrorCode.UnknownChannel);
  return [ns, name];
}

/** Enters a channel, holding back its pushes until the caller has written its reply. */
async function join(s: Session, channel: string): Promise<void> {
  s.channels.set(channel, { early: [] });
  try {
    await s.ctx.node.subscribe(s, channel);
  } catch (cause) {
    s.channels.delete(channel);
    throw new ReplyError(ErrorCode.Internal, 'subscribe failed', { cause });
  }
}

async function subscribe(s: Session, id: number, params: Params<'subscribe'>): Promise<void> {
  const channel = checkChannel(s, params.channel);
  if (params.delta !== undefined && params.delta !== '' && params.delta !== 'fossil') {
    throw new DisconnectError(DisconnectCode.BadRequest, `unknown delta type ${params.delta}`);
  }
  if ((params.type ?? 0) !== 0) throw new ReplyError(ErrorCode.NotAvailable, 'only stream subscriptions are supported');
  if (s.channels.has(channel)) throw new ReplyError(ErrorCode.AlreadySubscribed);
  if (s.channels.size >= s.ctx.client.maxSubscriptions) throw new ReplyError(ErrorCode.LimitExceeded);
  const [ns, name] = namespaceOf(s, channel);
  if (!s.ctx.client.insecure && !canSubscribe(ns, name, s.user)) throw new ReplyError(ErrorCode.PermissionDenied);
  await join(s, channel);
  if (!s.isConnected) return;
  s.reply(encodeResult(id, 'subscribe', {}));
  s.releaseEarly(channel);
}

function unsubscribe(s: Session, channel: string): void {
  if (!s.channels.delete(channel)) return;
  s.ctx.node.unsubscribe(s, channel);
}

async function publish(s: Session, id: number, params: Params<'publish'>): Promise<void> {
  const channel = checkChannel(s, params.channel);
  if (params.data === undefined) throw new ReplyError(ErrorCode.BadRequest, 'publish without data');
  const [ns, name] = namespaceOf(s, channel);
  if (!s.ctx.client.insecure && !canPublish(ns, name, s.user, s.channels.has(channel))) throw new ReplyError(ErrorCode.PermissionDenied);
  await s.ctx.node.publish(channel, { data: JSON.stringify(params.data), info: s.clientInfo });
  s.ctx.metrics.publications.inc({ source: 'client' });
  s.reply(encodeResult(id, 'publish', {}));
}

async function refresh(s: Session, id: number, params: Params<'refresh'>): Promise<void> {
  if (!params.token) throw new DisconnectError(DisconnectCode.BadRequest, 'refresh without token');
  const claims = await verify(s, params.token, new DisconnectError(DisconnectCode.Expired, 'refresh with an expired token'));
  if (claims.user !== s.user) throw new DisconnectError(DisconnectCode.InvalidToken, 'refresh token is for another user');
  if (claims.expireAt !== undefined && claims.expireAt <= nowSeconds(s)) throw new ReplyError(ErrorCode.Expired);
  if (!s.isConnected) return;
  if (claims.info !== undefined) s.connInfo = claims.info;
  s.setExpiry(claims.expireAt);
  const result: RefreshResult = { client: s.id, version: s.ctx.version, ...expiryFields(s, claims.expireAt) };
  s.reply(encodeResult(id, 'refresh', result));
}
