import { busyPercent, type CpuTimes, readCpuTimes, readProcess } from './proc.js';

export interface WindowStats {
  readonly durationMs: number;
  /** CPU of all server processes together (one, or the K nodes of a fleet). */
  readonly serverCpuUs: number;
  /** CPU of each server process, in the order given. */
  readonly perServerCpuUs: number[];
  /** Kernel part (stime) of serverCpuUs. */
  readonly serverSysUs: number;
  /** CPU of the broker process(es); null when there are none to watch. */
  readonly brokerCpuUs: number | null;
  readonly brokerRssBytes: number | null;
  /** Sum of the servers' RSS at each sample: peak and mean. */
  readonly rssPeakBytes: number;
  readonly rssMeanBytes: number;
  readonly machineBusyPct: number;
  /** Busy % of the generator core, or null when nothing is pinned. */
  readonly generatorCoreBusyPct: number | null;
  /** Busy % of the server's core (its own CPU plus anything else there), or null when nothing is pinned. */
  readonly serverCoreBusyPct: number | null;
}

export interface SamplerTargets {
  readonly serverPids: readonly number[];
  readonly brokerPids: readonly number[];
  readonly generatorCore: number | undefined;
  readonly serverCore: number | undefined;
}

const cpuOf = (pids: readonly number[]) => pids.map((pid) => readProcess(pid)?.cpuUs ?? 0);
const sysOf = (pids: readonly number[]) => pids.reduce((n, pid) => n + (readProcess(pid)?.sysUs ?? 0), 0);
const rssOf = (pids: readonly number[]) => pids.reduce((n, pid) => n + (readProcess(pid)?.rssBytes ?? 0), 0);

/**
 * Watches the servers (and a fleet's broker) during a measured window: CPU time at both
 * ends (from /proc, each process's own utime+stime, all threads), summed RSS every
 * `intervalMs`, and the busy time of the machine and of the generator and server cores.
 */
export class Sampler {
  private readonly startedAt = performance.now();
  private readonly cpuAtStart: number[];
  private readonly sysAtStart: number;
  private readonly brokerCpuAtStart: number[];
  private readonly coresAtStart: Map<string, CpuTimes>;
  private readonly rss: number[] = [];
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly targets: SamplerTargets,
    intervalMs = 100,
  ) {
    this.cpuAtStart = cpuOf(targets.serverPids);
    this.sysAtStart = sysOf(targets.serverPids);
    this.brokerCpuAtStart = cpuOf(targets.brokerPids);
    this.sample();
    this.coresAtStart = readCpuTimes();
    this.timer = setInterval(() => this.sample(), intervalMs);
  }

  private sample(): void {
    const rss = rssOf(this.targets.serverPids);
    if (rss > 0) this.rss.push(rss);
  }

  /** Peak RSS so far (the storm watches it while clients come back). */
  get rssPeak(): number {
    return this.rss.reduce((a, b) => Math.max(a, b), 0);
  }

  stop(): WindowStats {
    clearInterval(this.timer);
    this.sample();
    const { serverPids, brokerPids, generatorCore, serverCore } = this.targets;
    // A process gone by now (crashed) counts nothing rather than a negative delta.
    const delta = (now: number[], start: number[]) => now.map((v, i) => Math.max(0, v - (start[i] ?? v)));
    const perServer = delta(cpuOf(serverPids), this.cpuAtStart);
    const broker = delta(cpuOf(brokerPids), this.brokerCpuAtStart);
    const cores = readCpuTimes();
    const mean = this.rss.length === 0 ? 0 : this.rss.reduce((a, b) => a + b, 0) / this.rss.length;
    const watchBroker = brokerPids.length > 0;
    return {
      durationMs: performance.now() - this.startedAt,
      serverCpuUs: perServer.reduce((a, b) => a + b, 0),
      perServerCpuUs: perServer,
      serverSysUs: Math.max(0, sysOf(serverPids) - this.sysAtStart),
      brokerCpuUs: watchBroker ? broker.reduce((a, b) => a + b, 0) : null,
      brokerRssBytes: watchBroker ? rssOf(brokerPids) : null,
      rssPeakBytes: this.rssPeak,
      rssMeanBytes: mean,
      machineBusyPct: busyPercent(this.coresAtStart, cores, 'cpu'),
      generatorCoreBusyPct: generatorCore === undefined ? null : busyPercent(this.coresAtStart, cores, `cpu${generatorCore}`),
      serverCoreBusyPct: serverCore === undefined ? null : busyPercent(this.coresAtStart, cores, `cpu${serverCore}`),
    };
  }
}
