import { parseArgs } from 'node:util';
import { createGateway } from '@fleetgate/server';
import { runTarget } from './harness.js';

/**
 * Fleetgate as an embedded gateway, configured for load: no auth, open channels, rare pings.
 * Flags (from the orchestrator): --broker URL (default memory://), --name (node name in
 * the fleet), --history-size N (channels keep N publications, for 5 minutes).
 */
const { values } = parseArgs({
  args: process.argv.slice(2),
  options: { broker: { type: 'string' }, name: { type: 'string' }, 'history-size': { type: 'string' } },
});
const historySize = Number(values['history-size'] ?? '0');

await runTarget(async (server) => {
  await createGateway({
    server,
    serveHttp: true,
    config: {
      logLevel: 'silent',
      broker: values.broker ?? 'memory://',
      ...(values.name === undefined ? {} : { name: values.name }),
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
    },
  });
});
