import type { Scenario } from './context.js';
import { withTarget } from './context.js';
import { measureTraffic, trafficResult } from './measure.js';
import { BROADCAST_CHANNEL, subscriberSpecs } from './plan.js';

/**
 * Broadcast while --churn-rate connections per second are closed and replaced (oldest
 * first). A replaced subscriber is owed only what came between its first and last
 * message; the ones never replaced are owed everything.
 */
export const churn: Scenario = (ctx) =>
  withTarget(ctx, false, async (run) => {
    const specs = subscriberSpecs(ctx.options.connections, [BROADCAST_CHANNEL], 0, run.servers.length);
    await run.open(specs, ctx.options.perWorker);
    const memory = await run.memoryPerConnection(ctx.options.settleMs);
    // Each generator churns its share of the rate.
    const perSecond = ctx.options.churnRate / run.generators.length;
    const traffic = await measureTraffic(run, ctx.options, [BROADCAST_CHANNEL], {
      beforePublish: async () => void (await Promise.all(run.generators.map((g) => g.call('churn', { perSecond })))),
      afterPublish: async () => void (await Promise.all(run.generators.map((g) => g.call('stopChurn', {})))),
    });
    const reports = await run.reports(traffic.publish.perPublisher);
    const sum = (pick: (r: (typeof reports)[number]) => number) => reports.reduce((n, r) => n + pick(r), 0);
    const result = trafficResult(run, memory, traffic, reports, specs);
    return { ...result, churn: { opened: sum((r) => r.churnOpened), closed: sum((r) => r.churnClosed), failed: sum((r) => r.churnFailed) } };
  });
