import { createGateway } from '@fleetgate/server';
import { runTarget } from './harness.js';

/** Fleetgate as an embedded gateway, configured for load: no auth, open channels, rare pings. */
await runTarget(async (server) => {
  await createGateway({
    server,
    serveHttp: true,
    config: {
      logLevel: 'silent',
      client: {
        insecure: true,
        maxSubscriptions: 1024,
        // Pings every 25 s would land inside short runs at random; the bench is about publications.
        pingInterval: '1h',
      },
      channel: { defaults: { allowSubscribeForClient: true, allowPublishForClient: true } },
    },
  });
});
