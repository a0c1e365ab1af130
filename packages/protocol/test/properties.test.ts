import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type ClientInfo,
  type Command,
  commandSpecs,
  decodeCommand,
  decodeCommands,
  decodeServerMessage,
  decodeServerMessages,
  encodeCommand,
  encodeServerMessage,
  type ErrorBody,
  joinFrame,
  type JsonValue,
  type Method,
  type Params,
  ProtocolError,
  type Publication,
  type Push,
  type PushBody,
  type PushType,
  pushSpecs,
  type ReplyMethod,
  type Result,
  resultSpecs,
  type ServerMessage,
  type SubscribeResult,
} from '../src/index.js';

// ---------------------------------------------------------------- leaves

/** Strings with unicode, lone surrogates, newlines and the usual suspicious keys. */
const text: fc.Arbitrary<string> = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.string({ unit: 'binary', maxLength: 12 }),
  fc.constantFrom('', '\n', 'a\r\nb', '\u2028', '__proto__', 'constructor', 'toString', 'id'),
);
const uint: fc.Arbitrary<number> = fc.oneof(fc.nat(1000), fc.maxSafeNat());
const int: fc.Arbitrary<number> = fc.oneof(fc.integer({ min: -1000, max: 1000 }), fc.maxSafeInteger()).map((n) => (n === 0 ? 0 : n));
const id: fc.Arbitrary<number> = fc.oneof(fc.integer({ min: 1, max: 1000 }), fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }));
/** Embedded JSON, normalized as the wire would (-0 becomes 0, null prototypes disappear). */
const json: fc.Arbitrary<JsonValue> = fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.parse(JSON.stringify(v)) as JsonValue);

const none: never[] = [];
const dict = <T>(value: fc.Arbitrary<T>): fc.Arbitrary<Record<string, T>> => fc.dictionary(text, value, { maxKeys: 3, noNullPrototype: true });

// ---------------------------------------------------------------- commands

const recovery = fc.record({ recover: fc.boolean(), offset: uint, epoch: text }, { requiredKeys: none, noNullPrototype: true });
const channelParams = fc.record({ channel: text }, { noNullPrototype: true });

/** Canonical params for every method: optional fields are either present or absent, never undefined. */
const paramsArbs: { [M in Method]: fc.Arbitrary<Params<M>> } = {
  connect: fc.record(
    { token: text, data: json, subs: dict(recovery), name: text, version: text, headers: dict(text) },
    { requiredKeys: none, noNullPrototype: true },
  ),
  subscribe: fc.record(
    {
      channel: text,
      token: text,
      recover: fc.boolean(),
      epoch: text,
      offset: uint,
      data: json,
      positioned: fc.boolean(),
      recoverable: fc.boolean(),
      join_leave: fc.boolean(),
      delta: text,
      flag: int,
      type: int,
    },
    { requiredKeys: ['channel'], noNullPrototype: true },
  ),
  unsubscribe: channelParams,
  publish: fc.record({ channel: text, data: json }, { requiredKeys: ['channel'], noNullPrototype: true }),
  presence: channelParams,
  presence_stats: channelParams,
  history: fc.record(
    {
      channel: text,
      limit: int,
      since: fc.record({ offset: uint, epoch: text }, { noNullPrototype: true }),
      reverse: fc.boolean(),
    },
    { requiredKeys: ['channel'], noNullPrototype: true },
  ),
  refresh: fc.record({ token: text }, { noNullPrototype: true }),
  sub_refresh: fc.record({ channel: text, token: text }, { noNullPrototype: true }),
  rpc: fc.record({ method: text, data: json }, { requiredKeys: none, noNullPrototype: true }),
  send: fc.record({ data: json }, { requiredKeys: none, noNullPrototype: true }),
};

const methods = Object.keys(commandSpecs) as Method[];

function methodCommand<M extends Method>(method: M): fc.Arbitrary<Command> {
  const idArb = method === 'send' ? fc.constant(0) : id;
  // The cast only re-associates method and params, which paramsArbs already types per method.
  return fc.tuple(idArb, paramsArbs[method]).map(([i, params]) => ({ id: i, method, params }) as Command);
}

const unknownName = text.filter((name) => name !== 'id' && !Object.hasOwn(commandSpecs, name));

const commandArb: fc.Arbitrary<Command> = fc.oneof(
  ...methods.map(methodCommand),
  fc.constant<Command>({ id: 0, method: 'pong' }),
  fc.tuple(id, unknownName).map(([i, name]): Command => ({ id: i, method: 'unknown', name })),
);

// ---------------------------------------------------------------- server messages

const clientInfo: fc.Arbitrary<ClientInfo> = fc.record(
  { user: text, client: text, conn_info: json, chan_info: json },
  { requiredKeys: ['user', 'client'], noNullPrototype: true },
);
const publication: fc.Arbitrary<Publication> = fc.record(
  { data: json, info: clientInfo, offset: uint, tags: dict(text), time: uint, channel: text },
  { requiredKeys: ['data'], noNullPrototype: true },
);
const subscribeResult: fc.Arbitrary<SubscribeResult> = fc.record(
  {
    expires: fc.boolean(),
    ttl: uint,
    recoverable: fc.boolean(),
    epoch: text,
    publications: fc.array(publication, { maxLength: 2 }),
    recovered: fc.boolean(),
    offset: uint,
    positioned: fc.boolean(),
    data: json,
    was_recovering: fc.boolean(),
  },
  { requiredKeys: none, noNullPrototype: true },
);
const connectResult: fc.Arbitrary<Result<'connect'>> = fc.record(
  {
    client: text,
    version: text,
    expires: fc.boolean(),
    ttl: uint,
    data: json,
    subs: dict(subscribeResult),
    ping: uint,
    pong: fc.boolean(),
    session: text,
    node: text,
    time: uint,
  },
  { requiredKeys: ['client', 'version'], noNullPrototype: true },
);
const empty = fc.constant({});

const resultArbs: { [M in ReplyMethod]: fc.Arbitrary<Result<M>> } = {
  connect: connectResult,
  subscribe: subscribeResult,
  unsubscribe: empty,
  publish: empty,
  presence: fc.record({ presence: dict(clientInfo) }, { noNullPrototype: true }),
  presence_stats: fc.record({ num_clients: uint, num_users: uint }, { noNullPrototype: true }),
  history: fc.record({ publications: fc.array(publication, { maxLength: 3 }), epoch: text, offset: uint }, { noNullPrototype: true }),
  refresh: fc.record({ client: text, version: text, expires: fc.boolean(), ttl: uint }, { requiredKeys: none, noNullPrototype: true }),
  sub_refresh: fc.record({ expires: fc.boolean(), ttl: uint }, { requiredKeys: none, noNullPrototype: true }),
  rpc: fc.record({ data: json }, { requiredKeys: none, noNullPrototype: true }),
};

const pushArbs: { [T in PushType]: fc.Arbitrary<PushBody<T>> } = {
  pub: publication,
  join: fc.record({ info: clientInfo }, { noNullPrototype: true }),
  leave: fc.record({ info: clientInfo }, { noNullPrototype: true }),
  unsubscribe: fc.record({ code: uint, reason: text }, { noNullPrototype: true }),
  subscribe: fc.record(
    { recoverable: fc.boolean(), epoch: text, offset: uint, positioned: fc.boolean(), data: json, expires: fc.boolean(), ttl: uint },
    { requiredKeys: none, noNullPrototype: true },
  ),
  message: fc.record({ data: json }, { noNullPrototype: true }),
  disconnect: fc.record({ code: uint, reason: text, reconnect: fc.boolean() }, { requiredKeys: ['code', 'reason'], noNullPrototype: true }),
  refresh: fc.record({ expires: fc.boolean(), ttl: uint }, { requiredKeys: none, noNullPrototype: true }),
  connect: connectResult,
};

const replyMethods = Object.keys(resultSpecs) as ReplyMethod[];
const pushTypes = Object.keys(pushSpecs) as PushType[];

function resultReply<M extends ReplyMethod>(method: M): fc.Arbitrary<ServerMessage> {
  return fc.tuple(id, resultArbs[method]).map(([i, result]) => ({ kind: 'result', id: i, method, result }) as ServerMessage);
}

function pushMessage<T extends PushType>(type: T): fc.Arbitrary<ServerMessage> {
  return fc.tuple(fc.option(text, { nil: undefined }), pushArbs[type]).map(([channel, body]) => {
    const push = (channel === undefined ? { type, body } : { type, channel, body }) as Push;
    return { kind: 'push', push };
  });
}

const errorBody: fc.Arbitrary<ErrorBody> = fc.record(
  { code: uint, message: text, temporary: fc.boolean() },
  { requiredKeys: ['code', 'message'], noNullPrototype: true },
);

const serverMessageArb: fc.Arbitrary<ServerMessage> = fc.oneof(
  ...replyMethods.map(resultReply),
  fc.tuple(id, errorBody).map(([i, error]): ServerMessage => ({ kind: 'error', id: i, error })),
  ...pushTypes.map(pushMessage),
  fc.constant<ServerMessage>({ kind: 'ping' }),
);

// ---------------------------------------------------------------- helpers

/**
 * Deep equality plus canonical shape: no own property holds `undefined` (an absent optional
 * field must stay absent) and every object is a plain object or array. toStrictEqual would
 * check this too, but it compares `.constructor`, which an own "constructor" key (a valid
 * channel or client id) turns into a data value.
 */
function expectDecoded(actual: unknown, expected: unknown): void {
  expect(actual).toEqual(expected);
  const walk = (v: unknown, path: string): void => {
    if (typeof v !== 'object' || v === null) return;
    const proto: unknown = Object.getPrototypeOf(v);
    expect(proto === Object.prototype || proto === Array.prototype, `${path} is a plain object or array`).toBe(true);
    for (const key of Object.keys(v)) {
      const child = Object.getOwnPropertyDescriptor(v, key)?.value;
      expect(child, `${path}.${key} is not undefined`).not.toBe(undefined);
      walk(child, `${path}.${key}`);
    }
  };
  walk(actual, '$');
}

function commandTag(c: Command): string {
  return c.method;
}

function serverTag(m: ServerMessage): string {
  switch (m.kind) {
    case 'result':
      return `result:${m.method}`;
    case 'push':
      return `push:${m.push.type}:${m.push.channel === undefined ? 'no-channel' : 'channel'}`;
    default:
      return m.kind;
  }
}

/** The decoder contract on garbage: return an array, or throw a ProtocolError (3501) and nothing else. */
function arrayOrProtocolError(decode: () => unknown): void {
  let result: unknown;
  try {
    result = decode();
  } catch (e) {
    expect(e).toBeInstanceOf(ProtocolError);
    const err = e as ProtocolError;
    expect(err.code).toBe(3501);
    expect(err.path).toMatch(/^(frame\[\d+\]|command|message)/);
    return;
  }
  expect(Array.isArray(result)).toBe(true);
}

function valueOrProtocolError(decode: () => unknown): void {
  try {
    decode();
  } catch (e) {
    expect(e).toBeInstanceOf(ProtocolError);
    expect((e as ProtocolError).code).toBe(3501);
  }
}

type Mutation = { kind: 'replace' | 'insert' | 'delete' | 'truncate'; at: number; char: string };

const mutationChar = fc.oneof(
  fc.constantFrom('{', '}', '[', ']', '"', ':', ',', '\n', '\\', ' ', '0', '-', '1', '.', 'e', 'n', 't', 'f', 'u', 'l'),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
);
const mutations: fc.Arbitrary<Mutation[]> = fc.array(
  fc.record({ kind: fc.constantFrom('replace', 'insert', 'delete', 'truncate'), at: fc.nat(), char: mutationChar }),
  { minLength: 1, maxLength: 4 },
);

function mutate(source: string, steps: readonly Mutation[]): string {
  let s = source;
  for (const { kind, at, char } of steps) {
    const i = s.length === 0 ? 0 : at % (s.length + (kind === 'insert' ? 1 : 0));
    switch (kind) {
      case 'replace':
        s = s.slice(0, i) + char + s.slice(i + 1);
        break;
      case 'insert':
        s = s.slice(0, i) + char + s.slice(i);
        break;
      case 'delete':
        s = s.slice(0, i) + s.slice(i + 1);
        break;
      case 'truncate':
        s = s.slice(0, i);
        break;
    }
  }
  return s;
}

function decodersAcceptOrReject(frame: string): void {
  arrayOrProtocolError(() => decodeCommands(frame));
  arrayOrProtocolError(() => decodeServerMessages(frame));
}

// ---------------------------------------------------------------- properties

describe('round trips', () => {
  it('the arbitraries cover every method, reply and push type', () => {
    expect(Object.keys(paramsArbs).sort()).toEqual(Object.keys(commandSpecs).sort());
    expect(Object.keys(resultArbs).sort()).toEqual(Object.keys(resultSpecs).sort());
    expect(Object.keys(pushArbs).sort()).toEqual(Object.keys(pushSpecs).sort());
  });

  it('decodeCommand(JSON.parse(encodeCommand(x))) equals x', () => {
    const seen = new Set<string>();
    fc.assert(
      fc.property(commandArb, (command) => {
        seen.add(commandTag(command));
        const wire = encodeCommand(command);
        expect(wire).not.toContain('\n');
        expectDecoded(decodeCommand(JSON.parse(wire)), command);
      }),
      { numRuns: 1500 },
    );
    expect([...seen].sort()).toEqual([...methods, 'pong', 'unknown'].sort());
  });

  it('decodeServerMessage(JSON.parse(encodeServerMessage(x))) equals x', () => {
    const seen = new Set<string>();
    fc.assert(
      fc.property(serverMessageArb, (message) => {
        seen.add(serverTag(message));
        const wire = encodeServerMessage(message);
        expect(wire).not.toContain('\n');
        expectDecoded(decodeServerMessage(JSON.parse(wire)), message);
      }),
      { numRuns: 2000 },
    );
    const expected = [
      ...replyMethods.map((m) => `result:${m}`),
      ...pushTypes.flatMap((t) => [`push:${t}:channel`, `push:${t}:no-channel`]),
      'error',
      'ping',
    ];
    expect([...seen].sort()).toEqual(expected.sort());
  });

  it('decodeCommands(joinFrame(xs.map(encodeCommand))) equals xs', () => {
    fc.assert(
      fc.property(fc.array(commandArb, { maxLength: 6 }), (commands) => {
        const frame = joinFrame(commands.map(encodeCommand));
        expect(frame.split('\n')).toHaveLength(Math.max(commands.length, 1));
        expectDecoded(decodeCommands(frame), commands);
        expect(decodeCommands(`${frame}\n`)).toEqual(commands);
      }),
      { numRuns: 500 },
    );
  });

  it('decodeServerMessages(joinFrame(xs.map(encodeServerMessage))) equals xs', () => {
    fc.assert(
      fc.property(fc.array(serverMessageArb, { maxLength: 6 }), (messages) => {
        const frame = joinFrame(messages.map(encodeServerMessage));
        expect(frame.split('\n')).toHaveLength(Math.max(messages.length, 1));
        expectDecoded(decodeServerMessages(frame), messages);
      }),
      { numRuns: 500 },
    );
  });
});

describe('garbage only ever raises ProtocolError', () => {
  it('arbitrary strings', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.string({ unit: fc.constantFrom('{', '}', '"', ':', '\n', 'a', '1', '[', ']', ',') })), (s) =>
        decodersAcceptOrReject(s),
      ),
      { numRuns: 2000 },
    );
  });

  it('arbitrary JSON values', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => decodersAcceptOrReject(JSON.stringify(v))),
      { numRuns: 1000 },
    );
  });

  it('arbitrary JSON objects shaped like protocol messages', () => {
    const keys = fc.constantFrom('id', 'push', 'error', 'channel', ...Object.keys(commandSpecs), ...Object.keys(pushSpecs), '__proto__');
    const shaped = fc.dictionary(keys, fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.dictionary(keys, fc.jsonValue({ maxDepth: 2 }))), { maxKeys: 4 });
    fc.assert(
      fc.property(shaped, (v) => decodersAcceptOrReject(JSON.stringify(v))),
      { numRuns: 1000 },
    );
  });

  it('arbitrary JS values serialized, and passed directly to the single-message decoders', () => {
    const anything = fc.anything({
      withNullPrototype: true,
      withBoxedValues: true,
      withSparseArray: true,
      withMap: true,
      withSet: true,
      withDate: true,
      withBigInt: true,
    });
    fc.assert(
      fc.property(anything, (v) => {
        let s: string | undefined;
        try {
          s = JSON.stringify(v);
        } catch {
          s = undefined; // BigInt: not representable as JSON
        }
        if (typeof s === 'string') decodersAcceptOrReject(s);
        valueOrProtocolError(() => decodeCommand(v));
        valueOrProtocolError(() => decodeServerMessage(v));
      }),
      { numRuns: 1000 },
    );
  });

  it('mutated valid command frames', () => {
    fc.assert(
      fc.property(fc.array(commandArb, { minLength: 1, maxLength: 3 }), mutations, (commands, steps) =>
        decodersAcceptOrReject(mutate(joinFrame(commands.map(encodeCommand)), steps)),
      ),
      { numRuns: 1000 },
    );
  });

  it('mutated valid server frames', () => {
    fc.assert(
      fc.property(fc.array(serverMessageArb, { minLength: 1, maxLength: 3 }), mutations, (messages, steps) =>
        decodersAcceptOrReject(mutate(joinFrame(messages.map(encodeServerMessage)), steps)),
      ),
      { numRuns: 1000 },
    );
  });

  it('the mutator really produces both accepted and rejected frames', () => {
    // Guards the mutation properties against a mutator that only ever breaks (or never touches) its input.
    let accepted = 0;
    let rejected = 0;
    fc.assert(
      fc.property(fc.array(commandArb, { minLength: 1, maxLength: 3 }), mutations, (commands, steps) => {
        const source = joinFrame(commands.map(encodeCommand));
        try {
          decodeCommands(mutate(source, steps));
          accepted++;
        } catch {
          rejected++;
        }
      }),
      { numRuns: 300 },
    );
    expect(accepted).toBeGreaterThan(0);
    expect(rejected).toBeGreaterThan(0);
  });
});
