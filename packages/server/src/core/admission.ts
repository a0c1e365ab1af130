import type { Clock } from './clock.js';
import { TokenBucket } from './token-bucket.js';

export type RefusalReason = 'draining' | 'capacity' | 'rate' | 'ip' | 'loop-lag' | 'overload';

export interface Refusal {
  readonly reason: RefusalReason;
  /** Seconds for the Retry-After header, jittered so refused clients do not return together. */
  readonly retryAfter: number;
}

export interface AdmissionLimits {
  /** 0: no limit. */
  readonly maxConnections: number;
  /** New connections per second; 0: no limit. */
  readonly acceptRate: number;
  /** Connections from one IP address; 0: no limit. */
  readonly maxConnectionsPerIp: number;
  /** Refuse while the event loop lags more than this (ms); 0: never. */
  readonly maxEventLoopLag: number;
}

/** What the node looks like at the moment a connection asks to come in. */
export interface AdmissionState {
  readonly connections: number;
  readonly fromSameIp: number;
  readonly loopLagMs: number;
  /** Degradation tier 3 refuses new connections. */
  readonly refuseNew: boolean;
  /** In a reconnect storm Retry-After is longer and more spread out. */
  readonly storm: boolean;
}

/**
 * Decides, before the WebSocket upgrade, whether a node takes one more connection.
 * Refusing costs an HTTP response, not a WebSocket session.
 */
export class Admission {
  private readonly bucket: TokenBucket | undefined;
  draining = false;

  constructor(
    private readonly limits: AdmissionLimits,
    clock: Clock,
    private readonly random: () => number,
  ) {
    this.bucket = limits.acceptRate > 0 ? new TokenBucket(limits.acceptRate, limits.acceptRate, clock) : undefined;
  }

  check(state: AdmissionState): Refusal | undefined {
    const { maxConnections, maxConnectionsPerIp, maxEventLoopLag } = this.limits;
    const refuse = (reason: RefusalReason, base: number) => this.refuse(reason, base, state.storm);
    if (this.draining) return refuse('draining', 5);
    if (maxConnections > 0 && state.connections >= maxConnections) return refuse('capacity', 5);
    if (maxConnectionsPerIp > 0 && state.fromSameIp >= maxConnectionsPerIp) return refuse('ip', 5);
    if (state.refuseNew) return refuse('overload', 5);
    if (maxEventLoopLag > 0 && state.loopLagMs > maxEventLoopLag) return refuse('loop-lag', 2);
    if (this.bucket !== undefined && !this.bucket.take()) return refuse('rate', Math.max(1, Math.ceil(this.bucket.waitMs / 1000)));
    return undefined;
  }

  /** Retry-After in [base, 2*base] seconds; in a storm base is 4× and the spread wider. */
  private refuse(reason: RefusalReason, base: number, storm: boolean): Refusal {
    const b = storm ? base * 4 : base;
    return { reason, retryAfter: b + Math.floor(this.random() * (b + 1)) };
  }
}
