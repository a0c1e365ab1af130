import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BenchReport, ScenarioName, TargetResult } from '../src/types.js';

/**
 * Every scenario against every target, small and short, through the real CLI (built
 * dist, real processes, real sockets). Correctness only: nothing about speed.
 */
const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const small = ['--connections', '120', '--rate', '20', '--duration', '1', '--settle', '0.2', '--drain', '15', '--quiet'];

let out: string;
beforeAll(async () => {
  out = await mkdtemp(join(tmpdir(), 'fleetgate-bench-'));
});
afterAll(async () => {
  await rm(out, { recursive: true, force: true });
});

function runCli(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [cli, ...args], { timeout: 50_000, killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1;
      resolve({ code, stdout, stderr });
    });
  });
}

/** Every number in the row is finite (null only where the scenario measures nothing). */
function expectFiniteNumbers(value: unknown, path: string): void {
  if (typeof value === 'number') expect(Number.isFinite(value), `${path} = ${value}`).toBe(true);
  else if (value !== null && typeof value === 'object') for (const [k, v] of Object.entries(value)) expectFiniteNumbers(v, `${path}.${k}`);
}

async function runScenario(scenario: ScenarioName, extra: readonly string[] = [], folder: string = scenario, fleetgateLabel = 'fleetgate'): Promise<BenchReport> {
  const dir = join(out, folder);
  const { code, stdout, stderr } = await runCli([scenario, ...small, ...extra, '--out', dir]);
  expect(code, stderr).toBe(0);
  expect(stdout).toContain(`| ${fleetgateLabel} |`);
  const report = JSON.parse(await readFile(join(dir, `${scenario}.json`), 'utf8')) as BenchReport;
  expect(await readFile(join(dir, `${scenario}.md`), 'utf8')).toContain('| target |');
  const svg = await readFile(join(dir, `${scenario}.svg`), 'utf8');
  expect(svg.startsWith('<svg')).toBe(true);
  expect(svg).toContain('</svg>');
  expect(report.failures).toEqual([]);
  expect(report.results.map((r) => r.label)).toEqual([fleetgateLabel, 'ws', 'socketio']);
  for (const r of report.results) {
    expectFiniteNumbers(r, r.target);
    expect(r.subscribed, r.target).toBe(r.connections);
    expect(r.connect_failures, r.target).toBe(0);
    expect(r.unexpected_closes, r.target).toBe(0);
    expect(Number.isFinite(r.rss_bytes_per_conn) && Number.isFinite(r.heap_bytes_per_conn)).toBe(true);
  }
  return report;
}

/** What every scenario with traffic promises its fast subscribers: everything, once, in order. */
function expectCleanDelivery(r: TargetResult, exact = true): void {
  expect({ target: r.target, loss: r.loss, duplicates: r.duplicates, reordered: r.reordered }).toEqual({ target: r.target, loss: 0, duplicates: 0, reordered: 0 });
  if (exact) expect(r.deliveries, r.target).toBe(r.expected_deliveries);
  expect(r.published, r.target).toBeGreaterThan(0);
  expect(r.deliveries_per_s, r.target).toBeGreaterThan(0);
  expect(r.latency_ms, r.target).not.toBeNull();
  expect(r.server_cpu_us_per_delivery, r.target).not.toBeNull();
}

// Each scenario starts 3 servers and ~6 processes; generous limits for a loaded 2-core machine.
describe('bench smoke', { timeout: 60_000 }, () => {
  it('idle: memory per connection for every target', async () => {
    const report = await runScenario('idle');
    for (const r of report.results) {
      expect(r.deliveries).toBe(0);
      expect(r.latency_ms).toBeNull();
    }
  });

  it('broadcast: every subscriber gets every message once, in order', async () => {
    const report = await runScenario('broadcast');
    for (const r of report.results) {
      expectCleanDelivery(r);
      expect(r.expected_deliveries).toBe(r.published * r.connections);
    }
  });

  it('rooms: every member gets its room’s messages', async () => {
    const report = await runScenario('rooms', ['--room-size', '10', '--rate', '60']);
    for (const r of report.results) {
      expectCleanDelivery(r);
      expect(r.expected_deliveries).toBe(r.published * 10);
    }
  });

  it('churn: no loss while connections come and go', async () => {
    const report = await runScenario('churn', ['--churn-rate', '40']);
    for (const r of report.results) {
      expectCleanDelivery(r, false);
      expect(r.churn?.opened, r.target).toBeGreaterThan(0);
      expect(r.churn?.failed, r.target).toBe(0);
    }
  });

  it('storm: everyone comes back after the server drops them all', async () => {
    const report = await runScenario('storm');
    for (const r of report.results) {
      expectCleanDelivery(r);
      expect(r.storm?.back_count, r.target).toBe(r.connections);
      expect(r.storm?.back_all_s, r.target).not.toBeNull();
      expect(r.storm?.peak_rss_bytes, r.target).toBeGreaterThan(0);
    }
  });

  it('storm with --storm-keep and fleetgate admission: kept clients get everything, lag is reported', async () => {
    const extra = ['--storm-keep', '0.25', '--fleetgate-config', '{"admission":{"acceptRate":5000}}', '--label', 'adm'];
    const report = await runScenario('storm', extra, 'storm-keep', 'fleetgate adm');
    expect(report.params.fleetgate_config).toEqual({ admission: { acceptRate: 5000 } });
    for (const r of report.results) {
      expectCleanDelivery(r);
      const s = r.storm;
      expect(s?.kept_clients, r.label).toBe(30);
      expect(s?.clients, r.label).toBe(90);
      expect(s?.back_count, r.label).toBe(90);
      expect(s?.kept_published, r.label).toBeGreaterThan(0);
      expect(s?.kept_loss, r.label).toBe(0);
      expect(s?.kept_deliveries, r.label).toBe((s?.kept_published ?? 0) * 30);
      expect(s?.kept_latency_ms, r.label).not.toBeNull();
      expect(s?.loop_lag_max_ms, r.label).toBeGreaterThanOrEqual(0);
    }
  });

  it('slow: fast subscribers are unaffected in delivery; slow ones are reported apart', async () => {
    const report = await runScenario('slow', ['--slow-share', '0.1']);
    for (const r of report.results) {
      expectCleanDelivery(r);
      expect(r.slow?.clients, r.target).toBe(12);
      expect(r.expected_deliveries).toBe(r.published * (r.connections - 12));
    }
  });
});

/**
 * Multi-node mode: two Fleetgate nodes on a redis-server the bench starts itself (free
 * loopback port, never the machine's 6379), publications through both nodes. Correctness
 * only: every subscriber on either node gets both publishers' streams whole and in order.
 */
describe('bench smoke, multi-node', { timeout: 30_000 }, () => {
  it('presence: 100 members join one channel on Redis; presence_stats counts them, then 0 after the leave', async () => {
    const dir = join(out, 'presence');
    const args = ['presence', '--targets', 'fleetgate', '--broker', 'redis', '--connections', '100', '--presence-calls', '20'];
    const { code, stderr } = await runCli([...args, '--settle', '0.2', '--quiet', '--out', dir]);
    expect(code, stderr).toBe(0);
    const report = JSON.parse(await readFile(join(dir, 'presence.json'), 'utf8')) as BenchReport;
    expect(report.failures).toEqual([]);
    const [r] = report.results;
    expect(report.results).toHaveLength(1);
    if (r === undefined) return;
    expectFiniteNumbers(r, r.label);
    expect(r.subscribed).toBe(100);
    expect(r.unexpected_closes).toBe(0);
    expect(r.presence).toMatchObject({ members: 100, num_clients: 100, stats_calls: 20, stats_errors: 0 });
    expect(r.presence?.stats_latency_ms).not.toBeNull();
    expect(r.presence?.leave_s).not.toBeNull();
    expect(r.presence?.join_broker_cpu_pct).not.toBeNull();
    expect(await readFile(join(dir, 'presence.md'), 'utf8')).toContain('### Presence');
  });

  it('broadcast over 2 nodes on a bench-started Redis: no loss, finite numbers, broker CPU found', async () => {
    const dir = join(out, 'multi-node');
    const args = ['broadcast', '--targets', 'fleetgate', '--nodes', '2', '--broker', 'redis', '--connections', '100', '--rate', '20', '--duration', '1'];
    const { code, stderr } = await runCli([...args, '--settle', '0.2', '--drain', '10', '--quiet', '--out', dir]);
    expect(code, stderr).toBe(0);
    const report = JSON.parse(await readFile(join(dir, 'broadcast.json'), 'utf8')) as BenchReport;
    expect(report.failures).toEqual([]);
    expect(report.params.fleet).toMatchObject({ nodes: 2, broker: 'redis', broker_url: null, publish_via: 'all' });
    const [r] = report.results;
    expect(report.results).toHaveLength(1);
    if (r === undefined) return;
    expectFiniteNumbers(r, r.label);
    expect(r.label).toBe('fleetgate ×2 redis');
    expect(r.subscribed).toBe(100);
    expectCleanDelivery(r);
    expect(r.expected_deliveries).toBe(r.published * 100);
    expect(r.fleet?.node_subscribers).toEqual([50, 50]);
    expect(r.fleet?.node_cpu_pct).toHaveLength(2);
    // The bench started the broker, so it knows its pid and measured its CPU.
    expect(r.fleet?.broker_pids).toHaveLength(1);
    expect(r.fleet?.broker_cpu_pct).not.toBeNull();
    expect(await readFile(join(dir, 'broadcast.md'), 'utf8')).toContain('### Fleet');
  });
});
