import { randomUUID } from 'node:crypto';
import {
  type ClientInfo,
  type Command,
  decodeCommands,
  DisconnectCode,
  disconnectCodes,
  encodeError,
  ErrorCode,
  PING,
  ProtocolError,
} from '@fleetgate/protocol';
import { DisconnectError, ReplyError } from '../errors.js';
import type { NodeClient } from '../node.js';
import { handleCommand } from './commands.js';
import type { SessionContext } from './context.js';
import type { Flushable } from './flush-scheduler.js';
import type { Transport } from './transport.js';

export type SessionState = 'connecting' | 'connected' | 'closed';

const transitions: Readonly<Record<SessionState, readonly SessionState[]>> = {
  connecting: ['connected', 'closed'],
  connected: ['closed'],
  closed: [],
};

/** A frame never grows past this when coalescing; more messages go into the next frame. */
const maxCoalescedFrameBytes = 64 * 1024;
const newline = Buffer.from('\n');

/** An encoded message: text, or UTF-8 bytes shared by every subscriber of a publication. */
export type Outgoing = string | Buffer;

interface ChannelState {
  /** Pushes that arrived while the subscribe reply was not written yet. */
  early: Outgoing[] | undefined;
}

/**
 * One client connection: reads command frames, runs them in order, and writes replies
 * and pushes through a per-tick coalescing outbound queue. Owns its timers (stale,
 * ping/pong, token expiry) and leaves the node cleanly whichever side closes.
 */
export class Session implements NodeClient, Flushable {
  readonly id = randomUUID();
  state: SessionState = 'connecting';
  user = '';
  connInfo: ClientInfo['conn_info'];
  /** Unix seconds when the credentials expire, or undefined. */
  expireAt: number | undefined;
  /** A failed connect leaves the socket unusable: any later command is a bad request. */
  connectFailed = false;
  readonly channels = new Map<string, ChannelState>();

  private outbound: Outgoing[] = [];
  private outboundBytes = 0;
  private backlog: string[] = [];
  private running = false;
  private heartbeat: NodeJS.Timeout | undefined;
  private expiry: NodeJS.Timeout | undefined;
  private pingSentAt: number | undefined;

  constructor(
    readonly ctx: SessionContext,
    readonly transport: Transport,
  ) {
    this.heartbeat = setTimeout(() => this.close(DisconnectCode.Stale), ctx.client.staleCloseDelay);
  }

  get clientInfo(): ClientInfo {
    return this.connInfo === undefined ? { user: this.user, client: this.id } : { user: this.user, client: this.id, conn_info: this.connInfo };
  }

  // ---- input ----

  receive(frame: string): void {
    if (this.state === 'closed') return;
    this.ctx.traffic.framesIn += 1;
    this.ctx.traffic.bytesIn += frame.length;
    if (this.running) {
      if (this.backlog.length >= this.ctx.client.maxPendingFrames) return this.close(DisconnectCode.TooManyRequests, 'too many pending frames');
      this.backlog.push(frame);
      this.transport.pause();
      return;
    }
    this.run(frame).catch((err: unknown) => {
      this.ctx.logger.error({ err, client: this.id }, 'session failed');
      this.close(DisconnectCode.Internal);
    });
  }

  private async run(first: string): Promise<void> {
    this.running = true;
    let frame: string | undefined = first;
    while (frame !== undefined && this.state !== 'closed') {
      await this.runFrame(frame);
      frame = this.backlog.shift();
    }
    this.running = false;
    // Also after a close: the socket must read the client's close reply to finish.
    this.transport.resume();
  }

  private async runFrame(frame: string): Promise<void> {
    if (this.connectFailed) return this.close(DisconnectCode.BadRequest, 'command after a failed connect');
    let commands: Command[];
    try {
      commands = decodeCommands(frame);
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw err;
      this.ctx.logger.info({ client: this.id, user: this.user, reason: err.message }, 'bad frame');
      return this.close(DisconnectCode.BadRequest, err.message);
    }
    for (const command of commands) {
      if (this.state === 'closed' || this.connectFailed) return;
      await this.runCommand(command);
    }
  }

  private async runCommand(command: Command): Promise<void> {
    const id = command.id;
    try {
      if (command.method === 'pong') return this.onPong();
      this.ctx.metrics.commands.inc({ method: command.method });
      await handleCommand(this, command);
    } catch (err) {
      if (err instanceof DisconnectError) return this.close(err.code, err.message);
      const replyError = err instanceof ReplyError ? err : new ReplyError(ErrorCode.Internal, undefined, { cause: err });
      if (replyError.code === ErrorCode.Internal) this.ctx.logger.error({ err, client: this.id, method: command.method }, 'command failed');
      this.ctx.metrics.commandErrors.inc({ method: command.method, code: replyError.code });
      if (command.method === 'connect') this.connectFailed = true;
      if (this.state !== 'closed') this.reply(encodeError(id, replyError.toBody()));
    }
  }

  // ---- state ----

  get isConnected(): boolean {
    return this.state === 'connected';
  }

  transition(to: SessionState): void {
    if (!transitions[this.state].includes(to)) throw new Error(`session cannot go from ${this.state} to ${to}`);
    this.state = to;
  }

  /** Called by connect once the client is registered. */
  startHeartbeat(): void {
    clearTimeout(this.heartbeat);
    const interval = this.ctx.client.pingInterval;
    if (interval === 0) return;
    // The first ping comes at a random point of the second half of the period, so that
    // clients connected together do not all get pinged (and answer) together.
    this.heartbeat = setTimeout(() => this.ping(), interval / 2 + this.ctx.random() * (interval / 2));
  }

  private ping(): void {
    this.pingSentAt = this.ctx.clock();
    this.ctx.traffic.messagesOut.ping += 1;
    this.enqueue(PING);
    this.heartbeat = setTimeout(() => this.afterPongDeadline(), this.ctx.client.pongTimeout);
  }

  private afterPongDeadline(): void {
    if (this.pingSentAt !== undefined) return this.close(DisconnectCode.NoPong);
    const { pingInterval, pongTimeout } = this.ctx.client;
    this.heartbeat = setTimeout(() => this.ping(), Math.max(0, pingInterval - pongTimeout));
  }

  private onPong(): void {
    if (this.pingSentAt === undefined) throw new DisconnectError(DisconnectCode.BadRequest, 'pong without ping');
    this.ctx.metrics.pingRtt.observe((this.ctx.clock() - this.pingSentAt) / 1000);
    this.pingSentAt = undefined;
  }

  /** (Re)arms the expiry timer for `expireAt`; the client gets a grace period to refresh. */
  setExpiry(expireAt: number | undefined): void {
    this.expireAt = expireAt;
    clearTimeout(this.expiry);
    this.expiry = undefined;
    if (expireAt === undefined) return;
    const delay = expireAt * 1000 - this.ctx.clock() + this.ctx.client.expiredCloseDelay;
    this.expiry = setTimeout(() => this.close(DisconnectCode.Expired), Math.max(0, delay));
  }

  // ---- output ----

  /** NodeClient: a publication push; false when this client does not take it. */
  deliver(channel: string, frame: Outgoing): boolean {
    const state = this.channels.get(channel);
    if (state === undefined) return false;
    if (state.early !== undefined) state.early.push(frame);
    else this.enqueue(frame);
    return true;
  }

  /** Queues a reply to a command. */
  reply(message: string): void {
    this.ctx.traffic.messagesOut.reply += 1;
    this.enqueue(message);
  }

  /** Ends a subscription's early buffering: what arrived meanwhile follows the reply. */
  releaseEarly(channel: string): void {
    const state = this.channels.get(channel);
    if (state?.early === undefined) return;
    const early = state.early;
    state.early = undefined;
    for (const frame of early) this.enqueue(frame);
  }

  private enqueue(message: Outgoing): void {
    if (this.state === 'closed') return;
    this.outbound.push(message);
    this.outboundBytes += message.length;
    if (this.outboundBytes + this.transport.bufferedBytes > this.ctx.client.queueMaxBytes) {
      this.ctx.logger.warn({ client: this.id, user: this.user, queuedBytes: this.outboundBytes, socketBytes: this.transport.bufferedBytes }, 'slow client disconnected');
      this.outbound = [];
      this.outboundBytes = 0;
      return this.close(DisconnectCode.Slow);
    }
    this.ctx.scheduler.mark(this);
  }

  flush(): void {
    if (this.outbound.length === 0) return;
    const messages = this.outbound;
    this.outbound = [];
    this.outboundBytes = 0;
    let start = 0;
    let size = 0;
    for (let i = 0; i < messages.length; i++) {
      const length = (messages[i] as Outgoing).length + 1;
      if (size > 0 && size + length > maxCoalescedFrameBytes) {
        this.write(joinFrame(messages.slice(start, i)));
        start = i;
        size = 0;
      }
      size += length;
    }
    this.write(joinFrame(start === 0 ? messages : messages.slice(start)));
  }

  private write(frame: Outgoing): void {
    this.ctx.traffic.framesOut += 1;
    this.ctx.traffic.bytesOut += frame.length;
    this.transport.write(frame);
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
    this.flush();
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
    clearTimeout(this.heartbeat);
    clearTimeout(this.expiry);
    this.outbound = [];
    this.backlog = [];
    if (wasConnected) this.ctx.node.unregister(this, this.channels.keys());
    this.channels.clear();
    this.ctx.events.closed(this, code);
  }
}

/** WebSocket close reasons are at most 123 bytes and never empty (the SDK reads an empty one as "reconnect"). */
function closeReason(code: number, reason: string | undefined): string {
  const text = reason || (disconnectCodes[code as DisconnectCode]?.reason ?? 'disconnect');
  const bytes = Buffer.from(text, 'utf8');
  return bytes.length <= 123 ? text : bytes.subarray(0, 123).toString('utf8').replace(/\uFFFD$/, '');
}

/** One frame from several messages: "\n" between them; text stays text unless a message is bytes. */
function joinFrame(messages: readonly Outgoing[]): Outgoing {
  if (messages.length === 1) return messages[0] as Outgoing;
  if (messages.every((m) => typeof m === 'string')) return messages.join('\n');
  const parts: Buffer[] = [];
  for (const m of messages) {
    if (parts.length > 0) parts.push(newline);
    parts.push(typeof m === 'string' ? Buffer.from(m) : m);
  }
  return Buffer.concat(parts);
}
