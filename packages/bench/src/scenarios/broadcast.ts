import type { Scenario, ScenarioContext } from './context.js';
import { withTarget } from './context.js';
import { measureTraffic, trafficResult } from './measure.js';
import { BROADCAST_CHANNEL, roomChannels, subscriberSpecs } from './plan.js';

/** Fan-out to `channels`: every subscriber owed every message of its channel. */
function fanout(ctx: ScenarioContext, channels: readonly string[]) {
  return withTarget(ctx, false, async (run) => {
    const specs = subscriberSpecs(ctx.options.connections, channels, 0, run.servers.length);
    await run.open(specs, ctx.options.perWorker);
    const memory = await run.memoryPerConnection(ctx.options.settleMs);
    const traffic = await measureTraffic(run, ctx.options, channels);
    const reports = await run.reports(traffic.publish.perPublisher);
    return trafficResult(run, memory, traffic, reports, specs);
  });
}

/** N subscribers of one channel, one open-loop publisher at --rate. */
export const broadcast: Scenario = (ctx) => fanout(ctx, [BROADCAST_CHANNEL]);

/** N/k channels of k members; publications go round-robin over the channels at --rate in total. */
export const rooms: Scenario = (ctx) => fanout(ctx, roomChannels(ctx.options.connections, ctx.options.roomSize));
