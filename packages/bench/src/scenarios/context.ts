import type { BenchOptions } from '../options.js';
import type { Pinning } from '../orchestrator/pinning.js';
import { type Log, type RunSpec, TargetRun } from '../orchestrator/target-run.js';
import type { TargetResult } from '../types.js';

export interface ScenarioContext {
  /** The target, its row label and (fleetgate in multi-node runs) its fleet. */
  readonly spec: RunSpec;
  readonly options: BenchOptions;
  readonly pinning: Pinning;
  readonly log: Log;
}

export type Scenario = (ctx: ScenarioContext) => Promise<TargetResult>;

/** Starts the target and its generators, runs `body`, and always tears everything down. */
export async function withTarget<T>(ctx: ScenarioContext, reconnect: boolean, body: (run: TargetRun) => Promise<T>): Promise<T> {
  const run = await TargetRun.start(ctx.spec, ctx.options, ctx.pinning, ctx.log, reconnect);
  try {
    return await body(run);
  } finally {
    await run.close();
  }
}
