export interface StormOptions {
  /** Storm when the connect rate is this many times the recent baseline… */
  readonly factor: number;
  /** …and above this many connects (or disconnects) per second. */
  readonly minRate: number;
  /** Calm seconds in a row before the storm is over. */
  readonly calmSeconds: number;
}

/**
 * Reconnect-storm detection from per-second counts: a connect rate far above the recent
 * baseline, or a mass disconnect, starts a storm; a few calm seconds end it. Pure: the
 * caller counts events and calls `tick` once a second.
 */
export class StormDetector {
  private connects = 0;
  private disconnects = 0;
  /** Exponentially weighted connects per second, learnt from calm seconds only. */
  private baseline = 0;
  private calm = 0;
  storm = false;

  constructor(private readonly options: StormOptions) {}

  connected(): void {
    this.connects += 1;
  }

  disconnected(): void {
    this.disconnects += 1;
  }

  /** Closes one second; returns true when the storm state changed. */
  tick(connections: number): boolean {
    const { factor, minRate, calmSeconds } = this.options;
    const rate = this.connects;
    const surge = rate > minRate && rate > factor * this.baseline;
    const massDisconnect = this.disconnects > minRate && this.disconnects > 0.2 * (connections + this.disconnects);
    this.connects = 0;
    this.disconnects = 0;
    const was = this.storm;
    if (surge || massDisconnect) {
      this.storm = true;
      this.calm = 0;
    } else if (this.storm) {
      this.calm = rate <= Math.max(minRate / 2, 2 * this.baseline) ? this.calm + 1 : 0;
      if (this.calm >= calmSeconds) this.storm = false;
    }
    if (!this.storm) this.baseline = this.baseline === 0 ? rate : 0.95 * this.baseline + 0.05 * rate;
    return this.storm !== was;
  }
}
