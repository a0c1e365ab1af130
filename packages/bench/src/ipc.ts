import type { TargetName } from './types.js';

/** Messages between the orchestrator and its load-generator processes (child_process IPC). */

export interface SubscriberSpec {
  readonly channel: string;
  /** Index of the gateway node (in the worker's `urls`) this subscriber connects to. */
  readonly node: number;
  /** Pauses its socket when told to (the slow scenario). */
  readonly slow: boolean;
  /** Storm (--storm-keep): never dropped; connects from the kept source address (keptAddress). */
  readonly keep?: boolean;
}

/** Source-address prefix of the storm's kept clients and publisher: the server's drop spares it. */
export const KEPT_PREFIX = '127.1.';

/** 127.0.0.X → 127.1.0.X: the kept clients' source address next to a generator's own. */
export function keptAddress(localAddress: string | undefined): string {
  const last = localAddress?.split('.')[3] ?? '1';
  return `${KEPT_PREFIX}0.${last}`;
}

export interface CategoryTotals {
  readonly deliveries: number;
  readonly duplicates: number;
  readonly reordered: number;
  readonly loss: number;
  readonly subscribersWithLoss: number;
  /** hdr histogram of publish-to-receive latency in µs, encodeIntoCompressedBase64. */
  readonly histogram: string;
}

export interface WorkerStatus {
  readonly subscribed: number;
  readonly deliveries: number;
  /** Epoch ms of the last publication received (0 if none). */
  readonly lastReceiveAt: number;
  /** With `expected`: messages still missing at alive, never-closed, fast subscribers. */
  readonly missing: number;
  readonly slowMissing: number;
  /** Clients subscribed again after a drop (the storm). */
  readonly back: number;
  readonly cpuUserUs: number;
  readonly cpuSystemUs: number;
}

export interface WorkerReport {
  readonly fast: CategoryTotals;
  readonly slow: CategoryTotals;
  /** Storm: the kept (never dropped) clients. */
  readonly kept: CategoryTotals;
  readonly slowClients: number;
  readonly slowDisconnected: number;
  readonly unexpectedCloses: number;
  readonly connectFailures: number;
  readonly churnOpened: number;
  readonly churnClosed: number;
  readonly churnFailed: number;
  readonly reconnectAttempts: number;
  /** Epoch ms at which each client was subscribed again after a drop. */
  readonly backAt: number[];
}

/**
 * Messages sent, by publisher id (the array index) and channel. Sequences are per
 * (publisher, channel), so this is what each subscriber of a channel is owed per stream.
 */
export type Owed = readonly Readonly<Record<string, number>>[];

export interface PublishReport {
  readonly sent: number;
  readonly rate: number;
  /** Messages per channel over all publishers. */
  readonly perChannel: Record<string, number>;
  /** Messages per publisher id and channel (one publisher id per node connection). */
  readonly perPublisher: Record<string, number>[];
  readonly startedAt: number;
  readonly endedAt: number;
  readonly maxLagMs: number;
}

/** Request bodies by kind, and what each answers. */
export interface WorkerCalls {
  init: {
    /** `urls`: the gateway nodes; subscribers pick theirs by spec.node, the publisher connects to each. */
    req: { target: TargetName; urls: string[]; localAddress?: string; reconnect: boolean };
    res: null;
  };
  open: { req: { subscribers: SubscriberSpec[]; concurrency: number }; res: { opened: number; failed: number } };
  status: { req: { expected?: Owed }; res: WorkerStatus };
  pause: { req: Record<string, never>; res: number };
  resume: { req: Record<string, never>; res: number };
  churn: { req: { perSecond: number }; res: null };
  stopChurn: { req: Record<string, never>; res: null };
  drop: { req: Record<string, never>; res: number };
  report: { req: { expected: Owed }; res: WorkerReport };
  publish: {
    /** Publisher ids are publisherId + i for the connection to urls[i]. */
    req: { channels: string[]; rate: number; durationMs: number; size: number; publisherId: number; localAddress?: string; untilStopped?: boolean };
    res: PublishReport;
  };
  /** Ends a publish started with untilStopped (its call then answers). */
  stopPublish: { req: Record<string, never>; res: null };
  shutdown: { req: Record<string, never>; res: null };
}

export type CallKind = keyof WorkerCalls;

export type WorkerRequest = { [K in CallKind]: { id: number; kind: K; body: WorkerCalls[K]['req'] } }[CallKind];

export type WorkerReply = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: string };
