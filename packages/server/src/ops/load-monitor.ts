import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { Config } from '../config/schema.js';
import { DegradationController, type Tier } from '../core/degradation.js';
import { StormDetector } from '../core/storm.js';

export interface LoadHooks {
  /** Connected clients now (storm detection compares disconnects with them). */
  connections(): number;
  tierChanged(tier: Tier, sample: { lagMs: number; cpu: number }): void;
  stormChanged(storm: boolean): void;
}

/**
 * Watches the process: event-loop lag and CPU every sample interval (feeding the
 * degradation tiers), connects and disconnects per second (feeding storm detection).
 */
export class LoadMonitor {
  readonly storm: StormDetector;
  readonly degradation: DegradationController;
  /** p99 event-loop delay over the last sample, ms. */
  loopLagMs = 0;
  private readonly delay = monitorEventLoopDelay({ resolution: 10 });
  private cpu = process.cpuUsage();
  private sampledAt = performance.now();
  private timers: NodeJS.Timeout[] = [];

  constructor(
    private readonly config: Pick<Config, 'admission' | 'overload'>,
    private readonly hooks: LoadHooks,
  ) {
    this.storm = new StormDetector({ factor: config.admission.stormFactor, minRate: config.admission.stormMinRate, calmSeconds: 5 });
    this.degradation = new DegradationController({
      lagMs: config.overload.eventLoopLag,
      cpu: config.overload.cpu,
      escalateAfter: config.overload.escalateAfter,
      recoverAfter: config.overload.recoverAfter,
    });
  }

  get tier(): Tier {
    return this.degradation.tier;
  }

  get inStorm(): boolean {
    return this.storm.storm;
  }

  get bulkBatchMs(): number {
    return this.config.overload.bulkBatchMs;
  }

  start(): void {
    this.delay.enable();
    const every = (ms: number, fn: () => void) => {
      const timer = setInterval(fn, ms);
      timer.unref();
      this.timers.push(timer);
    };
    every(this.config.overload.sampleInterval, () => this.sample());
    every(1000, () => {
      if (this.storm.tick(this.hooks.connections())) this.hooks.stormChanged(this.storm.storm);
    });
  }

  stop(): void {
    for (const timer of this.timers) clearInterval(timer);
    this.timers = [];
    this.delay.disable();
  }

  private sample(): void {
    const now = performance.now();
    const cpu = process.cpuUsage(this.cpu);
    const elapsedUs = (now - this.sampledAt) * 1000;
    this.cpu = process.cpuUsage();
    this.sampledAt = now;
    this.loopLagMs = this.delay.percentile(99) / 1e6;
    this.delay.reset();
    const sample = { lagMs: this.loopLagMs, cpu: elapsedUs > 0 ? (cpu.user + cpu.system) / elapsedUs : 0 };
    if (this.degradation.sample(sample)) this.hooks.tierChanged(this.degradation.tier, sample);
  }
}
