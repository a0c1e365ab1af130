import type { BenchReport, TargetResult } from '../types.js';
import { bytes, ms, num } from './format.js';

/**
 * The multi-node section of the markdown report: one row per Fleetgate deployment (the
 * K-node fleet, and the 1-node memory baseline with --compare-memory), the nodes' CPU
 * per delivery next to the baseline's, and the broker's CPU on its own.
 */

function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

/** The row every other fleet row is compared with: one node on the memory broker. */
function baselineOf(results: readonly TargetResult[]): TargetResult | undefined {
  return results.find((r) => r.fleet?.broker === 'memory' && r.fleet.nodes === 1);
}

function ratio(value: number | null, base: number | null | undefined): string {
  if (value === null || base === null || base === undefined || !(base > 0)) return '—';
  return `${num(value / base, 2)}×`;
}

function row(r: TargetResult, base: TargetResult | undefined): string[] {
  const f = r.fleet;
  if (f === undefined) return [];
  const brokerUs = f.broker_cpu_us_per_delivery;
  const nodeUs = r.server_cpu_us_per_delivery;
  const total = nodeUs === null ? null : nodeUs + (brokerUs ?? 0);
  const inProcess = f.broker === 'memory';
  // In-process (memory): nothing to show; a broker whose pid was not found: say so, never 0.
  const brokerCell = (value: string) => (inProcess ? '—' : f.broker_pids.length === 0 ? 'pid not found' : value);
  return [
    r.label,
    f.broker_url ?? (inProcess ? 'in-process' : `own ${f.broker}-server`),
    f.nodes === 1 ? '—' : f.publish_via,
    f.node_subscribers.map((n) => num(n)).join(' / '),
    num(r.deliveries_per_s),
    num(f.publications_per_s),
    ms(r.latency_ms?.p50),
    ms(r.latency_ms?.p99),
    num(nodeUs, 2),
    r === base ? '1.00× (baseline)' : ratio(nodeUs, base?.server_cpu_us_per_delivery),
    f.node_cpu_pct.map((p) => num(p, 0)).join(' / '),
    f.node_sys_share === null ? '—' : `${num(f.node_sys_share * 100, 0)}%`,
    brokerCell(num(f.broker_cpu_pct, 0)),
    brokerCell(num(brokerUs, 2)),
    brokerCell(num(f.broker_cpu_us_per_publication, 1)),
    brokerCell(bytes(f.broker_rss_bytes)),
    inProcess ? num(nodeUs, 2) : brokerCell(num(total, 2)),
    `${num(r.loss)} / ${num(r.duplicates)} / ${num(r.reordered)}`,
  ];
}

const header = [
  'deployment',
  'broker',
  'publish via',
  'subscribers per node',
  'deliveries/s',
  'publications/s',
  'p50 ms',
  'p99 ms',
  'node CPU µs/delivery (all nodes)',
  'vs 1-node memory',
  'CPU % per node',
  'node CPU in kernel',
  'broker CPU %',
  'broker µs/delivery',
  'broker µs/publication',
  'broker RSS',
  'nodes + broker µs/delivery',
  'loss / dup / reord',
];

/** Empty when the run had no multi-node rows. */
export function renderFleet(report: BenchReport): string[] {
  const rows = report.results.filter((r) => r.fleet !== undefined);
  if (rows.length === 0) return [];
  const base = baselineOf(rows);
  return [
    '### Fleet',
    '',
    table(header, rows.map((r) => row(r, base))),
    '',
    'Node CPU per delivery is the CPU of all K gateway processes together (/proc, utime+stime) ÷ deliveries over the window; ' +
      '"vs 1-node memory" divides it by the same number of the 1-node memory-broker row (--compare-memory). ' +
      'Broker CPU is the redis-server / nats-server process (all threads) over the same window; it is not in the node CPU. ' +
      'Publish via "all": publications go round-robin through every node (one publisher stream per node, order checked per stream); "one": all through node 0.',
    '',
  ];
}
