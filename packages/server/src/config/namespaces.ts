import type { HistoryLimits } from '../broker/broker.js';
import { type ChannelName, parseChannelName } from '../core/channel-name.js';
import type { Lane, OverflowPolicy } from '../core/outbound-queue.js';
import { type Config, namespaceDefaults, type NamespaceOptions } from './schema.js';

/**
 * Resolves a channel's namespace to its effective options: built-in defaults, then
 * `channel.defaults`, then the namespace's own keys. Unknown namespaces resolve to
 * undefined (error 102).
 */
export class Namespaces {
  private readonly resolved = new Map<string, NamespaceOptions>();
  private readonly deliveries = new Map<string, ChannelDelivery>();

  constructor(channel: Config['channel']) {
    const base: NamespaceOptions = { ...namespaceDefaults, ...channel.defaults };
    this.resolved.set('', base);
    for (const [name, own] of Object.entries(channel.namespaces)) {
      this.resolved.set(name, { ...base, ...own } as NamespaceOptions);
    }
    for (const [name, ns] of this.resolved) this.deliveries.set(name, deliveryOf(name, ns));
  }

  get(namespace: string): NamespaceOptions | undefined {
    return this.resolved.get(namespace);
  }

  /** A channel's options, delivery and parsed name, or undefined when its namespace is not configured (102). */
  ofChannel(channel: string): { ns: NamespaceOptions; name: ChannelName; delivery: ChannelDelivery } | undefined {
    const name = parseChannelName(channel);
    const ns = this.resolved.get(name.namespace);
    const delivery = this.deliveries.get(name.namespace);
    return ns === undefined || delivery === undefined ? undefined : { ns, name, delivery };
  }
}

/** History limits of a namespace, or undefined when it keeps no history. */
export function historyLimits(ns: NamespaceOptions): HistoryLimits | undefined {
  if (ns.historySize <= 0 || ns.historyTtl <= 0) return undefined;
  return { size: ns.historySize, ttlMs: ns.historyTtl, metaTtlMs: ns.historyMetaTtl };
}

/** How a namespace's publications travel through a subscriber's outbound queue. */
export interface ChannelDelivery {
  /** For metrics labels ("" for channels without a namespace). */
  readonly namespace: string;
  readonly lane: Lane;
  readonly policy: OverflowPolicy;
  readonly batchMs: number;
}

function deliveryOf(namespace: string, ns: NamespaceOptions): ChannelDelivery {
  const policy = ns.overflow === 'auto' ? (historyLimits(ns) === undefined ? 'disconnect' : 'drop-oldest') : ns.overflow;
  return { namespace, lane: ns.priority, policy, batchMs: ns.batchMs };
}
