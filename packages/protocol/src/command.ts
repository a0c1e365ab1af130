import { ProtocolError } from './errors.js';
import { isPlainObject } from './json.js';
import {
  channelRequestSpec,
  connectRequestSpec,
  historyRequestSpec,
  publishRequestSpec,
  refreshRequestSpec,
  rpcRequestSpec,
  sendRequestSpec,
  subRefreshRequestSpec,
  subscribeRequestSpec,
} from './messages.js';
import { type Infer, readObject } from './schema.js';

/** Client -> server command bodies by method name (the JSON key of the command). */
export const commandSpecs = {
  connect: connectRequestSpec,
  subscribe: subscribeRequestSpec,
  unsubscribe: channelRequestSpec,
  publish: publishRequestSpec,
  presence: channelRequestSpec,
  presence_stats: channelRequestSpec,
  history: historyRequestSpec,
  refresh: refreshRequestSpec,
  sub_refresh: subRefreshRequestSpec,
  rpc: rpcRequestSpec,
  send: sendRequestSpec,
} as const;

export type Method = keyof typeof commandSpecs;
export type Params<M extends Method> = Infer<(typeof commandSpecs)[M]>;

export type MethodCommand = { [M in Method]: { id: number; method: M; params: Params<M> } }[Method];

/**
 * A decoded command. `pong` is the empty `{}` a client sends back for a ping;
 * `unknown` is a command with an id whose method this server does not know
 * (answered with error 104 rather than a disconnect, so newer SDKs degrade gracefully).
 */
export type Command = MethodCommand | { id: 0; method: 'pong' } | { id: number; method: 'unknown'; name: string };

function isMethod(key: string): key is Method {
  return Object.hasOwn(commandSpecs, key);
}

export function decodeCommand(value: unknown): Command {
  if (!isPlainObject(value)) throw new ProtocolError('command', 'expected an object');
  const rawId = value['id'] ?? 0;
  if (!Number.isSafeInteger(rawId) || (rawId as number) < 0) throw new ProtocolError('command.id', 'expected a non-negative integer');
  const id = rawId as number;
  let method: Method | undefined;
  let other: string | undefined;
  for (const key of Object.keys(value)) {
    if (key === 'id') continue;
    if (isMethod(key)) {
      if (method !== undefined) throw new ProtocolError('command', `more than one method (${method}, ${key})`);
      method = key;
    } else {
      other ??= key;
    }
  }
  if (method !== undefined) {
    const params = readObject(commandSpecs[method], value[method], `command.${method}`);
    return { id, method, params } as MethodCommand;
  }
  if (other !== undefined && id > 0) return { id, method: 'unknown', name: other };
  if (id === 0 && other === undefined) return { id: 0, method: 'pong' };
  throw new ProtocolError('command', 'no method');
}

export function encodeCommand(command: Command): string {
  switch (command.method) {
    case 'pong':
      return '{}';
    case 'unknown':
      return JSON.stringify({ id: command.id, [command.name]: {} });
    default:
      return JSON.stringify(command.id === 0 ? { [command.method]: command.params } : { id: command.id, [command.method]: command.params });
  }
}
