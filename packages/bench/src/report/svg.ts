import type { BenchReport, TargetName, TargetResult } from '../types.js';
import { compact, ms } from './format.js';

/** A hand-written SVG chart: latency percentiles (log scale) and per-target bars, readable on its own. */

const colors: Readonly<Record<TargetName, string>> = { fleetgate: '#2563eb', ws: '#6b7280', socketio: '#f59e0b' };
/** Fleet rows by broker, so a fleet and its 1-node memory baseline are told apart. */
const brokerColors = { memory: '#2563eb', redis: '#dc2626', nats: '#059669' } as const;

function colorOf(r: TargetResult): string {
  return r.fleet === undefined ? colors[r.target] : brokerColors[r.fleet.broker];
}

/** Under a bar there is room for ~12 characters: fleet rows drop the target name (the legend has it). */
function shortLabel(r: TargetResult): string {
  return r.fleet === undefined ? r.target : `×${r.fleet.nodes} ${r.fleet.broker}`;
}
const font = 'font-family="Helvetica, Arial, sans-serif"';
const width = 1040;
const height = 520;
const top = 110;
const bottom = 440;

function esc(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function text(x: number, y: number, content: string, attrs = ''): string {
  return `<text x="${x.toFixed(1)}" y="${y.toFixed(1)}" ${font} ${attrs}>${esc(content)}</text>`;
}

function rect(x: number, y: number, w: number, h: number, fill: string, attrs = ''): string {
  return `<rect x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${Math.max(0, w).toFixed(1)}" height="${Math.max(0, h).toFixed(1)}" fill="${fill}" ${attrs}/>`;
}

function line(x1: number, y1: number, x2: number, y2: number, stroke = '#d1d5db'): string {
  return `<line x1="${x1.toFixed(1)}" y1="${y1.toFixed(1)}" x2="${x2.toFixed(1)}" y2="${y2.toFixed(1)}" stroke="${stroke}"/>`;
}

/** Smallest 1/2/5 × 10^k at or above `value`, and a tick count that gives round steps. */
function niceScale(value: number): { max: number; ticks: number } {
  if (!(value > 0)) return { max: 1, ticks: 5 };
  const decade = 10 ** Math.floor(Math.log10(value));
  for (const [step, ticks] of [[1, 5], [2, 4], [5, 5]] as const) if (step * decade >= value) return { max: step * decade, ticks };
  return { max: 10 * decade, ticks: 5 };
}

/** 0.01, 0.1, 1, 10, 100 … without trailing zeros. */
function decadeLabel(k: number): string {
  return k >= 0 ? (10 ** k).toLocaleString('en-US') : (10 ** k).toFixed(-k);
}

interface Panel {
  readonly x: number;
  readonly w: number;
  readonly title: string;
  readonly axis: string;
}

function panelFrame(p: Panel): string[] {
  return [
    text(p.x + p.w / 2, top - 18, p.title, 'font-size="14" font-weight="bold" text-anchor="middle"'),
    line(p.x, bottom, p.x + p.w, bottom, '#374151'),
    line(p.x, top, p.x, bottom, '#374151'),
    text(p.x - 58, (top + bottom) / 2, p.axis, `font-size="12" text-anchor="middle" transform="rotate(-90 ${p.x - 58} ${(top + bottom) / 2})"`),
  ];
}

/** Latency percentiles per target on a log10 axis, so p50 stays visible next to max. */
function latencyPanel(p: Panel, results: readonly TargetResult[]): string[] {
  const groups: ReadonlyArray<readonly [string, (r: TargetResult) => number | undefined]> = [
    ['p50', (r) => r.latency_ms?.p50],
    ['p90', (r) => r.latency_ms?.p90],
    ['p99', (r) => r.latency_ms?.p99],
    ['p99.9', (r) => r.latency_ms?.p999],
    ['max', (r) => r.latency_ms?.max],
  ];
  const values = results.flatMap((r) => groups.map(([, pick]) => pick(r) ?? Number.NaN)).filter((v) => v > 0);
  const out = panelFrame(p);
  if (values.length === 0) return [...out, text(p.x + p.w / 2, (top + bottom) / 2, 'no latency measured', 'font-size="13" text-anchor="middle" fill="#6b7280"')];
  const lo = Math.floor(Math.log10(Math.min(...values)));
  const hi = Math.max(lo + 1, Math.ceil(Math.log10(Math.max(...values))));
  const y = (v: number) => bottom - ((Math.log10(Math.max(v, 10 ** lo)) - lo) / (hi - lo)) * (bottom - top);
  for (let k = lo; k <= hi; k++) {
    out.push(line(p.x, y(10 ** k), p.x + p.w, y(10 ** k)));
    out.push(text(p.x - 6, y(10 ** k) + 4, decadeLabel(k), 'font-size="11" text-anchor="end"'));
  }
  const groupW = p.w / groups.length;
  const barW = Math.min(34, (groupW - 16) / Math.max(1, results.length));
  groups.forEach(([label, pick], g) => {
    const gx = p.x + g * groupW + (groupW - barW * results.length) / 2;
    results.forEach((r, i) => {
      const v = pick(r);
      if (v === undefined || !(v >= 0)) return;
      const bx = gx + i * barW;
      out.push(rect(bx + 1, y(v), barW - 2, bottom - y(v), colorOf(r)));
      out.push(text(bx + barW / 2, y(v) - 4, ms(v), 'font-size="9" text-anchor="middle"'));
    });
    out.push(text(p.x + g * groupW + groupW / 2, bottom + 18, label, 'font-size="12" text-anchor="middle"'));
  });
  return out;
}

/** One bar per target on a linear axis from 0. */
function barPanel(p: Panel, results: readonly TargetResult[], pick: (r: TargetResult) => number | null, format: (v: number) => string): string[] {
  const out = panelFrame(p);
  const values = results.map((r) => pick(r) ?? Number.NaN);
  const { max, ticks } = niceScale(Math.max(0, ...values.filter(Number.isFinite)));
  const y = (v: number) => bottom - (Math.max(0, v) / max) * (bottom - top);
  for (let i = 0; i <= ticks; i++) {
    const v = (max * i) / ticks;
    out.push(line(p.x, y(v), p.x + p.w, y(v)));
    out.push(text(p.x - 6, y(v) + 4, format(v), 'font-size="11" text-anchor="end"'));
  }
  const slot = p.w / Math.max(1, results.length);
  const barW = Math.min(48, slot - 14);
  results.forEach((r, i) => {
    const v = values[i] ?? Number.NaN;
    const cx = p.x + i * slot + slot / 2;
    if (Number.isFinite(v)) {
      out.push(rect(cx - barW / 2, y(v), barW, bottom - y(v), colorOf(r)));
      out.push(text(cx, y(v) - 4, format(v), 'font-size="10" text-anchor="middle"'));
    } else out.push(text(cx, bottom - 6, 'n/a', 'font-size="10" text-anchor="middle" fill="#6b7280"'));
    out.push(text(cx, bottom + 18, r.unreliable ? `${shortLabel(r)}*` : shortLabel(r), 'font-size="11" text-anchor="middle"'));
  });
  return out;
}

const kib = (v: number) => `${compact(v)} KiB`;

function legend(results: readonly TargetResult[]): string[] {
  return results.flatMap((r, i) => {
    const x = 70 + i * 170;
    return [rect(x, 62, 14, 14, colorOf(r)), text(x + 20, 74, r.label, 'font-size="13"')];
  });
}

function subtitle(report: BenchReport): string {
  const p = report.params;
  const fleet = p.fleet === undefined ? '' : `, fleetgate ×${p.fleet.nodes} over ${p.fleet.broker}`;
  const extra = [
    p.room_size === undefined ? '' : `, rooms of ${p.room_size}`,
    p.churn_rate === undefined ? '' : `, churn ${p.churn_rate}/s`,
    p.slow_share === undefined ? '' : `, ${Math.round(p.slow_share * 100)}% slow`,
    p.drop === undefined ? '' : `, dropped by the ${p.drop}`,
    fleet,
  ].join('');
  const pin = report.machine.pinned ? `server${fleet === '' ? '' : 's and broker'} on core 0, generators on core 1` : 'not pinned';
  const traffic = report.scenario === 'idle' ? '' : `, ${p.rate} msg/s, ${p.size} B`;
  return `${p.connections} connections${traffic}, ${p.duration_s} s${extra} — ${report.machine.cpus} cores, ${pin}`;
}

export function renderSvg(report: BenchReport): string {
  const results = report.results;
  const idle = report.scenario === 'idle';
  const body = idle
    ? [
        ...barPanel({ x: 100, w: 250, title: 'Server RSS per connection', axis: 'KiB (after GC)' }, results, (r) => r.rss_bytes_per_conn / 1024, kib),
        ...barPanel({ x: 450, w: 250, title: 'Server heap per connection', axis: 'KiB (after GC)' }, results, (r) => r.heap_bytes_per_conn / 1024, kib),
        ...barPanel({ x: 800, w: 210, title: 'Idle server CPU', axis: '% of one core' }, results, (r) => r.server_cpu_pct, (v) => compact(v)),
      ]
    : [
        ...latencyPanel({ x: 90, w: 440, title: 'Publish-to-receive latency (log scale)', axis: 'milliseconds' }, results),
        ...barPanel({ x: 620, w: 160, title: 'Deliveries per second', axis: 'messages/s received' }, results, (r) => r.deliveries_per_s, compact),
        ...barPanel({ x: 870, w: 150, title: 'Server CPU per delivery', axis: results.some((r) => r.fleet !== undefined) ? 'µs of server CPU (all nodes)' : 'µs of server CPU' }, results, (r) => r.server_cpu_us_per_delivery, (v) => compact(v)),
      ];
  const note = results.some((r) => r.unreliable) ? '* unreliable: the generator core was above 85% busy. ' : '';
  const method = idle
    ? 'Memory: (server after connecting − empty server) / connections, both after a full GC. CPU: server process only (/proc).'
    : 'Latency: fast subscribers, send stamp to arrival. CPU: server process only (/proc).';
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`,
    rect(0, 0, width, height, '#ffffff'),
    text(20, 30, `Fleetgate bench — ${report.scenario}`, 'font-size="20" font-weight="bold"'),
    text(20, 50, subtitle(report), 'font-size="12" fill="#374151"'),
    ...legend(results),
    ...body,
    text(20, height - 22, `${note}${method} ${report.started_at}`, 'font-size="11" fill="#4b5563"'),
    '</svg>',
    '',
  ].join('\n');
}
