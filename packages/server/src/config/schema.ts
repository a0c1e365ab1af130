import { z } from 'zod';
import { duration } from './duration.js';
import { channelDefaultsSchema, namespaceSchema } from './namespace.js';

export { namespaceDefaults, type NamespaceOptions } from './namespace.js';

/**
 * The whole configuration: one zod schema is the source of defaults, validation and
 * the generated reference in the README (`npm run docs:config`). Durations are
 * `"30s"`-style strings or milliseconds; `0` means "no limit" for limits.
 */

const limit = (fallback: number, description: string) => z.number().int().nonnegative().default(fallback).describe(description);
const flag = (fallback: boolean, description: string) => z.boolean().default(fallback).describe(description);

const namespaceName = z.string().regex(/^[a-zA-Z0-9_.-]+$/, 'namespace names use letters, digits, "_", "." and "-"');

export const configSchema = z.strictObject({
  port: z.number().int().min(0).max(65535).default(8000).describe('TCP port of the HTTP server (WebSocket, API, health). 0 picks a free port.'),
  host: z.string().default('0.0.0.0').describe('Address to listen on.'),
  name: z.string().optional().describe('Node name shown in /api/info; defaults to hostname-pid.'),
  broker: z.string().default('memory://').describe('Broker URL: `memory://` (single node).'),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info').describe('pino log level.'),
  client: z
    .strictObject({
      token: z
        .strictObject({
          hmacSecret: z.string().optional().describe('Secret for HS256/HS384/HS512 connection and subscription tokens.'),
          rsaPublicKey: z.string().optional().describe('PEM public key for RS256/384/512 tokens.'),
          ecdsaPublicKey: z.string().optional().describe('PEM public key for ES256/384/512 tokens.'),
          jwksUrl: z.string().url().optional().describe('JWKS endpoint; keys are picked by `kid`.'),
          audience: z.string().optional().describe('Required `aud` claim, if set.'),
          issuer: z.string().optional().describe('Required `iss` claim, if set.'),
        })
        .prefault({}),
      insecure: flag(false, 'Accept connections without a token and allow every channel operation. Demos and tests only.'),
      allowAnonymousConnectWithoutToken: flag(false, 'Connect without a token as an anonymous user (empty user id); channels still decide what anonymous users may do.'),
      allowedOrigins: z
        .array(z.string())
        .default([])
        .describe('Origin globs allowed to open connections (`*` for any). Empty: only same-host origins and clients without Origin.'),
      queueMaxBytes: limit(1_048_576, 'Outbound bytes a connection may have pending (queued + socket buffer) before it is disconnected with 3008.'),
      slowTimeout: duration('10s', 'How long a connection may stay above its outbound limit under a non-disconnect overflow policy before 3008 (policies arrive with backpressure; today every overflow is 3008 at once).'),
      maxConnectionsPerUser: limit(0, 'Connections per user across the fleet (from the user registry); over it see `connectionLimitMode`. 0: no limit.'),
      connectionLimitMode: z
        .enum(['refuse-new', 'close-oldest'])
        .default('refuse-new')
        .describe('Over `maxConnectionsPerUser`: refuse the new connection with 3504, or close the user\'s oldest connection (3504) and accept the new one.'),
      subscribeToPersonal: flag(false, 'Subscribe every connection of a user to the personal channel `<personalChannelNamespace>:#<user>` (server-side), so the backend reaches all of a user\'s devices with one publish.'),
      personalChannelNamespace: z.string().default('').describe('Namespace of personal channels (empty: `#<user>`).'),
      maxSubscriptions: limit(128, 'Subscriptions per connection; above it subscribe fails with 106.'),
      maxChannelLength: limit(255, 'Longest channel name accepted, in UTF-8 bytes; longer is error 107.'),
      recoveryMaxPublications: limit(300, 'Most publications a subscribe may recover; a longer gap is answered `recovered: false` (never a partial recovery).'),
      historyMaxPublications: limit(300, 'Most publications one `history` call returns (larger limits are cut to this).'),
      maxFrameBytes: limit(65_536, 'Largest WebSocket frame read from a client; larger closes with 1009.'),
      maxPendingBytes: z
        .number()
        .int()
        .min(1)
        .default(1_048_576)
        .describe('Bytes of frames a connection may have waiting while earlier commands run (reading pauses meanwhile); more closes with 3013.'),
      pingInterval: duration('25s', 'Server ping period; the first ping comes at a random point of the first period.'),
      pongTimeout: duration('8s', 'Close with 3012 when the pong for a ping does not arrive within this time.'),
      staleCloseDelay: duration('15s', 'Close a socket with 3502 if it has not sent connect within this time.'),
      expiredCloseDelay: duration('25s', 'Grace after token expiry before closing with 3005 (the SDK refreshes at the TTL).'),
    })
    .prefault({}),
  api: z
    .strictObject({
      key: z.string().optional().describe('Server API key, sent as `X-API-Key` or `Authorization: apikey <key>`.'),
      insecure: flag(false, 'Serve the API without a key. Never on a reachable port.'),
      maxBodyBytes: limit(10_485_760, 'Largest API request body; larger is HTTP 413.'),
      maxPublicationBytes: limit(1_048_576, 'Largest publication payload (JSON bytes) the API accepts; larger is error 107, before anything reaches the broker.'),
      idempotencyWindow: duration('5m', 'How long `idempotency_key` of publish is remembered.'),
    })
    .prefault({}),
  admission: z
    .strictObject({
      maxConnections: limit(0, 'Connections this node accepts; above it upgrades get 503 + Retry-After. 0: no limit.'),
      acceptRate: limit(0, 'New connections per second this node accepts (token bucket, burst = one second); above it 503 + Retry-After. 0: no limit.'),
      maxConnectionsPerIp: limit(0, 'Connections from one IP address; above it 503 + Retry-After. 0: no limit.'),
      maxEventLoopLag: duration('0s', 'Refuse new connections (503) while the event loop lags more than this (p99 over the last sample). 0: never.'),
      stormFactor: z.number().positive().default(5).describe('Reconnect storm: the connect rate is this many times its recent baseline (or a fifth of the clients dropped in one second).'),
      stormMinRate: limit(50, 'Connects (or disconnects) per second below which nothing counts as a storm.'),
    })
    .prefault({}),
  overload: z
    .strictObject({
      eventLoopLag: duration('200ms', 'Event-loop lag (p99 over a sample) that counts as overload. 0: ignore lag.'),
      cpu: z.number().min(0).default(0.9).describe('CPU use of the process (share of one core) that counts as overload. 0: ignore CPU.'),
      sampleInterval: duration('500ms', 'How often lag and CPU are sampled.'),
      escalateAfter: limit(4, 'Overloaded samples in a row before the next degradation tier (1: batch `bulk`, 2: stop delivering `bulk`, 3: refuse new connections).'),
      recoverAfter: limit(10, 'Calm samples in a row (under 60% of the thresholds) before going one tier back.'),
      bulkBatchMs: duration('250ms', 'Batching window of `bulk` publications in tier 1 and above.'),
    })
    .prefault({}),
  presence: z
    .strictObject({
      updateInterval: duration('25s', 'How often each node refreshes the presence and registry entries of its connections.'),
      ttl: duration('60s', 'Presence and registry entries not refreshed for this long vanish (a node that died leaves no ghosts).'),
      maxList: limit(1000, 'Most clients a `presence` call returns; a larger channel answers error 106 (use `presence_stats`, which never loads the list).'),
    })
    .prefault({}),
  fleet: z
    .strictObject({
      announceInterval: duration('5s', 'How often a node announces itself (id, name, connections, uptime) to the fleet over the broker.'),
      nodeTtl: duration('15s', 'A node not heard from for this long is dropped from the fleet (/api/info).'),
    })
    .prefault({}),
  shutdown: z
    .strictObject({
      drainWindow: duration('30s', 'Window over which clients are disconnected on drain.'),
    })
    .prefault({}),
  channel: z
    .strictObject({
      defaults: channelDefaultsSchema.describe('Options of channels without a namespace and the base of every namespace.'),
      namespaces: z.record(namespaceName, namespaceSchema).default({}).describe('Options per namespace (`ns:channel`): the same keys as `channel.defaults`; unset keys come from there.'),
    })
    .prefault({}),
  demo: flag(false, 'Serve the demo page at /demo (set by `fleetgate serve --demo`).'),
});

export type Config = z.output<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;
