import { DisconnectCode, PING } from '@fleetgate/protocol';
import { DisconnectError } from '../errors.js';
import type { SessionContext } from './context.js';
import type { Transport } from './transport.js';

/** What the heartbeat needs of its session. */
export interface HeartbeatHost {
  readonly ctx: SessionContext;
  readonly transport: Transport;
  /** Queues a control message without counting it as a reply or push. */
  enqueue(message: string): void;
  close(code: number): void;
}

/**
 * A connection's single timer before and after connect: the stale deadline (3502), then
 * pings every `pingInterval` with a pong deadline (3012) for bidirectional transports.
 */
export class Heartbeat {
  private timer: NodeJS.Timeout | undefined;
  private pingSentAt: number | undefined;

  constructor(private readonly host: HeartbeatHost) {
    this.timer = setTimeout(() => host.close(DisconnectCode.Stale), host.ctx.client.staleCloseDelay);
  }

  /** Called by connect: pings replace the stale deadline. */
  start(): void {
    clearTimeout(this.timer);
    const interval = this.host.ctx.client.pingInterval;
    if (interval === 0) return;
    // The first ping comes at a random point of the second half of the period, so that
    // clients connected together do not all get pinged (and answer) together.
    this.timer = setTimeout(() => this.ping(), interval / 2 + this.host.ctx.random() * (interval / 2));
  }

  stop(): void {
    clearTimeout(this.timer);
  }

  onPong(): void {
    if (this.pingSentAt === undefined) throw new DisconnectError(DisconnectCode.BadRequest, 'pong without ping');
    this.host.ctx.metrics.pingRtt.observe((this.host.ctx.clock() - this.pingSentAt) / 1000);
    this.pingSentAt = undefined;
  }

  private ping(): void {
    const { ctx, transport } = this.host;
    ctx.traffic.messagesOut.ping += 1;
    this.host.enqueue(PING);
    if (!transport.bidirectional) {
      // Unidirectional clients cannot answer; the ping only keeps their stream alive.
      this.timer = setTimeout(() => this.ping(), ctx.client.pingInterval);
      return;
    }
    this.pingSentAt = ctx.clock();
    this.timer = setTimeout(() => this.afterPongDeadline(), ctx.client.pongTimeout);
  }

  private afterPongDeadline(): void {
    if (this.pingSentAt !== undefined) return this.host.close(DisconnectCode.NoPong);
    const { pingInterval, pongTimeout } = this.host.ctx.client;
    this.timer = setTimeout(() => this.ping(), Math.max(0, pingInterval - pongTimeout));
  }
}
