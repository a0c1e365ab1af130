import type { Scenario } from './context.js';
import { withTarget } from './context.js';
import { measureTraffic, trafficResult } from './measure.js';
import { BROADCAST_CHANNEL, subscriberSpecs } from './plan.js';
import { latencyPercentiles, mergeHistograms } from '../report/histogram.js';

/**
 * Broadcast where --slow-share of the subscribers stop reading (paused sockets) for the
 * whole window: the main numbers are the fast subscribers'. Afterwards the slow ones
 * read again and what they got (or whether the server cut them off) is reported apart.
 */
export const slow: Scenario = (ctx) =>
  withTarget(ctx, false, async (run) => {
    const specs = subscriberSpecs(ctx.options.connections, [BROADCAST_CHANNEL], ctx.options.slowShare, run.servers.length);
    await run.open(specs, ctx.options.perWorker);
    const memory = await run.memoryPerConnection(ctx.options.settleMs);
    const traffic = await measureTraffic(run, ctx.options, [BROADCAST_CHANNEL], {
      beforePublish: async () => void (await Promise.all(run.generators.map((g) => g.call('pause', {})))),
    });
    await Promise.all(run.generators.map((g) => g.call('resume', {})));
    await run.drain(traffic.publish.perPublisher, ctx.options.drainMs, true);
    const reports = await run.reports(traffic.publish.perPublisher);
    const sum = (pick: (r: (typeof reports)[number]) => number) => reports.reduce((n, r) => n + pick(r), 0);
    const histogram = mergeHistograms(reports.map((r) => r.slow.histogram));
    const slowResult = {
      clients: sum((r) => r.slowClients),
      deliveries: sum((r) => r.slow.deliveries),
      loss: sum((r) => r.slow.loss),
      disconnected: sum((r) => r.slowDisconnected),
      latency_ms: latencyPercentiles(histogram),
    };
    histogram.destroy();
    const result = trafficResult(run, memory, traffic, reports, specs);
    // Slow subscribers' disconnects are the expected outcome here, not surprises.
    return { ...result, unexpected_closes: result.unexpected_closes - slowResult.disconnected, slow: slowResult };
  });
