import { z } from 'zod';
import { durationMs } from './duration.js';

const field = <S extends z.ZodType>(schema: S, fallback: z.input<S>, description: string) => ({ schema, fallback, description });

const priorities = ['control', 'high', 'normal', 'bulk'] as const;
const overflowPolicies = ['auto', 'disconnect', 'coalesce', 'drop-oldest', 'pause'] as const;

/**
 * Channel options: schema, built-in default and meaning, in one table. A namespace
 * overrides `channel.defaults`, which overrides these defaults.
 */
const fields = {
  allowSubscribeForClient: field(z.boolean(), false, 'Authenticated clients may subscribe without a subscription token (not to `$private` channels).'),
  allowSubscribeForAnonymous: field(z.boolean(), false, 'Anonymous clients (empty user) may subscribe where clients may.'),
  allowPublishForSubscriber: field(z.boolean(), false, 'Clients subscribed to a channel may publish into it.'),
  allowPublishForClient: field(z.boolean(), false, 'Any authenticated client may publish, subscribed or not.'),
  allowPublishForAnonymous: field(z.boolean(), false, 'Anonymous clients may publish where clients may.'),
  allowUserLimitedChannels: field(z.boolean(), false, 'Channels like `chat#42,7` are open to the listed users only, without a token.'),
  presence: field(z.boolean(), false, 'Keep channel presence (who is subscribed, fleet-wide): `presence` and `presence_stats`.'),
  joinLeave: field(z.boolean(), false, 'Publish join/leave events; subscribers that ask for them (`joinLeave` in the SDK) get join/leave pushes.'),
  allowPresenceForSubscriber: field(z.boolean(), false, 'Subscribers may call `presence` and `presence_stats`.'),
  allowPresenceForClient: field(z.boolean(), false, 'Any client may call `presence` and `presence_stats`, subscribed or not.'),
  priority: field(
    z.enum(priorities),
    'normal',
    'Delivery lane of the publications: a backed-up queue is written `control` first (with replies, pings and disconnects: never dropped, bounded only by `client.slowTimeout`), then `high`, `normal`, `bulk`; drops start with `bulk`.',
  ),
  overflow: field(
    z.enum(overflowPolicies),
    'auto',
    "When a subscriber's outbound queue is full: `disconnect` (3008), `coalesce` (keep only the newest pending publication per channel, or per `tags.key`), `drop-oldest` (drop the oldest pending publications, lowest lane first; channels with history make the client recover), `pause` (stop delivering while the queue is above 75%, then make the client recover from history). `auto`: `drop-oldest` with history, else `disconnect`.",
  ),
  batchMs: field(durationMs, 0, 'Hold publications up to this long so that several go out in one frame and one write per connection (fewer syscalls for `bulk` feeds). 0: write at once.'),
  fanoutSpread: field(
    durationMs,
    0,
    'Deliver a publication to many local subscribers in slices over this window (each subscriber always in the same slice, so order holds), so thousands of clients do not react in the same millisecond. 0: at once.',
  ),
  historySize: field(z.number().int().nonnegative(), 0, 'Publications kept in the channel history; history is on when this and `historyTtl` are above 0.'),
  historyTtl: field(durationMs, 0, 'How long a publication stays in history.'),
  historyMetaTtl: field(durationMs, '30d', "How long a stream's position (offset and epoch) outlives its last publication; after that a new epoch starts."),
  forceRecovery: field(z.boolean(), false, 'Every subscription is recoverable: clients get what they missed on resubscribe (needs history).'),
  allowRecovery: field(z.boolean(), false, 'Subscriptions that ask for it (`recoverable`) are recoverable (needs history).'),
  forcePositioning: field(z.boolean(), false, 'Every subscription tracks its stream position: a missed publication makes the client resubscribe and recover (needs history).'),
  allowPositioning: field(z.boolean(), false, 'Subscriptions that ask for it (`positioned`) track their position (needs history).'),
  allowHistoryForSubscriber: field(z.boolean(), false, 'Subscribers may call `history`.'),
  allowHistoryForClient: field(z.boolean(), false, 'Any client may call `history`, subscribed or not.'),
} as const;

type Fields = typeof fields;
export type NamespaceOptions = { -readonly [K in keyof Fields]: z.output<Fields[K]['schema']> };
type Key = keyof Fields;

function withDefault(f: { schema: z.ZodType; fallback: unknown; description: string }): z.ZodType {
  return f.schema.prefault(f.fallback).describe(f.description);
}
const keys = Object.keys(fields) as Key[];

export const channelDefaultsSchema = z
  .strictObject(Object.fromEntries(keys.map((k) => [k, withDefault(fields[k])])) as {
    [K in Key]: z.ZodPrefault<Fields[K]['schema']>;
  })
  .prefault({});

export const namespaceSchema = z.strictObject(
  Object.fromEntries(keys.map((k) => [k, fields[k].schema.optional().describe(fields[k].description)])) as {
    [K in Key]: z.ZodOptional<Fields[K]['schema']>;
  },
);

/** The built-in defaults, parsed (durations in ms). */
export const namespaceDefaults: NamespaceOptions = channelDefaultsSchema.parse({});
