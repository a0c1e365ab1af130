/** Names shared by the orchestrator, the workers, the reports and the CLI. */

export const targetNames = ['fleetgate', 'ws', 'socketio'] as const;
export type TargetName = (typeof targetNames)[number];

export const scenarioNames = ['idle', 'broadcast', 'rooms', 'churn', 'storm', 'slow'] as const;
export type ScenarioName = (typeof scenarioNames)[number];

export interface LatencyMs {
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
}

/** What the stats route of every target answers (same wrapper for all, so they are measured alike). */
export interface ServerStats {
  readonly rss: number;
  readonly heapUsed: number;
  readonly cpuUserUs: number;
  readonly cpuSystemUs: number;
}

export interface StormResult {
  readonly dropped_by: 'server' | 'client';
  readonly clients: number;
  /** Seconds from the drop until 99% (and all) of the clients were connected and subscribed again; null if never. */
  readonly back_99pct_s: number | null;
  readonly back_all_s: number | null;
  readonly back_count: number;
  readonly steady_rss_bytes: number;
  readonly peak_rss_bytes: number;
  readonly peak_over_steady: number;
  readonly reconnect_attempts: number;
}

export interface SlowResult {
  readonly clients: number;
  readonly deliveries: number;
  readonly loss: number;
  /** Slow clients the server closed (Fleetgate: 3008) or that closed otherwise. */
  readonly disconnected: number;
  readonly latency_ms: LatencyMs | null;
}

export interface ChurnResult {
  readonly opened: number;
  readonly closed: number;
  readonly failed: number;
}

/** One target's numbers in one scenario run. null: not measured in this scenario. */
export interface TargetResult {
  readonly target: TargetName;
  readonly connections: number;
  readonly subscribed: number;
  readonly connect_failures: number;
  readonly unexpected_closes: number;
  readonly published: number;
  readonly deliveries: number;
  readonly expected_deliveries: number;
  readonly window_s: number;
  readonly deliveries_per_s: number;
  readonly server_cpu_us_per_delivery: number | null;
  readonly server_cpu_pct: number;
  readonly latency_ms: LatencyMs | null;
  readonly loss: number;
  readonly duplicates: number;
  readonly reordered: number;
  /** Subscribers that missed at least one message they should have had. */
  readonly subscribers_with_loss: number;
  readonly rss_bytes_per_conn: number;
  readonly heap_bytes_per_conn: number;
  readonly server_rss_peak_bytes: number;
  readonly server_rss_mean_bytes: number;
  readonly generator_cpu_pct: number;
  /** Busy % of the core the generators are pinned to (null when not pinned). */
  readonly generator_core_busy_pct: number | null;
  /**
   * Busy % of the server's core (null when not pinned). Well above server_cpu_pct means
   * something else ran there too: the numbers are noisy.
   */
  readonly server_core_busy_pct: number | null;
  readonly machine_busy_pct: number;
  /** Largest delay of the open-loop publisher behind its schedule. */
  readonly publisher_max_lag_ms: number;
  readonly unreliable: boolean;
  readonly storm?: StormResult;
  readonly slow?: SlowResult;
  readonly churn?: ChurnResult;
}

export interface ScenarioParams {
  readonly connections: number;
  readonly rate: number;
  readonly size: number;
  readonly duration_s: number;
  readonly room_size?: number;
  readonly churn_rate?: number;
  readonly slow_share?: number;
  readonly drop?: 'server' | 'client';
}

export interface BenchReport {
  readonly scenario: ScenarioName;
  readonly params: ScenarioParams;
  readonly command: string;
  readonly started_at: string;
  readonly finished_at: string;
  readonly machine: { readonly cpus: number; readonly node: string; readonly pinned: boolean; readonly platform: string };
  readonly results: TargetResult[];
  /** Targets whose run failed, with the reason; their rows are missing from `results`. */
  readonly failures: { readonly target: TargetName; readonly error: string }[];
}
