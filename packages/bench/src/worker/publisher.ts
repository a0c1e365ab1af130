import { createClient, type LeanClient } from '../clients/index.js';
import type { PublishReport } from '../ipc.js';
import { makePayload, nowMs, type Payload, padLength } from '../payload.js';
import type { TargetName } from '../types.js';

export interface PublishPlan {
  readonly channels: readonly string[];
  /** Messages per second over all channels. */
  readonly rate: number;
  readonly durationMs: number;
  readonly size: number;
  readonly publisherId: number;
}

/** Timer period of the send loop; messages due within one tick leave together. */
const tickMs = 1;

/**
 * Open loop: message k is due at start + k/rate and is sent then, whether or not earlier
 * ones were delivered. Channels take turns (round-robin); sequences count per channel so
 * each subscriber sees 0, 1, 2, … Each payload is stamped when it is actually sent;
 * how late that was against the schedule is reported as the publisher's lag.
 */
export async function publish(target: TargetName, url: string, plan: PublishPlan): Promise<{ client: LeanClient; report: PublishReport }> {
  const client = createClient(target, url, undefined);
  await client.connect();
  const total = Math.max(1, Math.round((plan.rate * plan.durationMs) / 1000));
  const pad = 'x'.repeat(padLength(plan.size));
  const perChannel: Record<string, number> = Object.fromEntries(plan.channels.map((c) => [c, 0]));
  const intervalMs = 1000 / plan.rate;
  let sent = 0;
  let maxLagMs = 0;
  const startedAt = nowMs();
  await new Promise<void>((resolve) => {
    const tick = () => {
      const now = nowMs();
      const due = Math.min(total, Math.floor((now - startedAt) / intervalMs) + 1);
      const batches = new Map<string, Payload[]>();
      for (; sent < due; sent++) {
        const channel = plan.channels[sent % plan.channels.length] as string;
        const s = perChannel[channel] ?? 0;
        perChannel[channel] = s + 1;
        let batch = batches.get(channel);
        if (batch === undefined) batches.set(channel, (batch = []));
        batch.push(makePayload(s, plan.publisherId, pad));
        maxLagMs = Math.max(maxLagMs, now - (startedAt + sent * intervalMs));
      }
      for (const [channel, payloads] of batches) client.publish(channel, payloads);
      if (sent >= total) return resolve();
      // Sleep until the next message is due (at least one timer tick).
      setTimeout(tick, Math.max(tickMs, startedAt + sent * intervalMs - nowMs()));
    };
    tick();
  });
  return { client, report: { sent, rate: plan.rate, perChannel, startedAt, endedAt: nowMs(), maxLagMs } };
}
