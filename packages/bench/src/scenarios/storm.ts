import { nowMs } from '../payload.js';
import { readProcess } from '../orchestrator/proc.js';
import type { TargetRun } from '../orchestrator/target-run.js';
import { KEPT_PREFIX, keptAddress, type Owed, type SubscriberSpec } from '../ipc.js';
import type { LoopLag } from '../targets/harness.js';
import type { PublishReport } from '../ipc.js';
import { latencyPercentiles, mergeHistograms } from '../report/histogram.js';
import type { StormResult } from '../types.js';
import type { Scenario } from './context.js';
import { withTarget } from './context.js';
import { measureTraffic, trafficResult } from './measure.js';
import { BROADCAST_CHANNEL, subscriberSpecs } from './plan.js';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls until `count` clients are back or `timeoutMs` passes. */
async function waitForBack(run: TargetRun, count: number, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline && (await run.status()).back < count) await sleep(50);
}

/** Seconds after `dropAt` at which the `rank`-th (1-based) client was back; null if fewer came back. */
function backAfter(backAt: readonly number[], rank: number, dropAt: number): number | null {
  const sorted = [...backAt].sort((a, b) => a - b);
  const at = sorted[rank - 1];
  return at === undefined ? null : (at - dropAt) / 1000;
}

/** The kept clients' channel: fed only during the storm, so their numbers are the storm's. */
export const KEPT_CHANNEL = 'bench-kept';

/**
 * Every 1/share-th subscriber (evenly spread over the subscriber list) is kept: never dropped,
 * subscribed to KEPT_CHANNEL. The kept ones go last, so with --per-worker N−kept they get
 * a generator process of their own and their arrivals are not stuck behind the
 * reconnecting clients' handshakes in the same event loop.
 */
export function keepSpecs(specs: readonly SubscriberSpec[], share: number): SubscriberSpec[] {
  const marked = specs.map((spec, i) => (Math.floor((i + 1) * share) > Math.floor(i * share) ? { ...spec, channel: KEPT_CHANNEL, keep: true } : spec));
  return [...marked.filter((s) => s.keep !== true), ...marked.filter((s) => s.keep === true)];
}

/** Per publisher id, the channels of `a` and of `b` together (their channels differ). */
function mergeOwed(a: Owed, b: Owed): Owed {
  return Array.from({ length: Math.max(a.length, b.length) }, (_, i) => ({ ...a[i], ...b[i] }));
}

/** The worst node's event-loop delay. */
function worstLag(lags: readonly LoopLag[]): LoopLag {
  return lags.reduce((w, l) => ({ maxMs: Math.max(w.maxMs, l.maxMs), p99Ms: Math.max(w.p99Ms, l.p99Ms), meanMs: Math.max(w.meanMs, l.meanMs) }), { maxMs: 0, p99Ms: 0, meanMs: 0 });
}

/**
 * A steady broadcast phase of --duration (measured as in broadcast), then every client is
 * dropped at once (by the server, or by the clients with --drop client). Clients come back
 * with the centrifuge SDK's backoff (full jitter, 0.5–20 s); no traffic during the storm.
 * Reported: time until 99% and all are subscribed again, and peak RSS against the steady RSS,
 * the server's event-loop delay during the storm, and with --storm-keep F the latency of a
 * share F of clients that are never dropped and get --rate msg/s on their own channel from
 * just before the drop until all others are back (publisher and kept clients connect from
 * 127.1.x.x, which the drop spares).
 */
export const storm: Scenario = (ctx) =>
  withTarget(ctx, true, async (run) => {
    const keepShare = ctx.options.stormKeep;
    const specs = keepSpecs(subscriberSpecs(ctx.options.connections, [BROADCAST_CHANNEL], 0, run.servers.length), keepShare);
    const keptCount = specs.filter((s) => s.keep === true).length;
    await run.open(specs, ctx.options.perWorker);
    const memory = await run.memoryPerConnection(ctx.options.settleMs);
    const traffic = await measureTraffic(run, ctx.options, [BROADCAST_CHANNEL]);
    const steadyRss = run.servers.reduce((n, s) => n + (readProcess(s.pid)?.rssBytes ?? 0), 0);
    const clients = (await run.status()).subscribed - keptCount;
    let keptPublish: Promise<PublishReport> | undefined;
    if (keptCount > 0) {
      const req = { channels: [KEPT_CHANNEL], rate: ctx.options.rate, durationMs: ctx.options.stormTimeoutMs, size: ctx.options.size, publisherId: 0 };
      keptPublish = run.publisher.call('publish', { ...req, localAddress: keptAddress(undefined), untilStopped: true });
      // Its connections must be up before the drop (and before admission control sees the storm).
      await sleep(500);
    }
    await Promise.all(run.servers.map((s) => s.lagStart()));
    const sampler = run.sampler(50);
    const dropAt = nowMs();
    if (ctx.options.drop === 'server') await Promise.all(run.servers.map((s) => s.drop(keptCount > 0 ? KEPT_PREFIX : undefined)));
    else await Promise.all(run.generators.map((g) => g.call('drop', {})));
    await waitForBack(run, clients, ctx.options.stormTimeoutMs);
    const stormWindow = sampler.stop();
    const peakRss = stormWindow.rssPeakBytes;
    const lag = worstLag(await Promise.all(run.servers.map((s) => s.lagRead())));
    let owed: Owed = traffic.publish.perPublisher;
    let keptSent = 0;
    if (keptPublish !== undefined) {
      await run.publisher.call('stopPublish', {});
      const kept = await keptPublish;
      keptSent = kept.sent;
      owed = mergeOwed(owed, kept.perPublisher);
      await run.drain(owed, ctx.options.drainMs);
    }
    const reports = await run.reports(owed);
    const backAt = reports.flatMap((r) => r.backAt);
    const keptHistogram = mergeHistograms(reports.map((r) => r.kept.histogram));
    const stormResult: StormResult = {
      dropped_by: ctx.options.drop,
      clients,
      back_99pct_s: backAfter(backAt, Math.ceil(clients * 0.99), dropAt),
      back_all_s: backAfter(backAt, clients, dropAt),
      back_count: backAt.length,
      steady_rss_bytes: steadyRss,
      peak_rss_bytes: peakRss,
      peak_over_steady: steadyRss > 0 ? peakRss / steadyRss : 0,
      reconnect_attempts: reports.reduce((n, r) => n + r.reconnectAttempts, 0),
      loop_lag_max_ms: lag.maxMs,
      loop_lag_p99_ms: lag.p99Ms,
      server_core_busy_pct: stormWindow.serverCoreBusyPct,
      generator_core_busy_pct: stormWindow.generatorCoreBusyPct,
      kept_clients: keptCount,
      kept_published: keptSent,
      kept_deliveries: reports.reduce((n, r) => n + r.kept.deliveries, 0),
      kept_loss: reports.reduce((n, r) => n + r.kept.loss, 0),
      kept_latency_ms: keptCount > 0 ? latencyPercentiles(keptHistogram) : null,
    };
    keptHistogram.destroy();
    ctx.log(`${ctx.spec.label}: ${backAt.length}/${clients} back, 99% after ${stormResult.back_99pct_s ?? '—'} s`);
    const result = trafficResult(run, memory, traffic, reports, specs);
    // Every client was dropped on purpose; those closes are the scenario, not surprises.
    return { ...result, unexpected_closes: Math.max(0, result.unexpected_closes - clients), storm: stormResult };
  });
