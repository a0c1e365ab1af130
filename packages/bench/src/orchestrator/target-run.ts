import type { SubscriberSpec, WorkerReport, WorkerStatus } from '../ipc.js';
import type { BenchOptions } from '../options.js';
import type { ServerStats, TargetName } from '../types.js';
import type { Pinning } from './pinning.js';
import { ServerProcess } from './server-process.js';
import { WorkerHandle } from './workers.js';

export type Log = (message: string) => void;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Handshakes in flight per generator process while connecting. */
const openConcurrency = 100;

export interface StatusTotals extends WorkerStatus {
  readonly generatorCpuUs: number;
}

/**
 * One target under test for one scenario: the server process, the subscriber
 * generators (each on its own loopback source address) and the publisher process.
 */
export class TargetRun {
  private baseline: ServerStats | undefined;
  connections = 0;
  subscribed = 0;
  connectFailures = 0;

  private constructor(
    readonly target: TargetName,
    readonly server: ServerProcess,
    readonly generators: readonly WorkerHandle[],
    readonly publisher: WorkerHandle,
    readonly pinning: Pinning,
    readonly log: Log,
  ) {}

  static async start(target: TargetName, options: BenchOptions, pinning: Pinning, log: Log, reconnect: boolean): Promise<TargetRun> {
    const profile = (name: string) =>
      options.cpuProfDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${options.cpuProfDir}`, `--cpu-prof-name=${options.scenario}-${target}-${name}.cpuprofile`];
    const server = await ServerProcess.start(target, pinning.serverCore, profile('server'));
    const count = Math.max(1, Math.ceil(options.connections / options.perWorker));
    const generators = Array.from({ length: count }, (_, i) => new WorkerHandle(`generator-${i}`, pinning.generatorCore, profile(`generator-${i}`)));
    const publisher = new WorkerHandle('publisher', pinning.generatorCore, profile('publisher'));
    const run = new TargetRun(target, server, generators, publisher, pinning, log);
    live.add(run);
    try {
      // Each generator its own source address: ~28k ephemeral ports each, and no shared 4-tuple space.
      await Promise.all(generators.map((g, i) => g.call('init', { target, url: server.url, localAddress: `127.0.0.${2 + i}`, reconnect })));
      await publisher.call('init', { target, url: server.url, reconnect: false });
      run.baseline = await server.stats(true);
    } catch (err) {
      await run.close();
      throw err;
    }
    return run;
  }

  /** Connects and subscribes everyone; specs are dealt to generators in contiguous blocks. */
  async open(specs: readonly SubscriberSpec[], perWorker: number): Promise<void> {
    const started = performance.now();
    const results = await Promise.all(
      this.generators.map((g, i) => g.call('open', { subscribers: specs.slice(i * perWorker, (i + 1) * perWorker), concurrency: openConcurrency })),
    );
    this.connections = specs.length;
    this.subscribed = results.reduce((n, r) => n + r.opened, 0);
    this.connectFailures = results.reduce((n, r) => n + r.failed, 0);
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    this.log(`${this.target}: ${this.subscribed}/${specs.length} subscribed in ${seconds} s${this.connectFailures > 0 ? ` (${this.connectFailures} failed)` : ''}`);
  }

  /** Server memory per connection after a full GC, against the empty server. */
  async memoryPerConnection(settleMs: number): Promise<{ rss: number; heap: number }> {
    await sleep(settleMs);
    const after = await this.server.stats(true);
    const before = this.baseline ?? after;
    const n = Math.max(1, this.subscribed);
    return { rss: (after.rss - before.rss) / n, heap: (after.heapUsed - before.heapUsed) / n };
  }

  async status(expected?: Record<string, number>): Promise<StatusTotals> {
    const all = await Promise.all([...this.generators, this.publisher].map((g) => g.call('status', expected === undefined ? {} : { expected })));
    const sum = (pick: (s: WorkerStatus) => number) => all.reduce((n, s) => n + pick(s), 0);
    return {
      subscribed: sum((s) => s.subscribed),
      deliveries: sum((s) => s.deliveries),
      lastReceiveAt: all.reduce((m, s) => Math.max(m, s.lastReceiveAt), 0),
      missing: sum((s) => s.missing),
      slowMissing: sum((s) => s.slowMissing),
      back: sum((s) => s.back),
      cpuUserUs: sum((s) => s.cpuUserUs),
      cpuSystemUs: sum((s) => s.cpuSystemUs),
      generatorCpuUs: sum((s) => s.cpuUserUs + s.cpuSystemUs),
    };
  }

  /**
   * Waits until nothing owed is missing (`slow`: at the slow subscribers), or nothing has
   * arrived for 2 s, or `limitMs` passed. Returns the last status.
   */
  async drain(expected: Record<string, number>, limitMs: number, slow = false): Promise<StatusTotals> {
    const deadline = performance.now() + limitMs;
    let status = await this.status(expected);
    let lastProgress = performance.now();
    let deliveries = status.deliveries;
    while ((slow ? status.slowMissing : status.missing) > 0 && performance.now() < deadline) {
      await sleep(50);
      status = await this.status(expected);
      if (status.deliveries !== deliveries) {
        deliveries = status.deliveries;
        lastProgress = performance.now();
      } else if (performance.now() - lastProgress > 2000) break;
    }
    return status;
  }

  reports(expected: Record<string, number>): Promise<WorkerReport[]> {
    return Promise.all(this.generators.map((g) => g.call('report', { expected })));
  }

  async close(): Promise<void> {
    await Promise.all([...this.generators, this.publisher].map((g) => g.shutdown()));
    await this.server.stop();
    live.delete(this);
  }

  kill(): void {
    for (const g of [...this.generators, this.publisher]) g.kill();
    this.server.kill();
  }
}

/** Runs still holding processes; killed if the orchestrator exits abruptly. */
const live = new Set<TargetRun>();
process.on('exit', () => {
  for (const run of live) run.kill();
});
