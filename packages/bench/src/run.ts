import { availableParallelism } from 'node:os';
import { memoryBaseline, rowLabel } from './fleet-plan.js';
import { type BenchOptions, parseOptions, UsageError, usage } from './options.js';
import { type Pinning, choosePinning } from './orchestrator/pinning.js';
import type { RunSpec } from './orchestrator/target-run.js';
import { scenarios } from './scenarios/index.js';
import { writeReport } from './report/write.js';
import type { BenchReport, ScenarioParams, TargetName, TargetResult } from './types.js';

function scenarioParams(o: BenchOptions): ScenarioParams {
  const base = {
    connections: o.connections,
    rate: o.rate,
    size: o.size,
    duration_s: o.durationMs / 1000,
    ...(o.publishConns === 1 ? {} : { publish_conns: o.publishConns }),
    ...(o.fleetgateConfig === undefined ? {} : { fleetgate_config: o.fleetgateConfig }),
    ...(o.label === undefined ? {} : { label: o.label }),
  };
  const fleet =
    o.fleet === undefined
      ? {}
      : {
          fleet: {
            nodes: o.fleet.nodes,
            broker: o.fleet.broker.kind,
            broker_url: o.fleet.broker.url ?? null,
            publish_via: o.fleet.publishVia,
            compare_memory: o.compareMemory,
            history_size: o.historySize,
          },
        };
  switch (o.scenario) {
    case 'rooms':
      return { ...base, ...fleet, room_size: o.roomSize };
    case 'churn':
      return { ...base, ...fleet, churn_rate: o.churnRate };
    case 'slow':
      return { ...base, ...fleet, slow_share: o.slowShare };
    case 'storm':
      return { ...base, ...fleet, drop: o.drop, ...(o.stormKeep > 0 ? { storm_keep: o.stormKeep } : {}) };
    default:
      return { ...base, ...fleet };
  }
}

/**
 * The rows of the run, in order. In multi-node mode the fleetgate target becomes the
 * fleet (and, with --compare-memory, first the 1-node memory-broker baseline, so both
 * rows come from the same run on the same machine state); other targets run as always.
 */
export function runSpecs(options: BenchOptions): { specs: RunSpec[]; notes: string[] } {
  const specs: RunSpec[] = [];
  const notes: string[] = [];
  const plan = options.fleet;
  // --label tells fleetgate variants (--fleetgate-config) apart; the other targets do not change.
  const suffix = (label: string) => (options.label === undefined ? label : `${label} ${options.label}`);
  for (const target of options.targets) {
    if (plan === undefined || target !== 'fleetgate') {
      specs.push({ target, label: target === 'fleetgate' ? suffix(target) : target, fleet: undefined });
      if (plan !== undefined) notes.push(`${target}: --nodes/--broker apply to fleetgate only; ${target} ran as one server.`);
      continue;
    }
    if (options.compareMemory) {
      const baseline = memoryBaseline(plan);
      specs.push({ target, label: suffix(rowLabel(target, baseline)), fleet: baseline });
    }
    specs.push({ target, label: suffix(rowLabel(target, plan)), fleet: plan });
  }
  return { specs, notes };
}

function pinningNote(options: BenchOptions, pinning: Pinning): string | undefined {
  if (options.fleet === undefined) return undefined;
  if (!pinning.pinned) return 'Not pinned: the nodes, the broker and the generators shared all cores.';
  const own = options.fleet.broker.kind !== 'memory' && options.fleet.broker.url === undefined;
  const broker = own ? ` and the bench's own ${options.fleet.broker.kind}-server` : '';
  return `All ${options.fleet.nodes} gateway node(s)${broker} pinned to core ${pinning.serverCore ?? 0}; generators and publisher on core ${pinning.generatorCore ?? 1}.`;
}

/**
 * Runs one scenario against each target in turn (each with a fresh server and fresh
 * generators), writes DIR/<scenario>.{json,md,svg} and prints the markdown table.
 * Resolves to the process exit code: 0 ok, 1 a target failed, 2 bad usage.
 */
export async function runBench(argv: readonly string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h') || argv.length === 0) {
    process.stdout.write(usage);
    return argv.length === 0 ? 2 : 0;
  }
  let options: BenchOptions;
  try {
    options = parseOptions(argv);
  } catch (err) {
    if (!(err instanceof UsageError) && !(err instanceof TypeError)) throw err;
    process.stderr.write(`${err.message}\n\n${usage}`);
    return 2;
  }
  const log = (message: string) => {
    if (!options.quiet) process.stderr.write(`[bench] ${message}\n`);
  };
  const pinning = choosePinning(options.pin, (message) => process.stderr.write(`[bench] warning: ${message}\n`));
  const startedAt = new Date().toISOString();
  const { specs, notes } = runSpecs(options);
  const pinned = pinningNote(options, pinning);
  if (pinned !== undefined) notes.push(pinned);
  if (options.scenario === 'presence' && options.targets.some((t) => t !== 'fleetgate')) notes.push('presence: fleetgate only; other targets were skipped.');
  for (const note of notes) log(`note: ${note}`);
  const results: TargetResult[] = [];
  const failures: { target: TargetName; label: string; error: string }[] = [];
  for (const spec of specs) {
    if (options.scenario === 'presence' && spec.target !== 'fleetgate') continue;
    log(`${options.scenario} × ${spec.label}: starting`);
    try {
      const result = await scenarios[options.scenario]({ spec, options, pinning, log });
      results.push(result);
      log(`${options.scenario} × ${spec.label}: done${result.unreliable ? ' (unreliable: generator core above 85% busy)' : ''}`);
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      failures.push({ target: spec.target, label: spec.label, error });
      process.stderr.write(`[bench] ${options.scenario} × ${spec.label} failed: ${error}\n`);
    }
  }
  const report: BenchReport = {
    scenario: options.scenario,
    params: scenarioParams(options),
    command: `npm run bench -- ${argv.join(' ')}`,
    started_at: startedAt,
    finished_at: new Date().toISOString(),
    machine: { cpus: availableParallelism(), node: process.version, pinned: pinning.pinned, platform: process.platform },
    results,
    failures,
    notes,
  };
  const written = await writeReport(options.outDir, report);
  process.stdout.write(`\n${written.markdownText}\nWritten: ${written.json}, ${written.markdown}, ${written.svg}\n`);
  return failures.length === 0 ? 0 : 1;
}
