import type { BenchReport, TargetResult } from '../types.js';
import { renderFleet } from './fleet.js';
import { bytes, ms, num } from './format.js';

function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

function params(report: BenchReport): string {
  const p = report.params;
  const traffic = report.scenario === 'idle' || report.scenario === 'presence' ? [] : [`${num(p.rate, p.rate % 1 === 0 ? 0 : 1)} msg/s`, `${num(p.size)} B`];
  const parts = [`${num(p.connections)} connections`, ...traffic, `${p.duration_s} s`];
  if (p.room_size !== undefined) parts.push(`rooms of ${p.room_size}`);
  if (p.churn_rate !== undefined) parts.push(`churn ${p.churn_rate}/s`);
  if (p.slow_share !== undefined) parts.push(`${num(p.slow_share * 100, 0)}% slow`);
  if (p.drop !== undefined) parts.push(`dropped by the ${p.drop}`);
  if (p.storm_keep !== undefined) parts.push(`${num(p.storm_keep * 100, 0)}% kept connected`);
  if (p.fleetgate_config !== undefined) parts.push(`fleetgate config ${JSON.stringify(p.fleetgate_config)}`);
  if (p.publish_conns !== undefined) parts.push(`${p.publish_conns} publisher connections per node`);
  const f = p.fleet;
  if (f !== undefined) parts.push(`fleetgate on ${f.nodes} node(s) over ${f.broker_url ?? f.broker}, publish via ${f.publish_via}${f.history_size > 0 ? `, history ${f.history_size}` : ''}`);
  return parts.join(', ');
}

function mainRow(r: TargetResult): string[] {
  const l = r.latency_ms;
  return [
    r.label,
    num(r.deliveries_per_s),
    num(r.server_cpu_us_per_delivery, 2),
    num(r.server_cpu_pct, 0),
    ms(l?.p50),
    ms(l?.p90),
    ms(l?.p99),
    ms(l?.p999),
    ms(l?.max),
    `${num(r.loss)} / ${num(r.duplicates)} / ${num(r.reordered)}`,
    bytes(r.rss_bytes_per_conn),
    bytes(r.heap_bytes_per_conn),
    num(r.generator_cpu_pct, 0),
    num(r.generator_core_busy_pct, 0),
    num(r.server_core_busy_pct, 0),
    num(r.machine_busy_pct, 0),
    r.unreliable ? '**unreliable**' : 'ok',
  ];
}

const mainHeader = [
  'target',
  'deliveries/s',
  'server CPU µs/delivery',
  'server CPU %',
  'p50 ms',
  'p90 ms',
  'p99 ms',
  'p99.9 ms',
  'max ms',
  'loss / dup / reord',
  'RSS/conn',
  'heap/conn',
  'gen CPU %',
  'gen core busy %',
  'server core busy %',
  'machine busy %',
  'generator',
];

function extras(results: readonly TargetResult[]): string[] {
  const out: string[] = [];
  const storms = results.filter((r) => r.storm !== undefined);
  if (storms.length > 0) {
    out.push(
      '### Storm',
      '',
      table(
        ['target', 'clients', 'back', '99% back after s', 'all back after s', 'reconnect attempts', 'steady RSS', 'peak RSS', 'peak / steady', 'loop lag max ms', 'loop lag p99 ms', 'server / gen core busy %'],
        storms.map((r) => {
          const s = r.storm;
          return s === undefined
            ? []
            : [r.label, num(s.clients), num(s.back_count), num(s.back_99pct_s, 2), num(s.back_all_s, 2), num(s.reconnect_attempts), bytes(s.steady_rss_bytes), bytes(s.peak_rss_bytes), num(s.peak_over_steady, 2), num(s.loop_lag_max_ms, 1), num(s.loop_lag_p99_ms, 1), `${num(s.server_core_busy_pct, 0)} / ${num(s.generator_core_busy_pct, 0)}`];
        }),
      ),
    );
  }
  const kept = results.filter((r) => (r.storm?.kept_clients ?? 0) > 0);
  if (kept.length > 0) {
    out.push(
      '### Clients kept connected during the storm',
      '',
      table(
        ['target', 'kept clients', 'published', 'deliveries', 'loss', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms'],
        kept.map((r) => {
          const s = r.storm;
          const l = s?.kept_latency_ms;
          return s === undefined ? [] : [r.label, num(s.kept_clients), num(s.kept_published), num(s.kept_deliveries), num(s.kept_loss), ms(l?.p50), ms(l?.p90), ms(l?.p99), ms(l?.max)];
        }),
      ),
    );
  }
  const presences = results.filter((r) => r.presence !== undefined);
  if (presences.length > 0) {
    out.push(
      '### Presence',
      '',
      table(
        ['target', 'members', 'join s', 'join server µs/conn', 'join server CPU %', 'join broker CPU %', 'join broker µs/conn', 'num_clients / num_users', 'stats calls (errors)', 'stats p50 ms', 'stats p99 ms', 'stats max ms', 'leave s', 'leave server µs/conn', 'leave broker µs/conn'],
        presences.map((r) => {
          const p = r.presence;
          const l = p?.stats_latency_ms;
          return p === undefined
            ? []
            : [
                r.label,
                num(p.members),
                num(p.join_s, 2),
                num(p.join_server_cpu_us_per_conn, 0),
                num(p.join_server_cpu_pct, 0),
                num(p.join_broker_cpu_pct, 0),
                num(p.join_broker_cpu_us_per_conn, 1),
                `${num(p.num_clients)} / ${num(p.num_users)}`,
                `${num(p.stats_calls)} (${num(p.stats_errors)})`,
                ms(l?.p50),
                ms(l?.p99),
                ms(l?.max),
                num(p.leave_s, 2),
                num(p.leave_server_cpu_us_per_conn, 0),
                num(p.leave_broker_cpu_us_per_conn, 1),
              ];
        }),
      ),
    );
  }
  const slows = results.filter((r) => r.slow !== undefined);
  if (slows.length > 0) {
    out.push(
      '### Slow subscribers',
      '',
      table(
        ['target', 'slow clients', 'deliveries', 'loss', 'disconnected', 'p50 ms', 'p99 ms', 'max ms'],
        slows.map((r) => {
          const s = r.slow;
          return s === undefined ? [] : [r.label, num(s.clients), num(s.deliveries), num(s.loss), num(s.disconnected), ms(s.latency_ms?.p50), ms(s.latency_ms?.p99), ms(s.latency_ms?.max)];
        }),
      ),
    );
  }
  const churns = results.filter((r) => r.churn !== undefined);
  if (churns.length > 0) {
    out.push(
      '### Churn',
      '',
      table(
        ['target', 'opened', 'closed', 'failed'],
        churns.map((r) => (r.churn === undefined ? [] : [r.label, num(r.churn.opened), num(r.churn.closed), num(r.churn.failed)])),
      ),
    );
  }
  return out.flatMap((block) => [block, '']);
}

/** The report as markdown: parameters, the main table, scenario extras, and what each column means. */
export function renderMarkdown(report: BenchReport): string {
  const m = report.machine;
  const notes = report.notes.map((n) => `- ${n}`);
  const failures = report.failures.map((f) => `- **${f.label} failed**: ${f.error}`);
  return [
    `## ${report.scenario}: ${params(report)}`,
    '',
    `\`${report.command}\` — ${report.started_at}, ${m.cpus} cores, Node ${m.node}, ${m.pinned ? 'server on core 0, generators on core 1' : 'not pinned'}`,
    '',
    ...(notes.length + failures.length > 0 ? [...notes, ...failures, ''] : []),
    table(mainHeader, report.results.map(mainRow)),
    '',
    ...renderFleet(report),
    ...extras(report.results),
    'Latency is publish-to-receive (the send stamp in each message to its arrival), fast subscribers only. ' +
      'Loss, duplicates and reordering are counted per subscriber. Server CPU is the server process only (/proc; a fleet row: all its nodes). ' +
      '"unreliable": the generator core was above 85% busy, so the load generators, not the server, may have set the numbers.',
    '',
  ].join('\n');
}
