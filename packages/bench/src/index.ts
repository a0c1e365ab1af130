export { runBench } from './run.js';
export { parseOptions, usage, UsageError, type BenchOptions } from './options.js';
export { reconnectDelay } from './clients/backoff.js';
export type { BenchReport, BrokerKind, FleetResult, LatencyMs, PublishVia, ScenarioName, ScenarioParams, TargetName, TargetResult } from './types.js';
export { type BrokerChoice, type FleetPlan, parseBroker } from './fleet-plan.js';
export { scenarioNames, targetNames } from './types.js';
