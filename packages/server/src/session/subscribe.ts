import { DisconnectCode, ErrorCode, type Params, type SubscribeRecovery, type SubscribeResult } from '@fleetgate/protocol';
import { type SubscribeClaims, TokenError } from '../auth/jwt.js';
import type { HistoryLimits, Publication } from '../broker/broker.js';
import { type ChannelDelivery, historyLimits } from '../config/namespaces.js';
import type { NamespaceOptions } from '../config/schema.js';
import { encodePublications, withRawField } from '../core/encode.js';
import { isRecovered } from '../core/recovery.js';
import { DisconnectError, ReplyError } from '../errors.js';
import { checkChannel, expiryFields, namespaceOf, nowSeconds } from './channel-access.js';
import { canSubscribe } from './permissions.js';
import type { ChannelState, Session } from './session.js';

/** Longest a new subscription gives way to recoveries during a reconnect storm. */
const stormMaxWaitMs = 1000;

/** A subscribe result and the publications it recovered (raw, embedded when encoding). */
export interface Joined {
  readonly result: SubscribeResult;
  readonly publications: readonly Publication[];
}

export function encodeSubscribeResult(joined: Joined): string {
  const result = JSON.stringify(joined.result);
  return joined.publications.length === 0 ? result : withRawField(result, 'publications', encodePublications(joined.publications));
}

interface JoinRequest {
  readonly serverSide: boolean;
  readonly delivery: ChannelDelivery;
  readonly ns: NamespaceOptions;
  /** The client asked for join/leave pushes. */
  readonly wantsJoinLeave: boolean;
  /** Set for positioned subscriptions (history is on). */
  readonly history: HistoryLimits | undefined;
  readonly recoverable: boolean;
  /** The client's last position, when it asks to recover. */
  readonly recover: { offset: number; epoch: string } | undefined;
  readonly rejectUnrecovered: boolean;
  readonly info?: SubscribeClaims['info'];
  readonly expireAt?: number | undefined;
}

/** Which stream guarantees a subscription gets: the namespace forces or allows them; both need history. */
function streamMode(ns: NamespaceOptions, asks: { recoverable?: boolean; positioned?: boolean }) {
  const history = historyLimits(ns);
  const recoverable = history !== undefined && (ns.forceRecovery || (ns.allowRecovery && asks.recoverable === true));
  const positioned = history !== undefined && (recoverable || ns.forcePositioning || (ns.allowPositioning && asks.positioned === true));
  return { history: positioned ? history : undefined, recoverable };
}

function recoverFrom(asks: SubscribeRecovery | undefined) {
  return asks?.recover ? { offset: asks.offset ?? 0, epoch: asks.epoch ?? '' } : undefined;
}

/**
 * Enters a channel. Live publications are held back from the moment the node delivers
 * the channel to this session, then history is read: the caller writes the reply and
 * releases what was held back, de-duplicated and checked against the position.
 */
async function join(s: Session, channel: string, request: JoinRequest): Promise<Joined> {
  const state: ChannelState = {
    early: [],
    position: undefined,
    serverSide: request.serverSide,
    info: request.info,
    expiry: undefined,
    delivery: request.delivery,
    paused: false,
    presence: request.ns.presence,
    joinLeave: request.ns.joinLeave,
    joinAnnounced: false,
    pushJoinLeave: request.ns.joinLeave && request.wantsJoinLeave,
  };
  s.channels.set(channel, state);
  try {
    await s.ctx.node.subscribe(s, channel);
    const result: SubscribeResult = expiryFields(s, request.expireAt);
    const joined = request.history === undefined ? { result, publications: [] } : await position(s, channel, state, request, request.history, result);
    // Left meanwhile (unsubscribe, close): its leave ran already, so no entry may appear now.
    if (s.channels.get(channel) !== state) throw new ReplyError(ErrorCode.Internal, 'left while subscribing');
    if (state.presence) await s.ctx.presence.add(channel, s.channelInfo(state));
    s.setChannelExpiry(channel, request.expireAt);
    return joined;
  } catch (err) {
    if (s.channels.get(channel) === state) s.leave(channel);
    throw err instanceof ReplyError ? err : new ReplyError(ErrorCode.Internal, 'subscribe failed', { cause: err });
  }
}

/** Reads the stream top (and, when recovering, what the client missed): all of it, or nothing. */
async function position(s: Session, channel: string, state: ChannelState, request: JoinRequest, history: HistoryLimits, base: SubscribeResult): Promise<Joined> {
  const recover = request.recoverable ? request.recover : undefined;
  const read = await s.ctx.node.history(channel, {
    ...(recover !== undefined && { sinceOffset: recover.offset }),
    limit: recover === undefined ? 0 : s.ctx.client.recoveryMaxPublications,
    metaTtlMs: history.metaTtlMs,
  });
  const top = read.position;
  const recovered = recover !== undefined && isRecovered(recover, read.publications.map((p) => p.offset ?? 0), top);
  if (recover !== undefined) {
    const rejected = !recovered && request.rejectUnrecovered;
    s.ctx.metrics.recoveries.inc({ result: recovered ? 'recovered' : rejected ? 'rejected' : 'not_recovered' });
    if (rejected) throw new ReplyError(ErrorCode.UnrecoverablePosition);
  }
  state.position = top;
  const result: SubscribeResult = {
    ...base,
    ...(request.recoverable && { recoverable: true }),
    positioned: true,
    epoch: top.epoch,
    offset: recovered ? recover.offset : top.offset,
    ...(recover !== undefined && { was_recovering: true }),
    ...(recovered && { recovered: true }),
  };
  return { result, publications: recovered ? read.publications : [] };
}

/** A channel from the connection token's `channels`, recovered from `connect.subs` when asked. */
export async function joinServerSide(s: Session, channel: string, asks: SubscribeRecovery | undefined): Promise<Joined> {
  const { ns, delivery } = namespaceOf(s, channel);
  const mode = streamMode(ns, {});
  const joined = await join(s, channel, { serverSide: true, delivery, ns, wantsJoinLeave: false, ...mode, recover: recoverFrom(asks), rejectUnrecovered: false });
  announceJoin(s, channel);
  return joined;
}

/** Publishes the join of a channel whose namespace has joinLeave (after the reply, so the joiner is counted). */
function announceJoin(s: Session, channel: string): void {
  const state = s.channels.get(channel);
  if (!state?.joinLeave || !s.isConnected) return;
  state.joinAnnounced = true;
  s.ctx.node.publishJoinLeave(channel, 'join', s.channelInfo(state));
}

async function verifySubscriptionToken(s: Session, token: string, channel: string, invalid: () => Error): Promise<SubscribeClaims> {
  let claims: SubscribeClaims;
  try {
    claims = await s.ctx.verifier.verifySubscribe(token);
  } catch (err) {
    if (!(err instanceof TokenError)) throw err;
    throw err.kind === 'expired' ? new ReplyError(ErrorCode.TokenExpired) : invalid();
  }
  if (claims.channel !== channel || claims.user !== s.user || (claims.client !== undefined && claims.client !== s.id)) {
    throw new DisconnectError(DisconnectCode.InvalidToken, 'subscription token is for another channel, user or client');
  }
  if (claims.expireAt !== undefined && claims.expireAt <= nowSeconds(s)) throw new ReplyError(ErrorCode.Expired);
  return claims;
}

export async function subscribe(s: Session, id: number, params: Params<'subscribe'>): Promise<void> {
  const channel = checkChannel(s, params.channel);
  if (params.delta !== undefined && params.delta !== '' && params.delta !== 'fossil') {
    throw new DisconnectError(DisconnectCode.BadRequest, `unknown delta type ${params.delta}`);
  }
  if ((params.type ?? 0) !== 0) throw new ReplyError(ErrorCode.NotAvailable, 'only stream subscriptions are supported');
  if (s.channels.has(channel)) throw new ReplyError(ErrorCode.AlreadySubscribed);
  if (s.channels.size >= s.ctx.client.maxSubscriptions) throw new ReplyError(ErrorCode.LimitExceeded);
  const { ns, name, delivery } = namespaceOf(s, channel);
  let claims: SubscribeClaims | undefined;
  if (params.token) {
    claims = await verifySubscriptionToken(s, params.token, channel, () => new ReplyError(ErrorCode.PermissionDenied, 'invalid subscription token'));
  } else if (!s.ctx.client.insecure && !canSubscribe(ns, name, s.user)) {
    throw new ReplyError(ErrorCode.PermissionDenied);
  }
  if (!s.isConnected) return;
  if (s.channels.has(channel)) throw new ReplyError(ErrorCode.AlreadySubscribed);
  const mode = streamMode(ns, params);
  const recover = recoverFrom(params);
  const request: JoinRequest = {
    serverSide: false,
    delivery,
    ns,
    wantsJoinLeave: params.join_leave === true,
    ...mode,
    recover,
    rejectUnrecovered: ((params.flag ?? 0) & 2) !== 0,
    info: claims?.info,
    expireAt: claims?.expireAt,
  };
  const { recoveryFirst, load } = s.ctx;
  if (recover === undefined && load.inStorm) await recoveryFirst.giveWay(stormMaxWaitMs);
  const joined = await (recover === undefined ? join(s, channel, request) : recoveryFirst.recovering(() => join(s, channel, request)));
  if (!s.isConnected) return;
  s.reply(`{"id":${id},"subscribe":${encodeSubscribeResult(joined)}}`);
  s.releaseEarly(channel);
  announceJoin(s, channel);
}

export async function subRefresh(s: Session, id: number, params: Params<'sub_refresh'>): Promise<void> {
  const channel = checkChannel(s, params.channel);
  if (!s.channels.has(channel)) throw new ReplyError(ErrorCode.PermissionDenied, 'not subscribed');
  if (!params.token) throw new ReplyError(ErrorCode.BadRequest, 'sub_refresh without token');
  const claims = await verifySubscriptionToken(s, params.token, channel, () => new DisconnectError(DisconnectCode.InvalidToken, 'invalid subscription token'));
  const state = s.channels.get(channel);
  if (state === undefined || !s.isConnected) return;
  if (claims.info !== undefined) state.info = claims.info;
  s.setChannelExpiry(channel, claims.expireAt);
  s.reply(`{"id":${id},"sub_refresh":${JSON.stringify(expiryFields(s, claims.expireAt))}}`);
}

export async function history(s: Session, id: number, params: Params<'history'>): Promise<void> {
  const channel = checkChannel(s, params.channel);
  const { ns } = namespaceOf(s, channel);
  const limits = historyLimits(ns);
  if (limits === undefined) throw new ReplyError(ErrorCode.NotAvailable, 'channel has no history');
  const allowed = s.ctx.client.insecure || ns.allowHistoryForClient || (ns.allowHistoryForSubscriber && s.channels.has(channel));
  if (!allowed) throw new ReplyError(ErrorCode.PermissionDenied);
  const max = s.ctx.client.historyMaxPublications;
  const asked = params.limit ?? 0;
  const read = await s.ctx.node.history(channel, {
    limit: asked < 0 || asked > max ? max : asked,
    ...(params.since !== undefined && { sinceOffset: params.since.offset }),
    ...(params.reverse !== undefined && { reverse: params.reverse }),
    metaTtlMs: limits.metaTtlMs,
  });
  if (params.since?.epoch && params.since.epoch !== read.position.epoch) throw new ReplyError(ErrorCode.UnrecoverablePosition);
  const body = withRawField(JSON.stringify({ epoch: read.position.epoch, offset: read.position.offset }), 'publications', encodePublications(read.publications));
  s.reply(`{"id":${id},"history":${body}}`);
}
