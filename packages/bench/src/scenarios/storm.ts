import { nowMs } from '../payload.js';
import { readProcess } from '../orchestrator/proc.js';
import type { TargetRun } from '../orchestrator/target-run.js';
import type { StormResult } from '../types.js';
import type { Scenario } from './context.js';
import { withTarget } from './context.js';
import { buildResult, measureTraffic } from './measure.js';
import { BROADCAST_CHANNEL, owedDeliveries, subscriberSpecs } from './plan.js';

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

/**
 * A steady broadcast phase of --duration (measured as in broadcast), then every client is
 * dropped at once (by the server, or by the clients with --drop client). Clients come back
 * with the centrifuge SDK's backoff (full jitter, 0.5–20 s); no traffic during the storm.
 * Reported: time until 99% and all are subscribed again, and peak RSS against the steady RSS.
 */
export const storm: Scenario = (ctx) =>
  withTarget(ctx, true, async (run) => {
    const specs = subscriberSpecs(ctx.options.connections, [BROADCAST_CHANNEL], 0, run.servers.length);
    await run.open(specs, ctx.options.perWorker);
    const memory = await run.memoryPerConnection(ctx.options.settleMs);
    const traffic = await measureTraffic(run, ctx.options, [BROADCAST_CHANNEL]);
    const steadyRss = run.servers.reduce((n, s) => n + (readProcess(s.pid)?.rssBytes ?? 0), 0);
    const clients = (await run.status()).subscribed;
    const sampler = run.sampler(50);
    const dropAt = nowMs();
    if (ctx.options.drop === 'server') await Promise.all(run.servers.map((s) => s.drop()));
    else await Promise.all(run.generators.map((g) => g.call('drop', {})));
    await waitForBack(run, clients, ctx.options.stormTimeoutMs);
    const peakRss = sampler.stop().rssPeakBytes;
    const reports = await run.reports(traffic.publish.perPublisher);
    const backAt = reports.flatMap((r) => r.backAt);
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
    };
    ctx.log(`${ctx.spec.label}: ${backAt.length}/${clients} back, 99% after ${stormResult.back_99pct_s ?? '—'} s`);
    const result = buildResult({
      run,
      memory,
      window: traffic.window,
      generatorCpuUs: traffic.generatorCpuUs,
      traffic,
      reports,
      expectedDeliveries: owedDeliveries(specs, traffic.publish.perChannel),
    });
    // Every client was dropped on purpose; those closes are the scenario, not surprises.
    return { ...result, unexpected_closes: Math.max(0, result.unexpected_closes - clients), storm: stormResult };
  });
