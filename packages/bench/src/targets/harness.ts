import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { type IntervalHistogram, monitorEventLoopDelay } from 'node:perf_hooks';
import type { ServerStats } from '../types.js';

/** Routes of the bench wrapper; the same in every target so every server is measured alike. */
export const STATS_PATH = '/__bench/stats';
export const DROP_PATH = '/__bench/drop';
/** POST: start (or restart) watching the event loop; GET: what it saw since, and stop. */
export const LAG_PATH = '/__bench/lag';
/** Server API key of the fleetgate target (the presence scenario calls /api/presence_stats). */
export const BENCH_API_KEY = 'fleetgate-bench';

/** Timer period of the lag monitor; its samples include it, so it is subtracted. */
const lagResolutionMs = 10;

/** Event-loop delay over a window (monitorEventLoopDelay), in ms beyond the timer period. */
export interface LoopLag {
  readonly maxMs: number;
  readonly p99Ms: number;
  readonly meanMs: number;
}

function lagOf(h: IntervalHistogram): LoopLag {
  const beyond = (ns: number) => (Number.isFinite(ns) ? Math.max(0, ns / 1e6 - lagResolutionMs) : 0);
  return { maxMs: beyond(h.max), p99Ms: beyond(h.percentile(99)), meanMs: beyond(h.mean) };
}

function json(res: ServerResponse, value: unknown): void {
  const body = JSON.stringify(value);
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/** The first stdout line of a target: how the orchestrator learns the port. */
export interface ReadyLine {
  readonly port: number;
  readonly pid: number;
}

function stats(collectGarbage: boolean): ServerStats {
  // Two passes: the first may only schedule finalizers (ws sockets, timers).
  if (collectGarbage && globalThis.gc !== undefined) {
    globalThis.gc();
    globalThis.gc();
  }
  const memory = process.memoryUsage();
  const cpu = process.cpuUsage();
  return { rss: memory.rss, heapUsed: memory.heapUsed, cpuUserUs: cpu.user, cpuSystemUs: cpu.system };
}

/**
 * Starts a target: an http.Server on 127.0.0.1, port 0, with the bench routes answered
 * before anything else, then `setup` mounts the server under test on it. Prints
 * {port, pid} as one JSON line. Exits on SIGTERM or when stdin closes.
 */
export async function runTarget(setup: (server: Server) => Promise<void> | void): Promise<void> {
  const sockets = new Set<Socket>();
  let lag: IntervalHistogram | undefined;
  const server = createServer();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === STATS_PATH) {
      json(res, stats((req.url ?? '').includes('gc=1')));
    } else if (path === LAG_PATH) {
      if (req.method === 'POST') {
        lag?.disable();
        lag = monitorEventLoopDelay({ resolution: lagResolutionMs });
        lag.enable();
        json(res, {});
      } else {
        lag?.disable();
        json(res, lag === undefined ? { maxMs: 0, p99Ms: 0, meanMs: 0 } : lagOf(lag));
        lag = undefined;
      }
    } else if (path === DROP_PATH && req.method === 'POST') {
      // The storm: every other TCP connection is destroyed at once, as a crash or a network cut would;
      // ?keep=PREFIX spares clients whose source address starts with PREFIX (the storm's kept clients).
      const keep = new URL(req.url ?? '/', 'http://x').searchParams.get('keep');
      let dropped = 0;
      for (const socket of sockets) {
        if (socket === req.socket) continue;
        const from = (socket.remoteAddress ?? '').replace(/^::ffff:/, '');
        if (keep !== null && keep !== '' && from.startsWith(keep)) continue;
        socket.destroy();
        dropped++;
      }
      json(res, { dropped });
    } else if (server.listenerCount('request') === 1) {
      res.writeHead(404).end();
    }
  });
  await setup(server);
  await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0, backlog: 4096 }, resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('server has no TCP address');
  const ready: ReadyLine = { port: address.port, pid: process.pid };
  process.stdout.write(`${JSON.stringify(ready)}\n`);
  const stop = () => process.exit(0);
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  // The orchestrator holds our stdin open; if it dies, we go too.
  process.stdin.on('end', stop);
  process.stdin.resume();
}
