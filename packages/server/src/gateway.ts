import { EventEmitter } from 'node:events';
import { type IncomingMessage, type Server, type ServerResponse, STATUS_CODES } from 'node:http';
import { hostname } from 'node:os';
import type { Duplex } from 'node:stream';
import { DisconnectCode } from '@fleetgate/protocol';
import type { WebSocket, WebSocketServer } from 'ws';
import { createApiHandler } from './api/handler.js';
import { sendJson, sendText } from './api/http.js';
import { type ApiContext, backendPublish } from './api/methods.js';
import { TokenVerifier } from './auth/jwt.js';
import type { PublishResult } from './broker/broker.js';
import { createBroker } from './broker/create.js';
import { parseConfig } from './config/load.js';
import type { Config, ConfigInput } from './config/schema.js';
import { type Clock, systemClock } from './core/clock.js';
import { historyLimits, Namespaces } from './config/namespaces.js';
import { TrafficStats } from './core/traffic.js';
import { serveDemo } from './demo/page.js';
import { Fleet } from './fleet.js';
import { PresenceKeeper } from './presence-keeper.js';
import { type DisconnectFilter, Node } from './node.js';
import { type Spread, spreadOver } from './ops/drain.js';
import { createLogger, type Logger } from './ops/logger.js';
import { Metrics } from './ops/metrics.js';
import { Gatekeeper } from './ops/gatekeeper.js';
import type { SessionContext } from './session/context.js';
import { FlushScheduler } from './session/flush-scheduler.js';
import { RecoveryFirst } from './session/recovery-first.js';
import { Session } from './session/session.js';
import { createUniHandler, UNI_HTTP_STREAM_PATH, UNI_SSE_PATH } from './transport/uni.js';
import { bindSession, createWebSocketServer, wantsProtobuf, WebSocketTransport } from './transport/websocket.js';
import type { Transport } from './session/transport.js';
import { version } from './version.js';

export const WEBSOCKET_PATH = '/connection/websocket';

export interface GatewayOptions {
  /** Configuration as in the config file; validated here (ConfigError on mistakes). */
  readonly config?: ConfigInput;
  /** Attach WebSocket upgrades (and, with `serveHttp`, the HTTP endpoints) to this server. */
  readonly server?: Server;
  /**
   * Also answer /api, /health, /ready, /metrics (and /demo) on `server`. Off by default
   * when embedding: the app routes requests and may call `handleRequest` itself.
   */
  readonly serveHttp?: boolean;
  /** Path of the WebSocket endpoint (default /connection/websocket). */
  readonly path?: string;
  readonly logger?: Logger;
  readonly clock?: Clock;
  readonly random?: () => number;
}

export interface ConnectionEvent {
  readonly client: string;
  readonly user: string;
  readonly transport: string;
}

export interface GatewayEvents {
  connect: [ConnectionEvent];
  disconnect: [ConnectionEvent & { readonly code: string }];
  /** The gateway started draining (close(), SIGTERM, or the `drain` API method). */
  draining: [];
}

/**
 * A Fleetgate gateway: the node, its broker, the WebSocket endpoint and the HTTP
 * endpoints (server API, health, readiness, metrics, demo page). Mount it on any
 * `http.Server` (embedding) or let `fleetgate serve` run it standalone.
 */
export class Gateway extends EventEmitter<GatewayEvents> {
  readonly config: Config;
  readonly logger: Logger;
  readonly node: Node;
  readonly fleet: Fleet;
  readonly metrics: Metrics;
  private readonly sessions = new Set<Session>();
  private readonly sessionContext: SessionContext;
  private readonly gatekeeper: Gatekeeper;
  private readonly presence: PresenceKeeper;
  private readonly wss: WebSocketServer;
  private readonly apiContext: ApiContext;
  private readonly api: ReturnType<typeof createApiHandler>;
  private readonly uni: ReturnType<typeof createUniHandler>;
  private readonly random: () => number;
  private readonly path: string;
  private drain: { spread: Spread; closed: Promise<void> } | undefined;

  private constructor(options: GatewayOptions) {
    super();
    this.config = parseConfig(options.config ?? {});
    this.path = options.path ?? WEBSOCKET_PATH;
    const config = this.config;
    const clock = options.clock ?? systemClock;
    this.random = options.random ?? Math.random;
    this.logger = options.logger ?? createLogger(config.logLevel);
    const broker = createBroker(config.broker, { clock, idempotencyWindowMs: config.api.idempotencyWindow });
    const traffic = new TrafficStats();
    const namespaces = new Namespaces(config.channel);
    this.node = new Node(config.name ?? `${hostname()}-${process.pid}`, broker, this.logger, clock, {
      delivered: (count, publishedAt) => {
        traffic.messagesOut.push += count;
        this.metrics.deliveryLatency.observe((clock() - publishedAt) / 1000);
      },
      control: (message) => this.fleet.onControl(message),
      brokerHealth: (up) => this.metrics.brokerUp.set(up ? 1 : 0),
      historyOf: (channel) => {
        const found = namespaces.ofChannel(channel);
        return found === undefined ? undefined : historyLimits(found.ns);
      },
      spreadOf: (channel) => namespaces.ofChannel(channel)?.ns.fanoutSpread ?? 0,
    });
    this.fleet = new Fleet(this.node, { announceIntervalMs: config.fleet.announceInterval, nodeTtlMs: config.fleet.nodeTtl, version }, this.logger, clock);
    this.metrics = new Metrics(
      () => this.node.stats(),
      traffic,
      () => this.fleet.nodes().length,
      () => [...this.sessions].map((s) => s.pendingBytes),
    );
    this.gatekeeper = new Gatekeeper(config, this.metrics, this.logger, clock, this.random, {
      connections: () => this.sessions.size,
      relieveAll: () => this.sessions.forEach((s) => s.relieved()),
    });
    this.presence = new PresenceKeeper(this.node.presence, { updateIntervalMs: config.presence.updateInterval, ttlMs: config.presence.ttl }, this.logger);
    this.sessionContext = {
      node: this.node,
      fleet: this.fleet,
      presence: this.presence,
      presenceMaxList: config.presence.maxList,
      namespaces,
      verifier: new TokenVerifier(config.client.token),
      client: config.client,
      version,
      logger: this.logger,
      metrics: this.metrics,
      traffic,
      scheduler: new FlushScheduler(),
      clock,
      random: this.random,
      load: this.gatekeeper.load,
      recoveryFirst: new RecoveryFirst(),
      events: {
        connected: (s) => this.emit('connect', { client: s.id, user: s.user, transport: s.transport.name }),
        closed: (s, code) => {
          this.sessions.delete(s);
          this.gatekeeper.closed(s.transport.remoteAddress);
          this.emit('disconnect', { client: s.id, user: s.user, transport: s.transport.name, code });
        },
      },
    };
    this.wss = createWebSocketServer(config.client.maxFrameBytes);
    this.apiContext = {
      node: this.node,
      fleet: this.fleet,
      namespaces,
      metrics: this.metrics,
      maxPublicationBytes: config.api.maxPublicationBytes,
      presenceMaxList: config.presence.maxList,
      drain: () => void this.close(),
    };
    this.api = createApiHandler(this.apiContext, config.api, this.logger);
    this.uni = createUniHandler({
      maxRequestBytes: config.client.maxFrameBytes,
      open: (transport) => this.open(transport),
      admit: (req, res) => {
        const refused = this.gatekeeper.refusal(req);
        if (refused === undefined) return true;
        res.writeHead(refused.status, refused.retryAfter === undefined ? {} : { 'retry-after': String(refused.retryAfter) }).end();
        return false;
      },
    });
    if (config.client.insecure) this.logger.warn('client.insecure is on: anyone can connect and use any channel (demos and tests only)');
    if (config.api.insecure) this.logger.warn('api.insecure is on: the server API needs no key');
    else if (config.api.key === undefined) this.logger.warn('api.key is not set: the server API refuses every call');
  }

  static async create(options: GatewayOptions = {}): Promise<Gateway> {
    const gateway = new Gateway(options);
    await gateway.node.start();
    gateway.fleet.start();
    gateway.gatekeeper.start();
    gateway.presence.start();
    if (options.server !== undefined) gateway.attach(options.server, options.serveHttp ?? false);
    return gateway;
  }

  /** Routes upgrades on the WebSocket path (and optionally HTTP requests) of `server` to this gateway. */
  attach(server: Server, serveHttp = false): void {
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      if (!this.handleUpgrade(req, socket, head) && server.listenerCount('upgrade') === 1) socket.destroy();
    });
    if (serveHttp) {
      server.on('request', (req: IncomingMessage, res: ServerResponse) => {
        if (!this.handleRequest(req, res) && server.listenerCount('request') === 1) sendText(res, 404, 'not found');
      });
    }
  }

  /** Ready to take connections: not draining, and the broker is reachable. */
  get ready(): boolean {
    return this.drain === undefined && this.node.brokerUp;
  }

  /** Takes an upgrade request for the WebSocket path; false if the path is not ours. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean {
    if (pathOf(req) !== this.path) return false;
    const refused = this.gatekeeper.refusal(req);
    if (refused !== undefined) refuseUpgrade(socket, refused.status, refused.retryAfter);
    else this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws, req, socket));
    return true;
  }

  private accept(ws: WebSocket, req: IncomingMessage, socket: Duplex): void {
    if (wantsProtobuf(ws, req)) {
      ws.close(DisconnectCode.InappropriateProtocol, 'inappropriate protocol');
      return;
    }
    const session = this.open(new WebSocketTransport(ws, socket, req.socket.remoteAddress ?? ''));
    bindSession(ws, session, this.logger);
  }

  private open(transport: Transport): Session {
    const session = new Session(this.sessionContext, transport);
    this.sessions.add(session);
    this.gatekeeper.opened(transport.remoteAddress);
    if (this.drain !== undefined) queueMicrotask(() => session.close(DisconnectCode.Shutdown));
    return session;
  }

  /** Answers the gateway's HTTP endpoints; false if the request is not for one of them. */
  handleRequest(req: IncomingMessage, res: ServerResponse): boolean {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname;
    const fail = (err: unknown) => {
      this.logger.error({ err, path }, 'request handler failed');
      if (!res.headersSent) sendText(res, 500, 'internal server error');
    };
    if (path === '/api' || path.startsWith('/api/')) {
      this.api(req, res, url).catch(fail);
      return true;
    }
    switch (path) {
      case UNI_SSE_PATH:
        this.uni(req, res, url, 'uni_sse').catch(fail);
        return true;
      case UNI_HTTP_STREAM_PATH:
        this.uni(req, res, url, 'uni_http_stream').catch(fail);
        return true;
      case '/health':
        sendJson(res, 200, { status: 'ok' });
        return true;
      case '/ready':
        sendJson(res, this.ready ? 200 : 503, { status: this.ready ? 'ready' : this.drain !== undefined ? 'draining' : 'broker unreachable' });
        return true;
      case '/metrics':
        this.metrics.render().then(
          (text) => sendText(res, 200, text, { 'content-type': this.metrics.contentType }),
          (err: unknown) => sendText(res, 500, String(err)),
        );
        return true;
      case '/demo':
      case '/demo/centrifuge.js':
        if (!this.config.demo) return false;
        serveDemo(path, res);
        return true;
      default:
        return false;
    }
  }

  /** Publishes `data` (any JSON value) into `channel` from the backend. */
  publish(channel: string, data: unknown, options: { tags?: Record<string, string>; idempotencyKey?: string } = {}): Promise<PublishResult> {
    return backendPublish(this.apiContext, channel, { data: JSON.stringify(data), ...options });
  }

  /** Disconnects a user's connections on every node of the fleet (default code 3503, no reconnect). */
  disconnect(filter: DisconnectFilter, code: number = DisconnectCode.ForceNoReconnect, reason?: string): Promise<void> {
    return this.fleet.disconnect(filter, code, reason);
  }

  /**
   * Drains: readiness turns 503, new upgrades are refused, clients are closed with 3001
   * spread over `drainWindowMs` (config `shutdown.drainWindow`), then the broker closes.
   * `immediate` closes everyone at once (a second SIGTERM).
   */
  close(options: { drainWindowMs?: number; immediate?: boolean } = {}): Promise<void> {
    if (this.drain !== undefined) {
      if (options.immediate) this.drain.spread.hurry();
      return this.drain.closed;
    }
    this.gatekeeper.draining = true;
    this.emit('draining');
    const window = options.immediate ? 0 : (options.drainWindowMs ?? this.config.shutdown.drainWindow);
    this.logger.info({ clients: this.sessions.size, windowMs: window }, 'draining');
    const spread = spreadOver([...this.sessions], window, this.random, (s) => s.close(DisconnectCode.Shutdown));
    const closed = spread.done.then(async () => {
      for (const s of [...this.sessions]) s.close(DisconnectCode.Shutdown);
      this.gatekeeper.stop();
      this.presence.stop();
      await this.fleet.stop();
      await this.node.close();
      this.wss.close();
    });
    this.drain = { spread, closed };
    return closed;
  }
}

export function createGateway(options: GatewayOptions = {}): Promise<Gateway> {
  return Gateway.create(options);
}

function pathOf(req: IncomingMessage): string {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

function refuseUpgrade(socket: Duplex, status: number, retryAfter?: number): void {
  const retry = retryAfter === undefined ? '' : `Retry-After: ${retryAfter}\r\n`;
  socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n${retry}Connection: close\r\nContent-Length: 0\r\n\r\n`);
}
