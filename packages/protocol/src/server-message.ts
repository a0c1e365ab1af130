import { ProtocolError } from './errors.js';
import { isPlainObject } from './json.js';
import {
  connectResultSpec,
  disconnectPushSpec,
  emptySpec,
  errorBodySpec,
  historyResultSpec,
  joinLeaveSpec,
  messagePushSpec,
  presenceResultSpec,
  presenceStatsResultSpec,
  publicationSpec,
  refreshPushSpec,
  refreshResultSpec,
  rpcResultSpec,
  subRefreshResultSpec,
  subscribePushSpec,
  subscribeResultSpec,
  unsubscribePushSpec,
  type ErrorBody,
} from './messages.js';
import { type Infer, readObject, type Spec } from './schema.js';

/** Reply bodies by method. `send` has no reply. */
export const resultSpecs = {
  connect: connectResultSpec,
  subscribe: subscribeResultSpec,
  unsubscribe: emptySpec,
  publish: emptySpec,
  presence: presenceResultSpec,
  presence_stats: presenceStatsResultSpec,
  history: historyResultSpec,
  refresh: refreshResultSpec,
  sub_refresh: subRefreshResultSpec,
  rpc: rpcResultSpec,
} as const;
export type ReplyMethod = keyof typeof resultSpecs;
export type Result<M extends ReplyMethod> = Infer<(typeof resultSpecs)[M]>;

/** Push bodies by push type (the JSON key inside `push`). */
export const pushSpecs = {
  pub: publicationSpec,
  join: joinLeaveSpec,
  leave: joinLeaveSpec,
  unsubscribe: unsubscribePushSpec,
  subscribe: subscribePushSpec,
  message: messagePushSpec,
  disconnect: disconnectPushSpec,
  refresh: refreshPushSpec,
  connect: connectResultSpec,
} as const;
export type PushType = keyof typeof pushSpecs;
export type PushBody<T extends PushType> = Infer<(typeof pushSpecs)[T]>;
export type Push = { [T in PushType]: { type: T; channel?: string; body: PushBody<T> } }[PushType];

export type ResultReply = { [M in ReplyMethod]: { kind: 'result'; id: number; method: M; result: Result<M> } }[ReplyMethod];
export type ErrorReply = { kind: 'error'; id: number; error: ErrorBody };
export type ServerMessage = ResultReply | ErrorReply | { kind: 'push'; push: Push } | { kind: 'ping' };

/** The server ping, `{}`: the client answers with the same. */
export const PING = '{}';

export function encodeResult<M extends ReplyMethod>(id: number, method: M, result: Result<M>): string {
  return JSON.stringify({ id, [method]: result });
}

export function encodeError(id: number, error: ErrorBody): string {
  return JSON.stringify({ id, error });
}

export function encodePush(push: Push): string {
  const wire = push.channel === undefined ? { [push.type]: push.body } : { channel: push.channel, [push.type]: push.body };
  return JSON.stringify({ push: wire });
}

export function encodeServerMessage(message: ServerMessage): string {
  switch (message.kind) {
    case 'result':
      return JSON.stringify({ id: message.id, [message.method]: message.result });
    case 'error':
      return encodeError(message.id, message.error);
    case 'push':
      return encodePush(message.push);
    case 'ping':
      return PING;
  }
}

/** Finds the single known key of `value` among `specs`. */
function soleKey<K extends string>(value: Record<string, unknown>, specs: Readonly<Record<K, Spec>>, path: string): K {
  const keys = Object.keys(value).filter((k): k is K => Object.hasOwn(specs, k));
  if (keys.length !== 1 || keys[0] === undefined) throw new ProtocolError(path, `expected exactly one of ${Object.keys(specs).join(', ')}`);
  return keys[0];
}

export function decodeServerMessage(value: unknown): ServerMessage {
  if (!isPlainObject(value)) throw new ProtocolError('message', 'expected an object');
  const id = value['id'] ?? 0;
  if (!Number.isSafeInteger(id) || (id as number) < 0) throw new ProtocolError('message.id', 'expected a non-negative integer');
  if ((id as number) > 0) {
    if (value['error'] !== undefined) return { kind: 'error', id: id as number, error: readObject(errorBodySpec, value['error'], 'message.error') };
    const method = soleKey(value, resultSpecs, 'message');
    return { kind: 'result', id: id as number, method, result: readObject(resultSpecs[method], value[method], `message.${method}`) } as ResultReply;
  }
  const wire = value['push'];
  if (wire === undefined) {
    if (Object.keys(value).some((k) => k !== 'id')) throw new ProtocolError('message', 'expected a reply (id > 0), a push or an empty ping');
    return { kind: 'ping' };
  }
  if (!isPlainObject(wire)) throw new ProtocolError('message.push', 'expected an object');
  const type = soleKey(wire, pushSpecs, 'message.push');
  const body = readObject(pushSpecs[type], wire[type], `message.push.${type}`);
  const channel = wire['channel'];
  if (channel !== undefined && typeof channel !== 'string') throw new ProtocolError('message.push.channel', 'expected a string');
  return { kind: 'push', push: (channel === undefined ? { type, body } : { type, channel, body }) as Push };
}
