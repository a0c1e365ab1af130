export interface LoadSample {
  /** Event-loop delay over the sample, ms (p99). */
  readonly lagMs: number;
  /** CPU used by the process over the sample, as a share of one core. */
  readonly cpu: number;
}

export interface DegradationOptions {
  /** Lag above this is overload (0: ignore lag). */
  readonly lagMs: number;
  /** CPU share above this is overload (0: ignore CPU). */
  readonly cpu: number;
  /** Overloaded samples in a row before going one tier up. */
  readonly escalateAfter: number;
  /** Calm samples in a row (below 60% of the thresholds) before going one tier down. */
  readonly recoverAfter: number;
}

/** 0 normal, 1 batch `bulk` into longer windows, 2 stop delivering `bulk`, 3 refuse new connections. */
export type Tier = 0 | 1 | 2 | 3;

/**
 * Degradation under sustained overload, one tier at a time with hysteresis: up after
 * `escalateAfter` overloaded samples, down after `recoverAfter` calm ones, so a single
 * spike does nothing and the node does not flap. Pure: the caller samples.
 */
export class DegradationController {
  tier: Tier = 0;
  private hot = 0;
  private cool = 0;

  constructor(private readonly options: DegradationOptions) {}

  /** Feeds one sample; returns true when the tier changed. */
  sample(s: LoadSample): boolean {
    const { lagMs, cpu, escalateAfter, recoverAfter } = this.options;
    const over = (lagMs > 0 && s.lagMs > lagMs) || (cpu > 0 && s.cpu > cpu);
    const calm = (lagMs === 0 || s.lagMs < 0.6 * lagMs) && (cpu === 0 || s.cpu < 0.6 * cpu);
    this.hot = over ? this.hot + 1 : 0;
    this.cool = calm ? this.cool + 1 : 0;
    if (this.hot >= escalateAfter && this.tier < 3) {
      this.tier = (this.tier + 1) as Tier;
      this.hot = 0;
      return true;
    }
    if (this.cool >= recoverAfter && this.tier > 0) {
      this.tier = (this.tier - 1) as Tier;
      this.cool = 0;
      return true;
    }
    return false;
  }
}
