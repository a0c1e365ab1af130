import type { TargetName } from './types.js';

/** Messages between the orchestrator and its load-generator processes (child_process IPC). */

export interface SubscriberSpec {
  readonly channel: string;
  /** Pauses its socket when told to (the slow scenario). */
  readonly slow: boolean;
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

export interface PublishReport {
  readonly sent: number;
  readonly rate: number;
  readonly perChannel: Record<string, number>;
  readonly startedAt: number;
  readonly endedAt: number;
  readonly maxLagMs: number;
}

/** Request bodies by kind, and what each answers. */
export interface WorkerCalls {
  init: {
    req: { target: TargetName; url: string; localAddress?: string; reconnect: boolean };
    res: null;
  };
  open: { req: { subscribers: SubscriberSpec[]; concurrency: number }; res: { opened: number; failed: number } };
  status: { req: { expected?: Record<string, number> }; res: WorkerStatus };
  pause: { req: Record<string, never>; res: number };
  resume: { req: Record<string, never>; res: number };
  churn: { req: { perSecond: number }; res: null };
  stopChurn: { req: Record<string, never>; res: null };
  drop: { req: Record<string, never>; res: number };
  report: { req: { expected: Record<string, number> }; res: WorkerReport };
  publish: {
    req: { channels: string[]; rate: number; durationMs: number; size: number; publisherId: number };
    res: PublishReport;
  };
  shutdown: { req: Record<string, never>; res: null };
}

export type CallKind = keyof WorkerCalls;

export type WorkerRequest = { [K in CallKind]: { id: number; kind: K; body: WorkerCalls[K]['req'] } }[CallKind];

export type WorkerReply = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: string };
