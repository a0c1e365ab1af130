import { parseArgs } from 'node:util';
import { type FleetPlan, memoryBroker, parseBroker } from './fleet-plan.js';
import { type JsonObject, parseConfigJson } from './targets/merge.js';
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
  /**
   * Multi-node mode (--nodes / --broker): how the fleetgate target is deployed. undefined:
   * one node, memory broker, as before. Other targets ignore it.
   */
  readonly fleet: FleetPlan | undefined;
  /** Also run fleetgate on one node with the memory broker (the baseline the fleet is compared with). */
  readonly compareMemory: boolean;
  /** Fleetgate channels keep this many publications of history (0: none); every publish then also appends to it. */
  readonly historySize: number;
  /**
   * Publisher connections per node it publishes through. A Fleetgate connection runs its
   * commands one after another, so one connection's publish rate through a remote broker
   * is bounded by the broker round trip; more connections show what a node can take.
   */
  readonly publishConns: number;
  /** Merged over the fleetgate target's gateway config (--fleetgate-config JSON); undefined: none. */
  readonly fleetgateConfig: JsonObject | undefined;
  /** Appended to the fleetgate rows' labels (--label), to tell variants apart across runs. */
  readonly label: string | undefined;
  /** Storm: share of the clients not dropped, fed a steady stream during the storm (0: none). */
  readonly stormKeep: number;
  /** Presence: presence_stats calls timed after the joins. */
  readonly presenceCalls: number;
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

Multi-node (fleetgate target only; the others run as usual, with a note):
  --nodes K           K gateway processes sharing one broker; subscribers spread evenly (default 1)
  --broker B          redis | nats (the bench starts its own redis-server / nats-server -js on a
                      free loopback port) | redis://… | nats://… (an existing broker) | memory
                      (default with --nodes > 1: redis)
  --publish-via V     all: publications round-robin over the nodes; one: all through node 0 (default all)
  --compare-memory    also run fleetgate on 1 node with the memory broker, for comparison
  --history-size N    fleetgate channels keep N publications of history (default 0: none)
  --publish-conns N   publisher connections per node published through (default 1; every target)
  --quiet             no progress lines

Fleetgate variants and the newer scenarios:
  --fleetgate-config JSON  merged into the fleetgate target's gateway config, e.g.
                      '{"admission":{"acceptRate":2000}}' (fleetgate rows only)
  --label TEXT        appended to the fleetgate rows' labels ("fleetgate TEXT")
  --storm-keep F      storm: share of clients not dropped, receiving --rate msg/s during the
                      storm; their latency is reported apart (default 0)
  --presence-calls N  presence: presence_stats calls timed after the joins (default 200)
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
      nodes: { type: 'string' },
      broker: { type: 'string' },
      'publish-via': { type: 'string' },
      'compare-memory': { type: 'boolean' },
      'history-size': { type: 'string' },
      'publish-conns': { type: 'string' },
      'fleetgate-config': { type: 'string' },
      label: { type: 'string' },
      'storm-keep': { type: 'string' },
      'presence-calls': { type: 'string' },
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
  const stormKeep = positive('storm-keep', values['storm-keep'], 0, { allowZero: true });
  if (stormKeep >= 1) throw new UsageError('--storm-keep must be below 1');
  const configText = values['fleetgate-config'];
  const fleetgateConfig = configText === undefined ? undefined : parseConfigJson(configText);
  if (fleetgateConfig instanceof Error) throw new UsageError(`--fleetgate-config ${fleetgateConfig.message}`);
  const label = values.label?.trim();
  const fleet = parseFleet(values.nodes, values.broker, values['publish-via']);
  const compareMemory = values['compare-memory'] === true;
  if (compareMemory && fleet === undefined) throw new UsageError('--compare-memory needs --nodes or --broker (it compares a fleet with one memory-broker node)');
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
    fleet,
    compareMemory,
    historySize: positive('history-size', values['history-size'], 0, { integer: true, allowZero: true }),
    publishConns: positive('publish-conns', values['publish-conns'], 1, { integer: true }),
    fleetgateConfig,
    label: label === undefined || label === '' ? undefined : label,
    stormKeep,
    presenceCalls: positive('presence-calls', values['presence-calls'], 200, { integer: true }),
  };
}

/** undefined unless --nodes or --broker (or --publish-via) asks for the multi-node mode. */
function parseFleet(nodesText: string | undefined, brokerText: string | undefined, viaText: string | undefined): FleetPlan | undefined {
  if (nodesText === undefined && brokerText === undefined && viaText === undefined) return undefined;
  const nodes = positive('nodes', nodesText, 1, { integer: true });
  const via = viaText ?? 'all';
  if (via !== 'all' && via !== 'one') throw new UsageError(`--publish-via expects all or one, got "${via}"`);
  // Several nodes need a broker between them; a bench-started Redis is the safe default.
  const broker = brokerText === undefined ? (nodes > 1 ? { kind: 'redis' as const, url: undefined } : memoryBroker) : parseBroker(brokerText);
  if (broker === undefined) throw new UsageError(`--broker expects memory, redis, nats, redis://… or nats://…, got "${brokerText ?? ''}"`);
  // The memory broker lives inside one process: K of them would be K separate fleets.
  if (broker.kind === 'memory' && nodes > 1) throw new UsageError('--nodes above 1 needs --broker redis or nats (the memory broker does not cross processes)');
  return { nodes, broker, publishVia: via };
}
