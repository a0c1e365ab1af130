import { createClient, type LeanClient } from '../clients/index.js';
import type { PublishReport } from '../ipc.js';
import { makePayload, nowMs, type Payload, padLength } from '../payload.js';
import type { TargetName } from '../types.js';

export interface PublishPlan {
  readonly channels: readonly string[];
  /** Messages per second over all channels (and all connections). */
  readonly rate: number;
  readonly durationMs: number;
  readonly size: number;
  /** Id of the first connection's stream; connection i publishes as publisherId + i. */
  readonly publisherId: number;
  /** Source address of the publisher's connections (the storm's kept publisher). */
  readonly localAddress?: string;
  /** Publish at `rate` until stopPublishing() (durationMs is then only a cap). */
  readonly untilStopped?: boolean;
}

let stopRequested = false;

/** Ends the current untilStopped publish at its next tick. */
export function stopPublishing(): void {
  stopRequested = true;
}

/** Timer period of the send loop; messages due within one tick leave together. */
const tickMs = 1;

/**
 * Open loop: message k is due at start + k/rate and is sent then, whether or not earlier
 * ones were delivered. Channels take turns (round-robin), and so do the connections when
 * there are several (one per gateway node: publications enter the fleet through every
 * node). Each connection is its own publisher id with its own sequence per channel:
 * there is no order between publications entering through different nodes, only within
 * one connection's stream, and that is what subscribers check. Each payload is stamped
 * when it is actually sent; how late that was against the schedule is the publisher's lag.
 */
export async function publish(target: TargetName, urls: readonly string[], plan: PublishPlan): Promise<{ clients: LeanClient[]; report: PublishReport }> {
  const clients = urls.map((url) => createClient(target, url, plan.localAddress));
  stopRequested = false;
  await Promise.all(clients.map((c) => c.connect()));
  const total = Math.max(1, Math.round((plan.rate * plan.durationMs) / 1000));
  const pad = 'x'.repeat(padLength(plan.size));
  const zero = () => Object.fromEntries(plan.channels.map((c) => [c, 0])) as Record<string, number>;
  const perChannel = zero();
  const perPublisher = clients.map(zero);
  const intervalMs = 1000 / plan.rate;
  let sent = 0;
  let maxLagMs = 0;
  const startedAt = nowMs();
  await new Promise<void>((resolve) => {
    const tick = () => {
      const now = nowMs();
      const due = Math.min(total, Math.floor((now - startedAt) / intervalMs) + 1);
      // One batch per (connection, channel): what is due in this tick leaves as one frame each.
      const batches = clients.map(() => new Map<string, Payload[]>());
      for (; sent < due; sent++) {
        const channel = plan.channels[sent % plan.channels.length] as string;
        const c = sent % clients.length;
        const counts = perPublisher[c] as Record<string, number>;
        const s = counts[channel] ?? 0;
        counts[channel] = s + 1;
        perChannel[channel] = (perChannel[channel] ?? 0) + 1;
        const byChannel = batches[c] as Map<string, Payload[]>;
        let batch = byChannel.get(channel);
        if (batch === undefined) byChannel.set(channel, (batch = []));
        batch.push(makePayload(s, plan.publisherId + c, pad));
        maxLagMs = Math.max(maxLagMs, now - (startedAt + sent * intervalMs));
      }
      batches.forEach((byChannel, c) => {
        for (const [channel, payloads] of byChannel) clients[c]?.publish(channel, payloads);
      });
      if (sent >= total || (plan.untilStopped === true && stopRequested)) return resolve();
      // Sleep until the next message is due (at least one timer tick).
      setTimeout(tick, Math.max(tickMs, startedAt + sent * intervalMs - nowMs()));
    };
    tick();
  });
  return { clients, report: { sent, rate: plan.rate, perChannel, perPublisher, startedAt, endedAt: nowMs(), maxLagMs } };
}
