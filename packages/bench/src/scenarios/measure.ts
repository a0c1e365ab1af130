import type { PublishReport, SubscriberSpec, WorkerReport } from '../ipc.js';
import type { BenchOptions } from '../options.js';
import type { TargetRun, StatusTotals } from '../orchestrator/target-run.js';
import type { WindowStats } from '../orchestrator/sampler.js';
import type { TargetResult } from '../types.js';
import { latencyPercentiles, mergeHistograms } from '../report/histogram.js';
import { fleetResult } from './fleet-result.js';
import { owedDeliveries } from './plan.js';

/** Work a scenario adds around the publisher's run (pausing slow readers, churning). */
export interface TrafficHooks {
  beforePublish?(): Promise<void>;
  afterPublish?(): Promise<void>;
}

export interface Traffic {
  readonly publish: PublishReport;
  readonly window: WindowStats;
  readonly status: StatusTotals;
  readonly generatorCpuUs: number;
  /** Publications received during the window, by all subscribers. */
  readonly deliveries: number;
}

/**
 * The measured window: from just before the publisher starts until every owed message
 * arrived (or delivery stopped). Server (and broker) CPU and RSS are sampled over exactly this window.
 */
export async function measureTraffic(run: TargetRun, options: BenchOptions, channels: readonly string[], hooks: TrafficHooks = {}): Promise<Traffic> {
  const before = await run.status();
  const sampler = run.sampler();
  await hooks.beforePublish?.();
  const publish = await run.publisher.call('publish', {
    channels: [...channels],
    rate: options.rate,
    durationMs: options.durationMs,
    size: options.size,
    publisherId: 0,
  });
  await hooks.afterPublish?.();
  const status = await run.drain(publish.perPublisher, options.drainMs);
  const window = sampler.stop();
  return { publish, window, status, generatorCpuUs: status.generatorCpuUs - before.generatorCpuUs, deliveries: status.deliveries - before.deliveries };
}

/** An idle window of `durationMs`: what the server costs with connections and no traffic. */
export async function measureIdle(run: TargetRun, durationMs: number): Promise<{ window: WindowStats; generatorCpuUs: number }> {
  const before = await run.status();
  const sampler = run.sampler();
  await new Promise((resolve) => setTimeout(resolve, durationMs));
  const window = sampler.stop();
  const after = await run.status();
  return { window, generatorCpuUs: after.generatorCpuUs - before.generatorCpuUs };
}

const unreliableBusyPct = 85;

/**
 * The open-loop schedule (sent / rate), stretched to the last arrival when the server
 * fell behind: deliveries per second is then what it really carried.
 */
function trafficWindowMs(traffic: Traffic): number {
  const { publish, status } = traffic;
  const scheduledMs = (publish.sent / publish.rate) * 1000;
  return Math.max(scheduledMs, status.lastReceiveAt - publish.startedAt);
}

export interface ResultInputs {
  readonly run: TargetRun;
  readonly memory: { readonly rss: number; readonly heap: number };
  readonly window: WindowStats;
  readonly generatorCpuUs: number;
  readonly traffic?: Traffic;
  readonly reports: readonly WorkerReport[];
  readonly expectedDeliveries: number;
}

/** The row of a scenario with publish traffic: what was owed follows from who subscribed to what. */
export function trafficResult(
  run: TargetRun,
  memory: ResultInputs['memory'],
  traffic: Traffic,
  reports: readonly WorkerReport[],
  specs: readonly SubscriberSpec[],
): TargetResult {
  return buildResult({
    run,
    memory,
    window: traffic.window,
    generatorCpuUs: traffic.generatorCpuUs,
    traffic,
    reports,
    expectedDeliveries: owedDeliveries(specs, traffic.publish.perChannel),
  });
}

/** The per-target row of the report. */
export function buildResult(inputs: ResultInputs): TargetResult {
  const { run, memory, window, traffic, reports } = inputs;
  const sum = (pick: (r: WorkerReport) => number) => reports.reduce((n, r) => n + pick(r), 0);
  const histogram = mergeHistograms(reports.map((r) => r.fast.histogram));
  const latency = latencyPercentiles(histogram);
  histogram.destroy();
  const deliveries = traffic?.deliveries ?? 0;
  const windowMs = traffic === undefined ? window.durationMs : trafficWindowMs(traffic);
  const generatorCpuPct = (100 * inputs.generatorCpuUs) / (window.durationMs * 1000);
  const coreBusy = window.generatorCoreBusyPct;
  const unreliable = coreBusy === null ? generatorCpuPct > unreliableBusyPct || window.machineBusyPct > unreliableBusyPct : coreBusy > unreliableBusyPct;
  const fleet = fleetResult(run, window, traffic?.publish.sent ?? 0, deliveries, windowMs);
  return {
    target: run.target,
    label: run.spec.label,
    connections: run.connections,
    subscribed: run.subscribed,
    connect_failures: run.connectFailures,
    unexpected_closes: sum((r) => r.unexpectedCloses),
    published: traffic?.publish.sent ?? 0,
    deliveries,
    expected_deliveries: inputs.expectedDeliveries,
    window_s: windowMs / 1000,
    deliveries_per_s: windowMs > 0 ? deliveries / (windowMs / 1000) : 0,
    server_cpu_us_per_delivery: deliveries > 0 ? window.serverCpuUs / deliveries : null,
    server_cpu_pct: (100 * window.serverCpuUs) / (window.durationMs * 1000),
    latency_ms: latency,
    loss: sum((r) => r.fast.loss),
    duplicates: sum((r) => r.fast.duplicates),
    reordered: sum((r) => r.fast.reordered),
    subscribers_with_loss: sum((r) => r.fast.subscribersWithLoss),
    rss_bytes_per_conn: memory.rss,
    heap_bytes_per_conn: memory.heap,
    server_rss_peak_bytes: window.rssPeakBytes,
    server_rss_mean_bytes: window.rssMeanBytes,
    generator_cpu_pct: generatorCpuPct,
    generator_core_busy_pct: coreBusy,
    server_core_busy_pct: window.serverCoreBusyPct,
    machine_busy_pct: window.machineBusyPct,
    publisher_max_lag_ms: traffic?.publish.maxLagMs ?? 0,
    unreliable,
    ...(fleet === undefined ? {} : { fleet }),
  };
}
