import type { FleetPlan } from '../fleet-plan.js';
import type { Owed, SubscriberSpec, WorkerReport, WorkerStatus } from '../ipc.js';
import type { BenchOptions } from '../options.js';
import type { ServerStats, TargetName } from '../types.js';
import { Fleet } from './fleet.js';
import type { Pinning } from './pinning.js';
import { Sampler } from './sampler.js';
import type { ServerProcess } from './server-process.js';
import { WorkerHandle } from './workers.js';
import { deepMerge, type JsonObject } from '../targets/merge.js';

/** What the presence scenario needs on every channel; --fleetgate-config goes over it. */
export const presenceConfig: JsonObject = { channel: { defaults: { presence: true, joinLeave: true, allowPresenceForClient: true } } };

function fleetgateConfig(options: BenchOptions): JsonObject | undefined {
  if (options.scenario !== 'presence') return options.fleetgateConfig;
  return deepMerge(presenceConfig, options.fleetgateConfig ?? {});
}

export type Log = (message: string) => void;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Handshakes in flight per generator process while connecting. */
const openConcurrency = 100;

export interface StatusTotals extends WorkerStatus {
  readonly generatorCpuUs: number;
}

/** Which target, deployed how, under which row label. */
export interface RunSpec {
  readonly target: TargetName;
  readonly label: string;
  /** Multi-node deployment (fleetgate only); undefined: one server. */
  readonly fleet: FleetPlan | undefined;
}

/**
 * One target under test for one scenario: the server process (or a fleet of K nodes and
 * their broker), the subscriber generators (each on its own loopback source address)
 * and the publisher process.
 */
export class TargetRun {
  private baselines: ServerStats[] = [];
  connections = 0;
  subscribed = 0;
  connectFailures = 0;
  /** Subscribers placed on each server (spec.node), for the report. */
  nodeSubscribers: number[] = [];

  private constructor(
    readonly spec: RunSpec,
    readonly fleet: Fleet,
    readonly generators: readonly WorkerHandle[],
    readonly publisher: WorkerHandle,
    readonly pinning: Pinning,
    readonly log: Log,
  ) {}

  static async start(spec: RunSpec, options: BenchOptions, pinning: Pinning, log: Log, reconnect: boolean): Promise<TargetRun> {
    const { target } = spec;
    const tag = spec.fleet === undefined ? target : spec.label.replace(/[^a-z0-9]+/gi, '-');
    const profile = (name: string) =>
      options.cpuProfDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${options.cpuProfDir}`, `--cpu-prof-name=${options.scenario}-${tag}-${name}.cpuprofile`];
    const config = fleetgateConfig(options);
    const fleet = await Fleet.start({ target, plan: spec.fleet, pinning, historySize: options.historySize, config, nodeFlags: (i) => profile(i === 0 ? 'server' : `server-${i}`) });
    const count = Math.max(1, Math.ceil(options.connections / options.perWorker));
    const generators = Array.from({ length: count }, (_, i) => new WorkerHandle(`generator-${i}`, pinning.generatorCore, profile(`generator-${i}`)));
    const publisher = new WorkerHandle('publisher', pinning.generatorCore, profile('publisher'));
    const run = new TargetRun(spec, fleet, generators, publisher, pinning, log);
    live.add(run);
    try {
      const urls = fleet.urls;
      // Each generator its own source address: ~28k ephemeral ports each, and no shared 4-tuple space.
      await Promise.all(generators.map((g, i) => g.call('init', { target, urls, localAddress: `127.0.0.${2 + i}`, reconnect })));
      // --publish-via one: every publication enters the fleet through node 0; --publish-conns: N connections to each.
      const via = spec.fleet?.publishVia === 'one' ? urls.slice(0, 1) : urls;
      const publishUrls = Array.from({ length: options.publishConns }, () => via).flat();
      await publisher.call('init', { target, urls: publishUrls, reconnect: false });
      run.baselines = await Promise.all(fleet.servers.map((s) => s.stats(true)));
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
    this.nodeSubscribers = this.servers.map((_, node) => specs.filter((s) => s.node === node).length);
    this.subscribed = results.reduce((n, r) => n + r.opened, 0);
    this.connectFailures = results.reduce((n, r) => n + r.failed, 0);
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    this.log(`${this.spec.label}: ${this.subscribed}/${specs.length} subscribed in ${seconds} s${this.connectFailures > 0 ? ` (${this.connectFailures} failed)` : ''}`);
  }

  get target(): TargetName {
    return this.spec.target;
  }

  get servers(): readonly ServerProcess[] {
    return this.fleet.servers;
  }

  /** Starts watching the servers' (and the broker's) CPU and memory. */
  sampler(intervalMs?: number): Sampler {
    const targets = {
      serverPids: this.servers.map((s) => s.pid),
      brokerPids: this.fleet.broker?.pids ?? [],
      generatorCore: this.pinning.generatorCore,
      serverCore: this.pinning.serverCore,
    };
    return new Sampler(targets, intervalMs);
  }

  /** Server memory per connection after a full GC, against the empty server(s); a fleet's nodes added up. */
  async memoryPerConnection(settleMs: number): Promise<{ rss: number; heap: number }> {
    await sleep(settleMs);
    const after = await Promise.all(this.servers.map((s) => s.stats(true)));
    let rss = 0;
    let heap = 0;
    after.forEach((a, i) => {
      const before = this.baselines[i] ?? a;
      rss += a.rss - before.rss;
      heap += a.heapUsed - before.heapUsed;
    });
    const n = Math.max(1, this.subscribed);
    return { rss: rss / n, heap: heap / n };
  }

  async status(expected?: Owed): Promise<StatusTotals> {
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
  async drain(expected: Owed, limitMs: number, slow = false): Promise<StatusTotals> {
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

  reports(expected: Owed): Promise<WorkerReport[]> {
    return Promise.all(this.generators.map((g) => g.call('report', { expected })));
  }

  async close(): Promise<void> {
    await Promise.all([...this.generators, this.publisher].map((g) => g.shutdown()));
    await this.fleet.stop();
    live.delete(this);
  }

  kill(): void {
    for (const g of [...this.generators, this.publisher]) g.kill();
    this.fleet.kill();
  }
}

/** Runs still holding processes; killed if the orchestrator exits abruptly. */
const live = new Set<TargetRun>();
process.on('exit', () => {
  for (const run of live) run.kill();
});
