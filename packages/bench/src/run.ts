import { availableParallelism } from 'node:os';
import { type BenchOptions, parseOptions, UsageError, usage } from './options.js';
import { choosePinning } from './orchestrator/pinning.js';
import { scenarios } from './scenarios/index.js';
import { writeReport } from './report/write.js';
import type { BenchReport, ScenarioParams, TargetName, TargetResult } from './types.js';

function scenarioParams(o: BenchOptions): ScenarioParams {
  const base = { connections: o.connections, rate: o.rate, size: o.size, duration_s: o.durationMs / 1000 };
  switch (o.scenario) {
    case 'rooms':
      return { ...base, room_size: o.roomSize };
    case 'churn':
      return { ...base, churn_rate: o.churnRate };
    case 'slow':
      return { ...base, slow_share: o.slowShare };
    case 'storm':
      return { ...base, drop: o.drop };
    default:
      return base;
  }
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
  const results: TargetResult[] = [];
  const failures: { target: TargetName; error: string }[] = [];
  for (const target of options.targets) {
    log(`${options.scenario} × ${target}: starting`);
    try {
      const result = await scenarios[options.scenario]({ target, options, pinning, log });
      results.push(result);
      log(`${options.scenario} × ${target}: done${result.unreliable ? ' (unreliable: generator core above 85% busy)' : ''}`);
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      failures.push({ target, error });
      process.stderr.write(`[bench] ${options.scenario} × ${target} failed: ${error}\n`);
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
  };
  const written = await writeReport(options.outDir, report);
  process.stdout.write(`\n${written.markdownText}\nWritten: ${written.json}, ${written.markdown}, ${written.svg}\n`);
  return failures.length === 0 ? 0 : 1;
}
