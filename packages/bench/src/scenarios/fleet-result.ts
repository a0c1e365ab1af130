import type { TargetRun } from '../orchestrator/target-run.js';
import type { WindowStats } from '../orchestrator/sampler.js';
import type { FleetResult } from '../types.js';

/**
 * The multi-node part of a Fleetgate row: per-node CPU (to see whether the nodes share the
 * work evenly), the publisher's throughput into the fleet, and the broker's own CPU, per
 * delivery and per publication, so that the cost moved out of the nodes into the broker
 * is visible next to the nodes' CPU per delivery. undefined outside multi-node runs.
 */
export function fleetResult(run: TargetRun, window: WindowStats, published: number, deliveries: number, windowMs: number): FleetResult | undefined {
  const plan = run.spec.fleet;
  const broker = run.fleet.broker;
  if (plan === undefined || broker === undefined) return undefined;
  const pct = (us: number) => (100 * us) / (window.durationMs * 1000);
  const brokerUs = window.brokerCpuUs;
  return {
    nodes: plan.nodes,
    broker: plan.broker.kind,
    broker_url: plan.broker.url ?? null,
    publish_via: plan.publishVia,
    publications_per_s: windowMs > 0 ? published / (windowMs / 1000) : 0,
    node_cpu_pct: window.perServerCpuUs.map(pct),
    node_sys_share: window.serverCpuUs > 0 ? window.serverSysUs / window.serverCpuUs : null,
    node_subscribers: run.nodeSubscribers,
    broker_cpu_pct: brokerUs === null ? null : pct(brokerUs),
    broker_cpu_us_per_delivery: brokerUs === null || deliveries === 0 ? null : brokerUs / deliveries,
    broker_cpu_us_per_publication: brokerUs === null || published === 0 ? null : brokerUs / published,
    broker_rss_bytes: window.brokerRssBytes,
    broker_pids: [...broker.pids],
  };
}
