/** Names shared by the orchestrator, the workers, the reports and the CLI. */

export const targetNames = ['fleetgate', 'ws', 'socketio'] as const;
export type TargetName = (typeof targetNames)[number];

export const scenarioNames = ['idle', 'broadcast', 'rooms', 'churn', 'storm', 'slow', 'presence'] as const;
export type ScenarioName = (typeof scenarioNames)[number];

export const brokerKinds = ['memory', 'redis', 'nats'] as const;
export type BrokerKind = (typeof brokerKinds)[number];

/** Publications through every node (round-robin, one publisher id per node) or all through node 0. */
export type PublishVia = 'all' | 'one';

/**
 * The fleet behind one Fleetgate row: K gateway processes on one broker. Present on the
 * fleetgate rows of a multi-node run (the K-node row and the 1-node memory baseline).
 */
export interface FleetResult {
  readonly nodes: number;
  readonly broker: BrokerKind;
  /** Broker URL given with --broker; null when the bench started its own (or memory). */
  readonly broker_url: string | null;
  readonly publish_via: PublishVia;
  /** Publications sent ÷ window (the publisher's throughput into the fleet). */
  readonly publications_per_s: number;
  /** Each node's CPU over the window, % of one core (all nodes share core 0 when pinned). */
  readonly node_cpu_pct: number[];
  /** Share of the nodes' CPU spent in the kernel (stime): syscalls and loopback TCP, to clients and to the broker. */
  readonly node_sys_share: number | null;
  /** Subscribers placed on each node. */
  readonly node_subscribers: number[];
  /** Broker process CPU over the window, % of one core; null: memory broker, or its pid was not found. */
  readonly broker_cpu_pct: number | null;
  readonly broker_cpu_us_per_delivery: number | null;
  readonly broker_cpu_us_per_publication: number | null;
  readonly broker_rss_bytes: number | null;
  /** Pids whose CPU is counted as the broker's (empty: not found or memory). */
  readonly broker_pids: number[];
}

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
  /** Server event-loop delay from the drop until all were back (or the timeout), ms beyond the 10 ms timer; a fleet: the worst node. */
  readonly loop_lag_max_ms: number;
  readonly loop_lag_p99_ms: number;
  /** Busy % of the server's and the generators' cores from the drop until all were back (null: not pinned). */
  readonly server_core_busy_pct: number | null;
  readonly generator_core_busy_pct: number | null;
  /** --storm-keep: clients not dropped, and what they received during the storm. */
  readonly kept_clients: number;
  readonly kept_published: number;
  readonly kept_deliveries: number;
  readonly kept_loss: number;
  readonly kept_latency_ms: LatencyMs | null;
}

export interface PresenceResult {
  readonly members: number;
  /** Seconds from the first connect until every member was subscribed (the join window). */
  readonly join_s: number;
  /** Server (all nodes) CPU over the join window ÷ members: connect + subscribe + presence entry. */
  readonly join_server_cpu_us_per_conn: number;
  readonly join_server_cpu_pct: number;
  /** Broker process CPU over the join window; null for the memory broker or when its pid was not found. */
  readonly join_broker_cpu_pct: number | null;
  readonly join_broker_cpu_us_per_conn: number | null;
  /** What presence_stats answered after the joins. */
  readonly num_clients: number;
  readonly num_users: number;
  /** presence_stats over the server API (HTTP, one call at a time, from the orchestrator). */
  readonly stats_calls: number;
  readonly stats_errors: number;
  readonly stats_latency_ms: LatencyMs | null;
  /** Every member's socket terminated at once: until presence_stats says 0 (null: not within 30 s). */
  readonly leave_s: number | null;
  readonly leave_server_cpu_us_per_conn: number;
  readonly leave_broker_cpu_us_per_conn: number | null;
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
  /** Row name: the target, or e.g. "fleetgate ×2 redis" / "fleetgate ×1 memory" in a multi-node run. */
  readonly label: string;
  readonly connections: number;
  readonly subscribed: number;
  readonly connect_failures: number;
  readonly unexpected_closes: number;
  readonly published: number;
  readonly deliveries: number;
  readonly expected_deliveries: number;
  readonly window_s: number;
  readonly deliveries_per_s: number;
  /** CPU of the server process (of all K node processes together) ÷ deliveries. */
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
  readonly fleet?: FleetResult;
  readonly presence?: PresenceResult;
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
  readonly storm_keep?: number;
  /** --fleetgate-config and --label, when given. */
  readonly fleetgate_config?: Record<string, unknown>;
  readonly label?: string;
  /** Publisher connections per node published through (absent: 1). */
  readonly publish_conns?: number;
  readonly fleet?: {
    readonly nodes: number;
    readonly broker: BrokerKind;
    readonly broker_url: string | null;
    readonly publish_via: PublishVia;
    readonly compare_memory: boolean;
    readonly history_size: number;
  };
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
  readonly failures: { readonly target: TargetName; readonly label: string; readonly error: string }[];
  /** What the run did differently from its flags (targets without multi-node support, pinning). */
  readonly notes: string[];
}
