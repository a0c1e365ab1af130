import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { TrafficStats } from '../core/traffic.js';
import type { NodeStats } from '../node.js';

/**
 * Process metrics (CPU, memory, event-loop lag, GC) belong to the process, not to a
 * gateway: collected once, in a registry of their own, whatever the number of gateways
 * (prom-client's collectors cannot be stopped, so one per gateway would never be freed).
 */
let processRegistry: Registry | undefined;

function processMetrics(): Registry {
  if (processRegistry === undefined) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry, prefix: 'fleetgate_' });
  }
  return processRegistry;
}

/**
 * Prometheus metrics of one gateway (its own registry, so several gateways can live in
 * one process). State gauges and hot-path traffic counters are read at scrape time.
 */
export class Metrics {
  readonly registry = new Registry();

  readonly connects = this.counter('fleetgate_connects_total', 'Successful client connects.', [] as const);
  readonly disconnects = this.counter('fleetgate_disconnects_total', 'Closed connections by close code (client = closed by the client or network).', ['code'] as const);
  readonly commands = this.counter('fleetgate_commands_total', 'Client commands handled, by method.', ['method'] as const);
  readonly commandErrors = this.counter('fleetgate_command_errors_total', 'Client commands answered with an error, by method and code.', ['method', 'code'] as const);
  readonly publications = this.counter('fleetgate_publications_total', 'Publications accepted, by source (api, client).', ['source'] as const);
  readonly admissionRejections = this.counter('fleetgate_admission_rejections_total', 'Connection attempts refused before the upgrade, by reason.', ['reason'] as const);
  readonly apiRequests = this.counter('fleetgate_api_requests_total', 'Server API calls by method and outcome (ok, error code, unauthorized).', ['method', 'outcome'] as const);
  readonly recoveries = this.counter('fleetgate_recovery_total', 'Subscribe recoveries by result: recovered, not_recovered (position gone or gap over the cap), rejected (112).', ['result'] as const);
  readonly insufficientState = this.counter('fleetgate_insufficient_state_total', 'Positioned subscriptions that saw a gap in offsets and were told to recover (2500 or 3010).', [] as const);
  readonly pingRtt = new Histogram({
    name: 'fleetgate_ping_rtt_seconds',
    help: 'Time from server ping to client pong.',
    buckets: [0.001, 0.005, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });
  readonly deliveryLatency = new Histogram({
    name: 'fleetgate_delivery_latency_seconds',
    help: 'From publish accepted to queued for write on every local subscriber (the write follows in the same tick), per publication.',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [this.registry],
  });
  readonly degradationTier = new Gauge({
    name: 'fleetgate_degradation_tier',
    help: 'Degradation tier under sustained overload: 0 normal, 1 bulk batched, 2 bulk shed, 3 new connections refused.',
    registers: [this.registry],
  });
  readonly storm = new Gauge({ name: 'fleetgate_storm', help: '1 while a reconnect storm is detected.', registers: [this.registry] });
  readonly storms = this.counter('fleetgate_storms_total', 'Reconnect storms detected.', [] as const);
  readonly brokerUp = new Gauge({ name: 'fleetgate_broker_up', help: '1 while the broker is reachable, 0 while it is not.', registers: [this.registry] });

  private counter<L extends string>(name: string, help: string, labelNames: readonly L[]): Counter<L> {
    return new Counter({ name, help, labelNames, registers: [this.registry] });
  }

  /** The exposition text: this gateway's metrics and the process's. */
  render(): Promise<string> {
    return Registry.merge([processMetrics(), this.registry]).metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  constructor(stats: () => NodeStats, traffic: TrafficStats, fleetSize: () => number, pendingBytes: () => Iterable<number>) {
    const gauge = (name: string, help: string, read: (s: NodeStats) => number) =>
      new Gauge({
        name,
        help,
        registers: [this.registry],
        collect() {
          this.set(read(stats()));
        },
      });
    gauge('fleetgate_connections', 'Connected clients on this node.', (s) => s.clients);
    gauge('fleetgate_users', 'Distinct users connected to this node.', (s) => s.users);
    gauge('fleetgate_channels', 'Channels with local subscribers.', (s) => s.channels);
    gauge('fleetgate_subscriptions', 'Client subscriptions on this node.', (s) => s.subscriptions);
    gauge('fleetgate_fleet_nodes', 'Live nodes of the fleet this node knows of (itself included).', () => fleetSize());

    this.fromTraffic('fleetgate_frames_sent_total', 'WebSocket frames written (each holds one or more messages).', () => traffic.framesOut);
    this.fromTraffic('fleetgate_bytes_sent_total', 'Bytes of frames written.', () => traffic.bytesOut);
    this.fromTraffic('fleetgate_frames_received_total', 'Frames read from clients.', () => traffic.framesIn);
    this.fromTraffic('fleetgate_bytes_received_total', 'Bytes of frames read from clients.', () => traffic.bytesIn);
    new Counter({
      name: 'fleetgate_overflow_total',
      help: 'Overflow policy actions on full outbound queues, by namespace, policy and action (dropped, coalesced, paused, skipped while paused, resynced through recovery).',
      labelNames: ['namespace', 'policy', 'action'] as const,
      registers: [this.registry],
      collect() {
        this.reset();
        for (const [key, count] of traffic.overflow) {
          const [namespace = '', policy = '', action = ''] = key.split('\u0000');
          this.inc({ namespace, policy, action }, count);
        }
      },
    });
    new Histogram({
      name: 'fleetgate_outbound_queue_bytes',
      help: 'Bytes waiting per connection (outbound queue plus socket buffer), sampled over all connections at scrape time.',
      buckets: [0, 1024, 8192, 65_536, 262_144, 524_288, 1_048_576, 4_194_304],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const bytes of pendingBytes()) this.observe(bytes);
      },
    });
    this.fromTraffic('fleetgate_messages_sent_total', 'Messages queued to clients, by type.', {
      reply: () => traffic.messagesOut.reply,
      push: () => traffic.messagesOut.push,
      ping: () => traffic.messagesOut.ping,
    });
  }

  /**
   * A counter that follows numbers kept elsewhere (growing only), optionally one per
   * value of a `type` label.
   */
  private fromTraffic(name: string, help: string, read: (() => number) | Record<string, () => number>): void {
    const reads = typeof read === 'function' ? { '': read } : read;
    const reported = new Map<string, number>();
    new Counter({
      name,
      help,
      labelNames: typeof read === 'function' ? [] : ['type'],
      registers: [this.registry],
      collect() {
        for (const [type, get] of Object.entries(reads)) {
          const now = get();
          const delta = now - (reported.get(type) ?? 0);
          reported.set(type, now);
          if (type === '') this.inc(delta);
          else this.inc({ type }, delta);
        }
      },
    });
  }
}
