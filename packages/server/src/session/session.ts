import { randomUUID } from 'node:crypto';
import { type ClientInfo, DisconnectCode, disconnectCodes, encodePush, UnsubscribeCode, unsubscribeCodes } from '@fleetgate/protocol';
import type { StreamPosition } from '../broker/broker.js';
import type { ChannelDelivery } from '../config/namespaces.js';
import { checkPosition } from '../core/recovery.js';
import type { Delivery, NodeClient } from '../node.js';
import { registryChannel } from '../presence-keeper.js';
import { CommandRunner } from './command-runner.js';
import type { SessionContext } from './context.js';
import { Heartbeat } from './heartbeat.js';
import { Outbound, type OutboundHost, type OutgoingItem } from './outbound.js';
import { joinServerSide } from './subscribe.js';
import type { Transport } from './transport.js';

export type SessionState = 'connecting' | 'connected' | 'closed';

const transitions: Readonly<Record<SessionState, readonly SessionState[]>> = {
  connecting: ['connected', 'closed'],
  connected: ['closed'],
  closed: [],
};

export interface ChannelState {
  /** Publications that arrived before the subscribe reply was written; they follow it. */
  early: Delivery[] | undefined;
  /** Last stream position delivered, for positioned subscriptions. */
  position: StreamPosition | undefined;
  /** Subscribed by the server (token `channels`): a lost position ends the connection (3010). */
  readonly serverSide: boolean;
  /** `chan_info` from the subscription token. */
  info: ClientInfo['chan_info'];
  /** Subscription token expiry timer. */
  expiry: NodeJS.Timeout | undefined;
  /** Lane, overflow policy and batching of the channel's publications. */
  readonly delivery: ChannelDelivery;
  /** Pause policy: not delivered until the queue drains (then the client recovers). */
  paused: boolean;
  /** Namespace `presence`: this connection is in the channel's presence. */
  readonly presence: boolean;
  /** Namespace `joinLeave`: joining and leaving are published. */
  readonly joinLeave: boolean;
  /** The join was published, so the leave will be (never a leave without its join). */
  joinAnnounced: boolean;
  /** The client asked for join/leave pushes (and the namespace has them). */
  readonly pushJoinLeave: boolean;
}

/**
 * One client connection: reads command frames, runs them in order, and writes replies
 * and pushes through a per-tick coalescing outbound queue. Owns its timers (stale,
 * ping/pong, token expiry) and leaves the node cleanly whichever side closes.
 */
export class Session implements NodeClient, OutboundHost {
  readonly id = randomUUID();
  readonly spreadSlot: number;
  state: SessionState = 'connecting';
  user = '';
  connInfo: ClientInfo['conn_info'];
  /** Unix seconds when the credentials expire, or undefined. */
  expireAt: number | undefined;
  /** A failed connect leaves the socket unusable: any later command is a bad request. */
  connectFailed = false;
  readonly channels = new Map<string, ChannelState>();

  readonly heartbeat: Heartbeat;
  private readonly commands: CommandRunner;
  private readonly outbound: Outbound;
  private pausedChannels = 0;
  private expiry: NodeJS.Timeout | undefined;

  constructor(
    readonly ctx: SessionContext,
    readonly transport: Transport,
  ) {
    this.spreadSlot = ctx.random();
    this.heartbeat = new Heartbeat(this);
    this.commands = new CommandRunner(this);
    this.outbound = new Outbound(transport, ctx.scheduler, ctx.traffic, { maxBytes: ctx.client.queueMaxBytes, slowTimeoutMs: ctx.client.slowTimeout }, this);
  }

  get clientInfo(): ClientInfo {
    return this.connInfo === undefined ? { user: this.user, client: this.id } : { user: this.user, client: this.id, conn_info: this.connInfo };
  }

  /** Frames from the transport. */
  receive(frame: string): void {
    this.commands.receive(frame);
  }

  // ---- state ----

  get isConnected(): boolean {
    return this.state === 'connected';
  }

  transition(to: SessionState): void {
    if (!transitions[this.state].includes(to)) throw new Error(`session cannot go from ${this.state} to ${to}`);
    this.state = to;
  }

  /** (Re)arms the expiry timer for `expireAt`; the client gets a grace period to refresh. */
  setExpiry(expireAt: number | undefined): void {
    this.expireAt = expireAt;
    clearTimeout(this.expiry);
    this.expiry = this.afterExpiry(expireAt, () => this.close(DisconnectCode.Expired));
  }

  /** A timer for `expireAt` (Unix seconds) plus the refresh grace, or none. */
  private afterExpiry(expireAt: number | undefined, action: () => void): NodeJS.Timeout | undefined {
    if (expireAt === undefined) return undefined;
    return setTimeout(action, Math.max(0, expireAt * 1000 - this.ctx.clock() + this.ctx.client.expiredCloseDelay));
  }

  /** Arms a subscription's token expiry: unrefreshed, it ends with unsubscribe 2501 (the SDK resubscribes with a new token). */
  setChannelExpiry(channel: string, expireAt: number | undefined): void {
    const state = this.channels.get(channel);
    if (state === undefined) return;
    clearTimeout(state.expiry);
    state.expiry = this.afterExpiry(expireAt, () => this.unsubscribePush(channel, UnsubscribeCode.Expired));
  }

  // ---- output ----

  /** NodeClient: a publication push; false when this client does not take it. */
  deliver(channel: string, delivery: Delivery): boolean {
    const state = this.channels.get(channel);
    if (state === undefined) return false;
    if (state.early === undefined) return this.deliverInOrder(channel, state, delivery);
    state.early.push(delivery);
    return true;
  }

  /** A positioned subscription takes only the next offset: a gap means it must recover. */
  private deliverInOrder(channel: string, state: ChannelState, delivery: Delivery): boolean {
    const { pub } = delivery;
    const { lane } = state.delivery;
    let batchMs = state.delivery.batchMs;
    if (lane === 'bulk' && this.ctx.load.tier > 0) {
      // Degradation: tier 1 batches bulk feeds into longer windows, tier 2 stops them (positioned ones recover later).
      if (this.ctx.load.tier >= 2) {
        this.ctx.traffic.countOverflow(state.delivery, 'shed');
        if (state.position !== undefined) this.pause(state);
        return false;
      }
      batchMs = Math.max(batchMs, this.ctx.load.bulkBatchMs);
    }
    if (state.paused) {
      this.ctx.traffic.countOverflow(state.delivery, 'skipped');
      return false;
    }
    if (state.position !== undefined && pub.offset !== undefined) {
      const verdict = checkPosition(state.position, pub.offset, pub.epoch ?? '');
      if (verdict === 'duplicate') return false;
      if (verdict === 'gap') {
        this.lostPosition(channel, state);
        return false;
      }
      state.position = { offset: pub.offset, epoch: state.position.epoch };
    }
    if (this.state === 'closed') return false;
    delivery.item ??= publicationItem(channel, state.delivery, delivery);
    this.outbound.push(delivery.item, batchMs);
    return true;
  }

  /** NodeClient: after a broker interruption, a positioned subscription behind `top` recovers. */
  checkPosition(channel: string, top: StreamPosition): void {
    const state = this.channels.get(channel);
    const position = state?.position;
    if (state === undefined || position === undefined || state.early !== undefined) return;
    if (top.epoch !== position.epoch || top.offset > position.offset) this.lostPosition(channel, state);
  }

  /** Ends a subscription's early buffering: what arrived meanwhile follows the reply, in order. */
  releaseEarly(channel: string): void {
    const state = this.channels.get(channel);
    if (state?.early === undefined) return;
    const early = state.early;
    state.early = undefined;
    for (const delivery of early) {
      if (this.channels.get(channel) !== state) return;
      this.deliverInOrder(channel, state, delivery);
    }
  }

  /** Insufficient state: the client resubscribes and recovers (2500), or reconnects for server-side subscriptions (3010). */
  private lostPosition(channel: string, state: ChannelState): void {
    this.ctx.metrics.insufficientState.inc();
    if (state.serverSide) return this.close(DisconnectCode.InsufficientState, channel);
    this.unsubscribePush(channel, UnsubscribeCode.InsufficientState);
  }

  /** Leaves a channel and tells the client why (2000 final, 2500+ resubscribe). */
  unsubscribePush(channel: string, code: UnsubscribeCode): void {
    this.leave(channel);
    this.push(encodePush({ type: 'unsubscribe', channel, body: { code, reason: unsubscribeCodes[code].reason } }));
  }

  /** Leaves a channel without telling the client (it asked, or an error reply follows). */
  leave(channel: string): void {
    const state = this.channels.get(channel);
    if (state === undefined) return;
    clearTimeout(state.expiry);
    if (state.paused) this.pausedChannels -= 1;
    this.channels.delete(channel);
    this.outbound.removeChannel(channel);
    this.ctx.node.unsubscribe(this, channel);
    if (state.presence) this.ctx.presence.remove(channel, this.id);
    if (state.joinAnnounced) this.ctx.node.publishJoinLeave(channel, 'leave', this.channelInfo(state));
  }

  /** This connection as seen in a channel: its client info plus the subscription's `chan_info`. */
  channelInfo(state: ChannelState): ClientInfo {
    return state.info === undefined ? this.clientInfo : { ...this.clientInfo, chan_info: state.info };
  }

  deliverJoinLeave(channel: string, frame: string): void {
    const state = this.channels.get(channel);
    if (state?.pushJoinLeave && state.early === undefined) this.push(frame);
  }

  serverSubscribe(channel: string): void {
    if (!this.isConnected || this.channels.has(channel)) return;
    joinServerSide(this, channel, undefined).then(
      (joined) => {
        if (!this.isConnected) return;
        // The subscribe push carries the subscribe result's position fields.
        const { publications, recovered, was_recovering, ...body } = joined.result;
        this.push(encodePush({ type: 'subscribe', channel, body }));
        this.releaseEarly(channel);
      },
      (err: unknown) => this.ctx.logger.warn({ err, client: this.id, channel }, 'server-side subscribe failed'),
    );
  }

  serverUnsubscribe(channel: string): void {
    if (this.channels.has(channel)) this.unsubscribePush(channel, UnsubscribeCode.Server);
  }

  /** Queues a reply to a command. */
  reply(message: string): void {
    this.ctx.traffic.messagesOut.reply += 1;
    this.enqueue(message);
  }

  /** Queues a push that is not a publication (unsubscribe, disconnect, …). */
  push(message: string): void {
    this.ctx.traffic.messagesOut.push += 1;
    this.enqueue(message);
  }

  enqueue(message: string): void {
    if (this.state !== 'closed') this.outbound.push({ message, size: message.length, lane: 'control' });
  }

  // ---- backpressure (OutboundHost) ----

  /** Bytes waiting for this client: queued plus in the socket's buffer. */
  get pendingBytes(): number {
    return this.outbound.pendingBytes;
  }

  overflow(queuedBytes: number, socketBytes: number): void {
    this.ctx.logger.warn({ client: this.id, user: this.user, queuedBytes, socketBytes }, 'slow client disconnected');
    this.close(DisconnectCode.Slow);
  }

  dropped(items: readonly OutgoingItem[]): void {
    const lost = new Set<string>();
    for (const item of items) {
      const state = item.channel === undefined ? undefined : this.channels.get(item.channel);
      if (state === undefined || item.channel === undefined) continue;
      this.ctx.traffic.countOverflow(state.delivery, 'dropped');
      if (state.position !== undefined) lost.add(item.channel);
    }
    // A positioned channel that lost a publication recovers it from history.
    for (const channel of lost) {
      const state = this.channels.get(channel);
      if (state === undefined) continue;
      this.ctx.traffic.countOverflow(state.delivery, 'resynced');
      this.lostPosition(channel, state);
    }
  }

  coalesced(item: OutgoingItem): void {
    const state = item.channel === undefined ? undefined : this.channels.get(item.channel);
    if (state !== undefined) this.ctx.traffic.countOverflow(state.delivery, 'coalesced');
  }

  paused(item: OutgoingItem): void {
    const state = item.channel === undefined ? undefined : this.channels.get(item.channel);
    if (state !== undefined) this.pause(state);
  }

  private pause(state: ChannelState): void {
    if (state.paused) return;
    state.paused = true;
    this.pausedChannels += 1;
    this.ctx.traffic.countOverflow(state.delivery, 'paused');
  }

  get hasPaused(): boolean {
    return this.pausedChannels > 0;
  }

  /** The queue drained (or the node left degradation tier 2): paused channels resume. */
  relieved(): void {
    if (this.pausedChannels === 0) return;
    const shedding = this.ctx.load.tier >= 2;
    for (const [channel, state] of [...this.channels]) {
      if (!state.paused || (shedding && state.delivery.lane === 'bulk')) continue;
      state.paused = false;
      this.pausedChannels -= 1;
      // What was skipped comes back through recovery; without history it is gone (counted as skipped).
      if (state.position === undefined) continue;
      this.ctx.traffic.countOverflow(state.delivery, 'resynced');
      this.lostPosition(channel, state);
    }
  }

  // ---- closing ----

  /** NodeClient: closes from outside (API disconnect, shutdown), optionally with the backend's reason. */
  disconnect(code: number, reason?: string): void {
    this.close(code, undefined, reason);
  }

  /**
   * Closes with `code` after writing what is queued. The close reason is `reason` or the
   * code table's; `detail` only goes to the log.
   */
  close(code: number, detail?: string, reason?: string): void {
    if (this.state === 'closed') return;
    this.outbound.flush();
    this.ctx.logger.debug({ client: this.id, user: this.user, code, detail }, 'closing connection');
    this.transport.close(code, closeReason(code, reason));
    this.finish(String(code));
  }

  /** The socket closed (by the client, the network or after close()); `code` when the transport knows why. */
  transportClosed(code = 'client'): void {
    if (this.state !== 'closed') this.finish(code);
  }

  private finish(code: string): void {
    const wasConnected = this.state === 'connected';
    this.state = 'closed';
    this.ctx.metrics.disconnects.inc({ code });
    this.heartbeat.stop();
    clearTimeout(this.expiry);
    this.outbound.clear();
    this.commands.clear();
    for (const channel of [...this.channels.keys()]) this.leave(channel);
    if (wasConnected) {
      this.ctx.node.unregister(this);
      if (this.user !== '') this.ctx.presence.remove(registryChannel(this.user), this.id);
    }
    this.ctx.events.closed(this, code);
  }
}

/** WebSocket close reasons are at most 123 bytes and never empty (the SDK reads an empty one as "reconnect"). */
function closeReason(code: number, reason: string | undefined): string {
  const text = reason || (disconnectCodes[code as DisconnectCode]?.reason ?? 'disconnect');
  const bytes = Buffer.from(text, 'utf8');
  return bytes.length <= 123 ? text : bytes.subarray(0, 123).toString('utf8').replace(/\uFFFD$/, '');
}

/** The queue item of a publication (one per publication, shared by every subscriber on this node). */
function publicationItem(channel: string, where: ChannelDelivery, { frame, pub }: Delivery): OutgoingItem {
  const { lane, policy } = where;
  if (policy !== 'coalesce') return { message: frame, size: frame.length, lane, channel, policy };
  // Coalescing keeps the newest pending publication per channel, or per `tags.key` within it.
  const tag = pub.tags?.['key'];
  return { message: frame, size: frame.length, lane, channel, policy, key: tag === undefined ? channel : `${channel}\u0000${tag}` };
}
