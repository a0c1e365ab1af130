export { runBench } from './run.js';
export { parseOptions, usage, UsageError, type BenchOptions } from './options.js';
export { reconnectDelay } from './clients/backoff.js';
export type { BenchReport, LatencyMs, ScenarioName, ScenarioParams, TargetName, TargetResult } from './types.js';
export { scenarioNames, targetNames } from './types.js';
