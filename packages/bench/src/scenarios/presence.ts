import { request } from 'node:http';
import hdr from 'hdr-histogram-js';
import { BENCH_API_KEY } from '../targets/harness.js';
import { latencyPercentiles } from '../report/histogram.js';
import type { PresenceResult } from '../types.js';
import type { Scenario } from './context.js';
import { withTarget } from './context.js';
import { buildResult } from './measure.js';
import { subscriberSpecs } from './plan.js';

/** The one presence-enabled channel every member joins. */
export const PRESENCE_CHANNEL = 'bench-presence';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

interface Stats {
  readonly num_clients: number;
  readonly num_users: number;
}

/** POST /api/presence_stats with the bench's API key; rejects on an HTTP or API error. */
export function presenceStats(port: number, channel: string): Promise<Stats> {
  const body = JSON.stringify({ channel });
  return new Promise<Stats>((resolve, reject) => {
    const headers = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'x-api-key': BENCH_API_KEY };
    const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/api/presence_stats', headers, timeout: 30_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        try {
          const reply = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { result?: Stats; error?: unknown };
          if (reply.result === undefined) reject(new Error(`presence_stats: ${JSON.stringify(reply.error ?? res.statusCode)}`));
          else resolve(reply.result);
        } catch (err) {
          reject(err instanceof Error ? err : new Error(String(err)));
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error('presence_stats timed out')));
    req.on('error', reject);
    req.end(body);
  });
}

/** `calls` presence_stats one after another (keep-alive agent), latency in µs into a histogram. */
async function timeStats(port: number, calls: number): Promise<{ latency: PresenceResult['stats_latency_ms']; errors: number }> {
  const histogram = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3, autoResize: true });
  let errors = 0;
  for (let i = 0; i < calls; i++) {
    const started = performance.now();
    try {
      await presenceStats(port, PRESENCE_CHANNEL);
      histogram.recordValue(Math.max(1, Math.round((performance.now() - started) * 1000)));
    } catch {
      errors++;
    }
  }
  const latency = latencyPercentiles(histogram);
  histogram.destroy();
  return { latency, errors };
}

/**
 * Presence (fleetgate only; the target gets presence, join/leave and client presence calls
 * on every channel): N members join one channel (100 handshakes in flight per generator);
 * server and broker CPU over that join window; then presence_stats timed over the server
 * API of node 0; then every member's socket is terminated at once and the leave is timed
 * until presence_stats says 0.
 */
export const presence: Scenario = (ctx) =>
  withTarget(ctx, false, async (run) => {
    if (run.target !== 'fleetgate') throw new Error('presence: fleetgate only');
    const node0 = run.servers[0];
    if (node0 === undefined) throw new Error('presence: no server');
    const members = ctx.options.connections;
    const specs = subscriberSpecs(members, [PRESENCE_CHANNEL], 0, run.servers.length);
    const beforeJoin = await run.status();
    const joinSampler = run.sampler();
    await run.open(specs, ctx.options.perWorker);
    const join = joinSampler.stop();
    const afterJoin = await run.status();
    const memory = await run.memoryPerConnection(ctx.options.settleMs);
    const stats = await presenceStats(node0.port, PRESENCE_CHANNEL);
    const timed = await timeStats(node0.port, ctx.options.presenceCalls);
    ctx.log(`${ctx.spec.label}: presence_stats ${JSON.stringify(stats)}, p99 ${timed.latency?.p99 ?? '—'} ms`);
    const leaveSampler = run.sampler();
    const leaveStarted = performance.now();
    await Promise.all(run.generators.map((g) => g.call('drop', {})));
    let leaveS: number | null = null;
    while (performance.now() - leaveStarted < 30_000) {
      if ((await presenceStats(node0.port, PRESENCE_CHANNEL)).num_clients === 0) {
        leaveS = (performance.now() - leaveStarted) / 1000;
        break;
      }
      await sleep(20);
    }
    const leave = leaveSampler.stop();
    const reports = await run.reports([]);
    const perConn = (us: number) => us / Math.max(1, run.subscribed);
    const presenceResult: PresenceResult = {
      members,
      join_s: join.durationMs / 1000,
      join_server_cpu_us_per_conn: perConn(join.serverCpuUs),
      join_server_cpu_pct: (100 * join.serverCpuUs) / (join.durationMs * 1000),
      join_broker_cpu_pct: join.brokerCpuUs === null ? null : (100 * join.brokerCpuUs) / (join.durationMs * 1000),
      join_broker_cpu_us_per_conn: join.brokerCpuUs === null ? null : perConn(join.brokerCpuUs),
      num_clients: stats.num_clients,
      num_users: stats.num_users,
      stats_calls: ctx.options.presenceCalls,
      stats_errors: timed.errors,
      stats_latency_ms: timed.latency,
      leave_s: leaveS,
      leave_server_cpu_us_per_conn: perConn(leave.serverCpuUs),
      leave_broker_cpu_us_per_conn: leave.brokerCpuUs === null ? null : perConn(leave.brokerCpuUs),
    };
    const generatorCpuUs = afterJoin.generatorCpuUs - beforeJoin.generatorCpuUs;
    const result = buildResult({ run, memory, window: join, generatorCpuUs, reports, expectedDeliveries: 0 });
    // The members' sockets were terminated on purpose.
    return { ...result, unexpected_closes: Math.max(0, result.unexpected_closes - run.subscribed), presence: presenceResult };
  });
