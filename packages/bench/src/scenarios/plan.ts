import type { SubscriberSpec } from '../ipc.js';
import type { BenchOptions } from '../options.js';

/** Who subscribes to what: channel names and one spec per subscriber. */

export const BROADCAST_CHANNEL = 'bench';

export function roomChannels(connections: number, roomSize: number): string[] {
  const rooms = Math.max(1, Math.ceil(connections / roomSize));
  return Array.from({ length: rooms }, (_, i) => `room-${i}`);
}

/**
 * Subscriber i joins channels[i % channels.length], so each room is spread over the
 * generators. With `slowShare`, every 1/share-th subscriber (evenly spread) is slow.
 * Over `nodes` gateway nodes, member j of room c goes to node (c + j) % nodes: the nodes
 * get equal shares, and every room with at least `nodes` members has members on every
 * node (i % nodes alone would put whole rooms on one node when the room count is a
 * multiple of the node count, and nothing would cross the broker).
 */
export function subscriberSpecs(connections: number, channels: readonly string[], slowShare = 0, nodes = 1): SubscriberSpec[] {
  const c = channels.length;
  return Array.from({ length: connections }, (_, i) => ({
    channel: channels[i % c] as string,
    node: ((i % c) + Math.floor(i / c)) % nodes,
    slow: Math.floor((i + 1) * slowShare) > Math.floor(i * slowShare),
  }));
}

/** Deliveries owed to fast subscribers when `expected[channel]` messages (all publishers) went to each channel. */
export function owedDeliveries(specs: readonly SubscriberSpec[], expected: Record<string, number>): number {
  return specs.reduce((n, spec) => n + (spec.slow ? 0 : (expected[spec.channel] ?? 0)), 0);
}

export function describeParams(options: BenchOptions): string {
  return `${options.connections} conn, ${options.rate} msg/s, ${options.size} B, ${options.durationMs / 1000} s`;
}
