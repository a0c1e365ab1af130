/** The SPEC §6 minimal config, verbatim. */
export const SPEC_MINIMAL_CONFIG = `{
  "port": 8000,
  "broker": "memory://",
  "client": {
    "token": { "hmacSecret": "change-me" },
    "insecure": false,
    "allowedOrigins": ["*"],
    "queueMaxBytes": 1048576,
    "slowTimeout": "10s",
    "maxConnectionsPerUser": 0
  },
  "api": { "key": "change-me-too" },
  "admission": { "maxConnections": 0, "acceptRate": 0 },
  "shutdown": { "drainWindow": "30s" },
  "channel": {
    "defaults": { "allowSubscribeForClient": true },
    "namespaces": {
      "chat": { "historySize": 100, "historyTtl": "300s", "forceRecovery": true,
                "presence": true, "joinLeave": true, "allowPublishForSubscriber": true },
      "prices": { "priority": "bulk", "overflow": "coalesce" }
    }
  }
}
`;
