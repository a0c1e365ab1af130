import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { NodeStats } from '../node.js';

/**
 * Prometheus metrics of one gateway (its own registry, so several gateways can live in
 * one process). Gauges of state are read from the node at scrape time.
 */
export class Metrics {
  readonly registry = new Registry();

  readonly connects = new Counter({ name: 'fleetgate_connects_total', help: 'Successful client connects.', registers: [this.registry] });
  readonly disconnects = new Counter({
    name: 'fleetgate_disconnects_total',
    help: 'Client disconnects by close code (client = closed by the client or network).',
    labelNames: ['code'] as const,
    registers: [this.registry],
  });
  readonly commands = new Counter({
    name: 'fleetgate_commands_total',
    help: 'Client commands handled, by method.',
    labelNames: ['method'] as const,
    registers: [this.registry],
  });
  readonly commandErrors = new Counter({
    name: 'fleetgate_command_errors_total',
    help: 'Client commands answered with an error, by method and code.',
    labelNames: ['method', 'code'] as const,
    registers: [this.registry],
  });
  readonly publications = new Counter({
    name: 'fleetgate_publications_total',
    help: 'Publications accepted, by source (api, client).',
    labelNames: ['source'] as const,
    registers: [this.registry],
  });
  readonly messagesSent = new Counter({
    name: 'fleetgate_messages_sent_total',
    help: 'Messages queued to clients (replies, pushes, pings).',
    registers: [this.registry],
  });
  readonly framesSent = new Counter({ name: 'fleetgate_frames_sent_total', help: 'Frames written (coalesced messages).', registers: [this.registry] });
  readonly bytesSent = new Counter({ name: 'fleetgate_bytes_sent_total', help: 'Bytes of frames written.', registers: [this.registry] });
  readonly bytesReceived = new Counter({ name: 'fleetgate_bytes_received_total', help: 'Bytes of frames read.', registers: [this.registry] });
  readonly admissionRejections = new Counter({
    name: 'fleetgate_admission_rejections_total',
    help: 'Connection attempts refused before the upgrade, by reason.',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly apiRequests = new Counter({
    name: 'fleetgate_api_requests_total',
    help: 'Server API calls by method and outcome (ok, error code, unauthorized).',
    labelNames: ['method', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly pingRtt = new Histogram({
    name: 'fleetgate_ping_rtt_seconds',
    help: 'Time from server ping to client pong.',
    buckets: [0.001, 0.005, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });

  constructor(stats: () => NodeStats) {
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
  }
}
