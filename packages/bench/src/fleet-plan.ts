import { type BrokerKind, type PublishVia, type TargetName } from './types.js';

/** A broker as given on the command line: a kind, and a URL unless the bench starts its own. */
export interface BrokerChoice {
  readonly kind: BrokerKind;
  /** undefined: the bench starts its own redis-server / nats-server (or memory: none needed). */
  readonly url: string | undefined;
}

/** How a Fleetgate row is deployed: K gateway processes sharing one broker. */
export interface FleetPlan {
  readonly nodes: number;
  readonly broker: BrokerChoice;
  readonly publishVia: PublishVia;
}

export const memoryBroker: BrokerChoice = { kind: 'memory', url: undefined };

/** The reference point: one node, in-process memory broker, same publisher setup. */
export function memoryBaseline(plan: FleetPlan): FleetPlan {
  return { nodes: 1, broker: memoryBroker, publishVia: plan.publishVia };
}

/**
 * `memory`, `redis`, `nats` (bench-started broker) or a URL (`redis://…`, `rediss://…`,
 * `nats://…`, comma-separated for several). undefined when the text names no broker.
 */
export function parseBroker(text: string): BrokerChoice | undefined {
  const value = text.trim();
  if (value === 'memory' || value === 'memory://') return memoryBroker;
  if (value === 'redis' || value === 'nats') return { kind: value, url: undefined };
  const scheme = value.split(':', 1)[0];
  if ((scheme === 'redis' || scheme === 'rediss') && value.includes('://')) return { kind: 'redis', url: value };
  if (scheme === 'nats' && value.includes('://')) return { kind: 'nats', url: value };
  return undefined;
}

/** Row label: "fleetgate ×2 redis"; plain target names outside multi-node runs. */
export function rowLabel(target: TargetName, plan: FleetPlan | undefined): string {
  return plan === undefined ? target : `${target} ×${plan.nodes} ${plan.broker.kind}`;
}
