import { DisconnectCode, ErrorCode, isPlainObject } from '@fleetgate/protocol';
import { z } from 'zod';
import type { Publication, PublishResult } from '../broker/broker.js';
import { historyLimits, type Namespaces } from '../config/namespaces.js';
import type { NamespaceOptions } from '../config/schema.js';
import { globToRegExp } from '../core/glob.js';
import { ReplyError } from '../errors.js';
import type { Fleet } from '../fleet.js';
import type { Node, PublishRequest } from '../node.js';
import { readPresence, readPresenceStats, registryChannel } from '../presence-keeper.js';
import type { Metrics } from '../ops/metrics.js';

/** What the server API acts on. */
export interface ApiContext {
  readonly node: Node;
  readonly fleet: Fleet;
  readonly namespaces: Namespaces;
  readonly metrics: Metrics;
  readonly maxPublicationBytes: number;
  readonly presenceMaxList: number;
  /** Starts this node's graceful drain (Fleetgate admin method, not in Centrifugo). */
  drain(): void;
}

const channel = z.string().min(1, 'channel is required');

/** `data` is any JSON; `b64data` must decode to JSON, since clients speak the JSON protocol. */
const payload = {
  data: z.unknown().optional(),
  b64data: z.string().optional(),
  tags: z.record(z.string(), z.string()).optional(),
  idempotency_key: z.string().optional(),
  skip_history: z.boolean().optional(),
};

const schemas = {
  publish: z.object({ channel, ...payload }),
  broadcast: z.object({ channels: z.array(channel).min(1, 'channels is required'), ...payload }),
  disconnect: z.object({
    user: z.string(),
    client: z.string().optional(),
    session: z.string().optional(),
    whitelist: z.array(z.string()).optional(),
    disconnect: z.object({ code: z.number().int().min(3000).max(4999), reason: z.string().max(100) }).optional(),
  }),
  history: z.object({
    channel,
    limit: z.number().int().optional(),
    since: z.object({ offset: z.number().int().nonnegative(), epoch: z.string() }).optional(),
    reverse: z.boolean().optional(),
  }),
  history_remove: z.object({ channel }),
  presence: z.object({ channel }),
  presence_stats: z.object({ channel }),
  user_connections: z.object({ user: z.string().min(1, 'user is required') }),
  subscribe: z.object({ user: z.string().min(1, 'user is required'), channel, client: z.string().optional() }),
  unsubscribe: z.object({ user: z.string().min(1, 'user is required'), channel, client: z.string().optional() }),
  info: z.object({}),
  drain: z.object({}),
  channels: z.object({ pattern: z.string().optional() }),
  batch: z.object({ commands: z.array(z.record(z.string(), z.unknown())), parallel: z.boolean().optional() }),
};

export type ApiMethod = keyof typeof schemas;

export function isApiMethod(name: string): name is ApiMethod {
  return Object.hasOwn(schemas, name);
}

function parse<M extends ApiMethod>(method: M, body: unknown): z.output<(typeof schemas)[M]> {
  const result = schemas[method].safeParse(body);
  if (result.success) return result.data as z.output<(typeof schemas)[M]>;
  const issue = result.error.issues[0];
  throw new ReplyError(ErrorCode.BadRequest, `${issue?.path.join('.') || 'body'}: ${issue?.message ?? 'invalid'}`);
}

/** The payload as raw JSON text, refused when larger than `api.maxPublicationBytes`. */
function rawData(ctx: ApiContext, body: { data?: unknown; b64data?: string | undefined }): string {
  const data = payloadText(body);
  const size = Buffer.byteLength(data);
  if (size > ctx.maxPublicationBytes) {
    throw new ReplyError(ErrorCode.BadRequest, `publication data is ${size} bytes, above api.maxPublicationBytes (${ctx.maxPublicationBytes})`);
  }
  return data;
}

function payloadText(body: { data?: unknown; b64data?: string | undefined }): string {
  if (body.b64data !== undefined) {
    const text = Buffer.from(body.b64data, 'base64').toString('utf8');
    try {
      JSON.parse(text);
      return text;
    } catch {
      throw new ReplyError(ErrorCode.BadRequest, 'b64data must hold JSON: clients speak the JSON protocol');
    }
  }
  if (body.data === undefined) throw new ReplyError(ErrorCode.BadRequest, 'data is required');
  return JSON.stringify(body.data);
}

type PublishBody = z.output<typeof schemas.publish>;

function namespaceOf(ctx: ApiContext, channel: string): NamespaceOptions {
  const found = ctx.namespaces.ofChannel(channel);
  if (found === undefined) throw new ReplyError(ErrorCode.UnknownChannel);
  return found.ns;
}

/**
 * A publication from the backend (API or the embedding app): into the channel's
 * namespace (102 if none), kept in history unless `skipHistory`, counted.
 */
export async function backendPublish(ctx: ApiContext, channel: string, request: PublishRequest, skipHistory = false): Promise<PublishResult> {
  const ns = namespaceOf(ctx, channel);
  const result = await ctx.node.publish(channel, request, skipHistory ? undefined : historyLimits(ns));
  ctx.metrics.publications.inc({ source: 'api' });
  return result;
}

/** Publishes; into a channel with history the result carries the publication's offset and epoch. */
async function publishOne(ctx: ApiContext, ch: string, body: Omit<PublishBody, 'channel'>, data: string): Promise<{ offset?: number; epoch?: string }> {
  const request = {
    data,
    ...(body.tags && { tags: body.tags }),
    ...(body.idempotency_key !== undefined && { idempotencyKey: body.idempotency_key }),
  };
  const result = await backendPublish(ctx, ch, request, body.skip_history);
  return result.position === undefined ? {} : { offset: result.position.offset, epoch: result.position.epoch };
}

/** A publication as the API returns it (payload parsed back into JSON). */
function apiPublication(pub: Publication): Record<string, unknown> {
  return {
    data: JSON.parse(pub.data) as unknown,
    ...(pub.info && { info: pub.info }),
    ...(pub.offset !== undefined && { offset: pub.offset }),
    ...(pub.tags && { tags: pub.tags }),
  };
}

/** A reply as a batch or broadcast entry: the result, or the error it failed with. */
async function settle<T>(work: () => Promise<T>): Promise<{ result: T } | { error: ReturnType<ReplyError['toBody']> }> {
  try {
    return { result: await work() };
  } catch (err) {
    return { error: asReplyError(err).toBody() };
  }
}

export function asReplyError(err: unknown): ReplyError {
  return err instanceof ReplyError ? err : new ReplyError(ErrorCode.Internal, undefined, { cause: err });
}

const handlers: { [M in ApiMethod]: (ctx: ApiContext, body: z.output<(typeof schemas)[M]>) => Promise<unknown> } = {
  publish: (ctx, body) => publishOne(ctx, body.channel, body, rawData(ctx, body)),

  broadcast: async (ctx, body) => {
    const data = rawData(ctx, body);
    return { responses: await Promise.all(body.channels.map((ch) => settle(() => publishOne(ctx, ch, body, data)))) };
  },

  disconnect: async (ctx, body) => {
    const code = body.disconnect?.code ?? DisconnectCode.ForceNoReconnect;
    const filter = { user: body.user, ...(body.client && { client: body.client }), ...(body.whitelist && { whitelist: body.whitelist }) };
    await ctx.fleet.disconnect(filter, code, body.disconnect?.reason);
    return {};
  },

  history: async (ctx, body) => {
    const limits = historyLimits(namespaceOf(ctx, body.channel));
    if (limits === undefined) throw new ReplyError(ErrorCode.NotAvailable, 'channel has no history');
    const read = await ctx.node.history(body.channel, {
      limit: body.limit ?? 0,
      ...(body.since !== undefined && { sinceOffset: body.since.offset }),
      ...(body.reverse !== undefined && { reverse: body.reverse }),
      metaTtlMs: limits.metaTtlMs,
    });
    if (body.since?.epoch && body.since.epoch !== read.position.epoch) throw new ReplyError(ErrorCode.UnrecoverablePosition);
    return { publications: read.publications.map(apiPublication), epoch: read.position.epoch, offset: read.position.offset };
  },

  history_remove: async (ctx, body) => {
    namespaceOf(ctx, body.channel);
    await ctx.node.removeHistory(body.channel);
    return {};
  },

  presence: async (ctx, body) => {
    if (!namespaceOf(ctx, body.channel).presence) throw new ReplyError(ErrorCode.NotAvailable, 'channel has no presence');
    return { presence: await readPresence(ctx.node.presence, body.channel, ctx.presenceMaxList) };
  },

  presence_stats: async (ctx, body) => {
    if (!namespaceOf(ctx, body.channel).presence) throw new ReplyError(ErrorCode.NotAvailable, 'channel has no presence');
    return readPresenceStats(ctx.node.presence, body.channel);
  },

  /** Every connection of a user in the fleet: node, transport, since when (Fleetgate only). */
  user_connections: async (ctx, body) => {
    const { clients, total } = await ctx.node.presence.list(registryChannel(body.user), ctx.presenceMaxList);
    // `total` tells when the list was cut at presence.maxList.
    return { connections: clients.map((info) => ({ client: info.client, user: info.user, ...(info.chan_info as object) })), total };
  },

  subscribe: async (ctx, body) => {
    namespaceOf(ctx, body.channel);
    await ctx.fleet.subscription('subscribe', body.user, body.channel, body.client);
    return {};
  },

  unsubscribe: async (ctx, body) => {
    await ctx.fleet.subscription('unsubscribe', body.user, body.channel, body.client);
    return {};
  },

  info: async (ctx) => ({ nodes: ctx.fleet.nodes() }),

  drain: async (ctx) => {
    ctx.drain();
    return {};
  },

  channels: async (ctx, body) => {
    const pattern = body.pattern ? globToRegExp(body.pattern) : undefined;
    const counts = ctx.node.channelCounts(pattern === undefined ? undefined : (ch) => pattern.test(ch));
    return { channels: Object.fromEntries([...counts].map(([ch, n]) => [ch, { num_clients: n }])) };
  },

  batch: async (ctx, body) => {
    const run = (command: Record<string, unknown>) => {
      const [method, params] = Object.entries(command)[0] ?? ['', undefined];
      return settle(async () => {
        if (Object.keys(command).length !== 1 || method === 'batch' || !isApiMethod(method)) throw new ReplyError(ErrorCode.MethodNotFound);
        return { [method]: await callApi(ctx, method, params) };
      });
    };
    const settled = body.parallel ? await Promise.all(body.commands.map(run)) : await sequential(body.commands, run);
    // Batch replies are `{"publish": {...}}` or `{"error": {...}}`, without a result wrapper.
    return { replies: settled.map((s) => ('result' in s ? s.result : s)) };
  },
};

async function sequential<T, R>(items: readonly T[], fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (const item of items) out.push(await fn(item));
  return out;
}

export function callApi(ctx: ApiContext, method: ApiMethod, body: unknown): Promise<unknown> {
  if (!isPlainObject(body)) throw new ReplyError(ErrorCode.BadRequest, 'body must be a JSON object');
  const handler = handlers[method] as (ctx: ApiContext, body: unknown) => Promise<unknown>;
  return handler(ctx, parse(method, body));
}
