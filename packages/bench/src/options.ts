import { parseArgs } from 'node:util';
import { type ScenarioName, scenarioNames, type TargetName, targetNames } from './types.js';

export interface BenchOptions {
  readonly scenario: ScenarioName;
  readonly connections: number;
  /** Total publish rate, messages per second, over all channels. */
  readonly rate: number;
  /** Bytes of each published payload (JSON of {t, s, p, pad}). */
  readonly size: number;
  readonly durationMs: number;
  readonly targets: readonly TargetName[];
  readonly outDir: string;
  readonly roomSize: number;
  readonly churnRate: number;
  readonly slowShare: number;
  readonly drop: 'server' | 'client';
  /** Wait after the connections are up before measuring memory and sending. */
  readonly settleMs: number;
  /** Longest wait for in-flight deliveries after the publisher stops. */
  readonly drainMs: number;
  /** Longest wait for the storm's reconnects. */
  readonly stormTimeoutMs: number;
  readonly perWorker: number;
  readonly pin: boolean;
  readonly quiet: boolean;
  /** Folder for V8 CPU profiles of the server and the generators (node --cpu-prof), or undefined. */
  readonly cpuProfDir: string | undefined;
}

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export const usage = `Usage: npm run bench -- <scenario> [flags]
       node packages/bench/dist/cli.js <scenario> [flags]

Scenarios: ${scenarioNames.join(', ')}

  --connections N     subscriber connections (default 1000)
  --rate R            total publish rate, msg/s (default 20)
  --size BYTES        payload size (default 100)
  --duration S        seconds of traffic (default 10; storm: seconds of steady traffic before the drop)
  --targets LIST      comma-separated: ${targetNames.join(',')} (default all)
  --out DIR           report folder (default bench-results/<timestamp>)
  --room-size K       rooms: members per channel (default 10)
  --churn-rate C      churn: connections closed and opened per second (default 50)
  --slow-share F      slow: share of subscribers that stop reading (default 0.1)
  --drop WHO          storm: "server" drops every socket, "client" closes them (default server)
  --settle S          seconds to wait after connecting (default 2)
  --drain S           longest wait for late deliveries (default 10)
  --storm-timeout S   longest wait for reconnects (default 60)
  --per-worker N      sockets per load-generator process (default 15000)
  --no-pin            do not pin the server and the generators to cores 0 and 1
  --cpu-prof          write V8 CPU profiles of the server and the generators to DIR/profiles
  --quiet             no progress lines
`;

function positive(name: string, text: string | undefined, fallback: number, { integer = false, allowZero = false } = {}): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  const ok = Number.isFinite(value) && (allowZero ? value >= 0 : value > 0) && (!integer || Number.isInteger(value));
  if (!ok) throw new UsageError(`--${name} expects a ${integer ? 'whole ' : ''}number ${allowZero ? '>= 0' : '> 0'}, got "${text}"`);
  return value;
}

function isScenario(name: string): name is ScenarioName {
  return (scenarioNames as readonly string[]).includes(name);
}

function isTarget(name: string): name is TargetName {
  return (targetNames as readonly string[]).includes(name);
}

function timestamp(): string {
  return new Date().toISOString().replace(/[:.]/g, '-').replace(/Z$/, '');
}

export function parseOptions(argv: readonly string[]): BenchOptions {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      connections: { type: 'string' },
      rate: { type: 'string' },
      size: { type: 'string' },
      duration: { type: 'string' },
      targets: { type: 'string' },
      out: { type: 'string' },
      'room-size': { type: 'string' },
      'churn-rate': { type: 'string' },
      'slow-share': { type: 'string' },
      drop: { type: 'string' },
      settle: { type: 'string' },
      drain: { type: 'string' },
      'storm-timeout': { type: 'string' },
      'per-worker': { type: 'string' },
      'no-pin': { type: 'boolean' },
      'cpu-prof': { type: 'boolean' },
      quiet: { type: 'boolean' },
    },
  });
  const scenario = positionals[0];
  if (scenario === undefined) throw new UsageError('missing scenario');
  if (!isScenario(scenario)) throw new UsageError(`unknown scenario "${scenario}"`);
  if (positionals.length > 1) throw new UsageError(`unexpected argument "${positionals[1]}"`);
  const targets = (values.targets ?? targetNames.join(','))
    .split(',')
    .map((t) => t.trim())
    .filter((t) => t.length > 0);
  for (const t of targets) if (!isTarget(t)) throw new UsageError(`unknown target "${t}" (known: ${targetNames.join(', ')})`);
  const drop = values.drop ?? 'server';
  if (drop !== 'server' && drop !== 'client') throw new UsageError(`--drop expects server or client, got "${drop}"`);
  const outDir = values.out ?? `bench-results/${timestamp()}`;
  const slowShare = positive('slow-share', values['slow-share'], 0.1);
  if (slowShare >= 1) throw new UsageError('--slow-share must be below 1');
  return {
    scenario,
    connections: positive('connections', values.connections, 1000, { integer: true }),
    rate: positive('rate', values.rate, 20),
    size: positive('size', values.size, 100, { integer: true }),
    durationMs: positive('duration', values.duration, 10) * 1000,
    targets: [...new Set(targets.filter(isTarget))],
    outDir,
    roomSize: positive('room-size', values['room-size'], 10, { integer: true }),
    churnRate: positive('churn-rate', values['churn-rate'], 50),
    slowShare,
    drop,
    settleMs: positive('settle', values.settle, 2, { allowZero: true }) * 1000,
    drainMs: positive('drain', values.drain, 10) * 1000,
    stormTimeoutMs: positive('storm-timeout', values['storm-timeout'], 60) * 1000,
    perWorker: positive('per-worker', values['per-worker'], 15_000, { integer: true }),
    pin: values['no-pin'] !== true,
    quiet: values.quiet === true,
    cpuProfDir: values['cpu-prof'] === true ? `${outDir}/profiles` : undefined,
  };
}
