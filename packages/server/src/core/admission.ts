import type { Clock } from './clock.js';
import { TokenBucket } from './token-bucket.js';

export type RefusalReason = 'draining' | 'capacity' | 'rate';

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

  check(connections: number): Refusal | undefined {
    if (this.draining) return this.refuse('draining', 5);
    if (this.limits.maxConnections > 0 && connections >= this.limits.maxConnections) return this.refuse('capacity', 5);
    if (this.bucket !== undefined && !this.bucket.take()) return this.refuse('rate', Math.max(1, Math.ceil(this.bucket.waitMs / 1000)));
    return undefined;
  }

  /** Retry-After in [base, 2*base] seconds. */
  private refuse(reason: RefusalReason, base: number): Refusal {
    return { reason, retryAfter: base + Math.floor(this.random() * (base + 1)) };
  }
}
