import { buildResult, measureIdle } from './measure.js';
import type { Scenario } from './context.js';
import { withTarget } from './context.js';
import { BROADCAST_CHANNEL, subscriberSpecs } from './plan.js';

/** N connections, each subscribed, no traffic: memory per connection and the idle CPU. */
export const idle: Scenario = (ctx) =>
  withTarget(ctx, false, async (run) => {
    await run.open(subscriberSpecs(ctx.options.connections, [BROADCAST_CHANNEL], 0, run.servers.length), ctx.options.perWorker);
    const memory = await run.memoryPerConnection(ctx.options.settleMs);
    const { window, generatorCpuUs } = await measureIdle(run, ctx.options.durationMs);
    const reports = await run.reports([]);
    return buildResult({ run, memory, window, generatorCpuUs, reports, expectedDeliveries: 0 });
  });
