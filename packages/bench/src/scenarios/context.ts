import type { BenchOptions } from '../options.js';
import type { Pinning } from '../orchestrator/pinning.js';
import { type Log, TargetRun } from '../orchestrator/target-run.js';
import type { TargetName, TargetResult } from '../types.js';

export interface ScenarioContext {
  readonly target: TargetName;
  readonly options: BenchOptions;
  readonly pinning: Pinning;
  readonly log: Log;
}

export type Scenario = (ctx: ScenarioContext) => Promise<TargetResult>;

/** Starts the target and its generators, runs `body`, and always tears everything down. */
export async function withTarget<T>(ctx: ScenarioContext, reconnect: boolean, body: (run: TargetRun) => Promise<T>): Promise<T> {
  const run = await TargetRun.start(ctx.target, ctx.options, ctx.pinning, ctx.log, reconnect);
  try {
    return await body(run);
  } finally {
    await run.close();
  }
}
