import { parseArgs } from 'node:util';
import { createGateway, type ConfigInput } from '@fleetgate/server';
import { BENCH_API_KEY, runTarget } from './harness.js';
import { deepMerge, type JsonObject, parseConfigJson } from './merge.js';

/**
 * Fleetgate as an embedded gateway, configured for load: no auth, open channels, rare pings.
 * Flags (from the orchestrator): --broker URL (default memory://), --name (node name in
 * the fleet), --history-size N (channels keep N publications, for 5 minutes),
 * --config-json JSON (merged over all of this: `--fleetgate-config` of the CLI).
 * The server API answers with the key BENCH_API_KEY (the presence scenario uses it).
 */
const { values } = parseArgs({
  args: process.argv.slice(2),
  options: { broker: { type: 'string' }, name: { type: 'string' }, 'history-size': { type: 'string' }, 'config-json': { type: 'string' } },
});
const historySize = Number(values['history-size'] ?? '0');
const extra = values['config-json'] === undefined ? {} : parseConfigJson(values['config-json']);
if (extra instanceof Error) throw new Error(`--config-json ${extra.message}`);

const base: JsonObject = {
  logLevel: 'silent',
  broker: values.broker ?? 'memory://',
  ...(values.name === undefined ? {} : { name: values.name }),
  api: { key: BENCH_API_KEY },
  client: {
    insecure: true,
    maxSubscriptions: 1024,
    // Pings every 25 s would land inside short runs at random; the bench is about publications.
    pingInterval: '1h',
  },
  channel: {
    defaults: {
      allowSubscribeForClient: true,
      allowPublishForClient: true,
      ...(historySize > 0 ? { historySize, historyTtl: '5m' } : {}),
    },
  },
};

await runTarget(async (server) => {
  // The gateway validates the merged config itself (zod) and fails loudly on a bad key.
  await createGateway({ server, serveHttp: true, config: deepMerge(base, extra) as ConfigInput });
});
