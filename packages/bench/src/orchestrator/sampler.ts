import { busyPercent, type CpuTimes, readCpuTimes, readProcess } from './proc.js';

export interface WindowStats {
  readonly durationMs: number;
  readonly serverCpuUs: number;
  readonly rssPeakBytes: number;
  readonly rssMeanBytes: number;
  readonly machineBusyPct: number;
  /** Busy % of the generator core, or null when nothing is pinned. */
  readonly generatorCoreBusyPct: number | null;
  /** Busy % of the server's core (its own CPU plus anything else there), or null when nothing is pinned. */
  readonly serverCoreBusyPct: number | null;
}

/**
 * Watches the server process during a measured window: CPU time at both ends (from
 * /proc, the server's own utime+stime), RSS every `intervalMs`, and the busy time of the
 * machine and of the generator core.
 */
export class Sampler {
  private readonly startedAt = performance.now();
  private readonly cpuAtStart: number;
  private readonly coresAtStart: Map<string, CpuTimes>;
  private readonly rss: number[] = [];
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly pid: number,
    private readonly generatorCore: number | undefined,
    private readonly serverCore: number | undefined,
    intervalMs = 100,
  ) {
    const first = readProcess(pid);
    this.cpuAtStart = first?.cpuUs ?? 0;
    if (first !== undefined) this.rss.push(first.rssBytes);
    this.coresAtStart = readCpuTimes();
    this.timer = setInterval(() => this.sample(), intervalMs);
  }

  private sample(): void {
    const now = readProcess(this.pid);
    if (now !== undefined) this.rss.push(now.rssBytes);
  }

  /** Peak RSS so far (the storm watches it while clients come back). */
  get rssPeak(): number {
    return this.rss.reduce((a, b) => Math.max(a, b), 0);
  }

  stop(): WindowStats {
    clearInterval(this.timer);
    const last = readProcess(this.pid);
    if (last !== undefined) this.rss.push(last.rssBytes);
    const cores = readCpuTimes();
    const mean = this.rss.length === 0 ? 0 : this.rss.reduce((a, b) => a + b, 0) / this.rss.length;
    return {
      durationMs: performance.now() - this.startedAt,
      serverCpuUs: Math.max(0, (last?.cpuUs ?? this.cpuAtStart) - this.cpuAtStart),
      rssPeakBytes: this.rssPeak,
      rssMeanBytes: mean,
      machineBusyPct: busyPercent(this.coresAtStart, cores, 'cpu'),
      generatorCoreBusyPct: this.generatorCore === undefined ? null : busyPercent(this.coresAtStart, cores, `cpu${this.generatorCore}`),
      serverCoreBusyPct: this.serverCore === undefined ? null : busyPercent(this.coresAtStart, cores, `cpu${this.serverCore}`),
    };
  }
}
