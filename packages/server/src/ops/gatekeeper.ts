import type { IncomingMessage } from 'node:http';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import { Admission } from '../core/admission.js';
import type { Clock } from '../core/clock.js';
import { LoadMonitor } from './load-monitor.js';
import type { Metrics } from './metrics.js';
import { originChecker } from './origin.js';

export interface GatekeeperHooks {
  connections(): number;
  /** The node left degradation tier 2: channels shed meanwhile may resume. */
  relieveAll(): void;
}

/**
 * Who gets in, and how the node copes: origin check, admission (capacity, accept rate,
 * per-IP cap, event-loop lag, draining, degradation tier 3), reconnect-storm detection
 * and degradation tiers. Every refusal and state change is counted and logged.
 */
export class Gatekeeper {
  readonly load: LoadMonitor;
  private readonly admission: Admission;
  private readonly originAllowed: (req: IncomingMessage) => boolean;
  private readonly perIp = new Map<string, number>();

  constructor(
    config: Config,
    private readonly metrics: Metrics,
    logger: Logger,
    clock: Clock,
    random: () => number,
    private readonly hooks: GatekeeperHooks,
  ) {
    this.admission = new Admission(config.admission, clock, random);
    this.originAllowed = originChecker(config.client.allowedOrigins);
    this.load = new LoadMonitor(config, {
      connections: () => hooks.connections(),
      tierChanged: (tier, sample) => {
        metrics.degradationTier.set(tier);
        logger.warn({ tier, lagMs: Math.round(sample.lagMs), cpu: Number(sample.cpu.toFixed(2)) }, 'degradation tier changed');
        if (tier < 2) hooks.relieveAll();
      },
      stormChanged: (storm) => {
        metrics.storm.set(storm ? 1 : 0);
        if (storm) metrics.storms.inc();
        logger.warn({ storm, connections: hooks.connections() }, storm ? 'reconnect storm detected' : 'reconnect storm over');
      },
    });
  }

  set draining(on: boolean) {
    this.admission.draining = on;
  }

  start(): void {
    this.load.start();
  }

  stop(): void {
    this.load.stop();
  }

  /** Origin and admission checks before a connection is taken; undefined lets it in. */
  refusal(req: IncomingMessage): { status: 403 | 503; retryAfter?: number } | undefined {
    this.load.storm.connected();
    if (!this.originAllowed(req)) {
      this.metrics.admissionRejections.inc({ reason: 'origin' });
      return { status: 403 };
    }
    const refusal = this.admission.check({
      connections: this.hooks.connections(),
      fromSameIp: this.perIp.get(req.socket.remoteAddress ?? '') ?? 0,
      loopLagMs: this.load.loopLagMs,
      refuseNew: this.load.tier >= 3,
      storm: this.load.inStorm,
    });
    if (refusal === undefined) return undefined;
    this.metrics.admissionRejections.inc({ reason: refusal.reason });
    return { status: 503, retryAfter: refusal.retryAfter };
  }

  opened(ip: string): void {
    this.perIp.set(ip, (this.perIp.get(ip) ?? 0) + 1);
  }

  closed(ip: string): void {
    this.load.storm.disconnected();
    const left = (this.perIp.get(ip) ?? 1) - 1;
    if (left > 0) this.perIp.set(ip, left);
    else this.perIp.delete(ip);
  }
}
