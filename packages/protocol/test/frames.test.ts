import { describe, expect, it } from 'vitest';
import {
  type Command,
  decodeCommand,
  decodeCommands,
  decodeServerMessage,
  decodeServerMessages,
  DisconnectCode,
  encodeCommand,
  encodeError,
  encodePush,
  encodeResult,
  encodeServerMessage,
  joinFrame,
  PING,
  ProtocolError,
  type ServerMessage,
  splitFrame,
} from '../src/index.js';

/** Runs `f`, expects a ProtocolError and returns it (fails the test on any other outcome). */
function protocolError(f: () => unknown): ProtocolError {
  let thrown: unknown;
  try {
    f();
  } catch (e) {
    thrown = e;
  }
  expect(thrown).toBeInstanceOf(ProtocolError);
  const err = thrown as ProtocolError;
  expect(err.code).toBe(3501);
  expect(err.code).toBe(DisconnectCode.BadRequest);
  expect(err.name).toBe('ProtocolError');
  expect(err.message.startsWith(`${err.path}: `)).toBe(true);
  return err;
}

function ownValue(obj: object, key: string): unknown {
  return Object.getOwnPropertyDescriptor(obj, key)?.value;
}

describe('decodeCommands: frames the centrifuge JS SDK sends', () => {
  it('decodes a pipelined connect + subscribe frame', () => {
    const frame = '{"id":1,"connect":{"token":"t","name":"js"}}\n{"id":2,"subscribe":{"channel":"news","flag":1}}';
    expect(decodeCommands(frame)).toStrictEqual([
      { id: 1, method: 'connect', params: { token: 't', name: 'js' } },
      { id: 2, method: 'subscribe', params: { channel: 'news', flag: 1 } },
    ]);
  });

  it('decodes a subscribe with recovery fields', () => {
    const frame = '{"id":7,"subscribe":{"channel":"chat:1","recover":true,"epoch":"xyz","offset":12,"positioned":true,"recoverable":true,"join_leave":true}}';
    expect(decodeCommands(frame)).toStrictEqual([
      {
        id: 7,
        method: 'subscribe',
        params: { channel: 'chat:1', recover: true, epoch: 'xyz', offset: 12, positioned: true, recoverable: true, join_leave: true },
      },
    ]);
  });

  it('decodes the pong {} as method pong with id 0', () => {
    expect(decodeCommands('{}')).toStrictEqual([{ id: 0, method: 'pong' }]);
  });

  it('decodes send without an id as id 0', () => {
    expect(decodeCommands('{"send":{"data":{"a":1}}}')).toStrictEqual([{ id: 0, method: 'send', params: { data: { a: 1 } } }]);
  });

  it('decodes every other method with its params', () => {
    const frame = joinFrame([
      '{"id":3,"unsubscribe":{"channel":"news"}}',
      '{"id":4,"publish":{"channel":"news","data":{"text":"hi"}}}',
      '{"id":5,"presence":{"channel":"news"}}',
      '{"id":6,"presence_stats":{"channel":"news"}}',
      '{"id":7,"history":{"channel":"news","limit":-1,"since":{"offset":3,"epoch":"e"},"reverse":true}}',
      '{"id":8,"refresh":{"token":"t2"}}',
      '{"id":9,"sub_refresh":{"channel":"news","token":"st"}}',
      '{"id":10,"rpc":{"method":"getUser","data":[1,2]}}',
    ]);
    expect(decodeCommands(frame)).toStrictEqual([
      { id: 3, method: 'unsubscribe', params: { channel: 'news' } },
      { id: 4, method: 'publish', params: { channel: 'news', data: { text: 'hi' } } },
      { id: 5, method: 'presence', params: { channel: 'news' } },
      { id: 6, method: 'presence_stats', params: { channel: 'news' } },
      { id: 7, method: 'history', params: { channel: 'news', limit: -1, since: { offset: 3, epoch: 'e' }, reverse: true } },
      { id: 8, method: 'refresh', params: { token: 't2' } },
      { id: 9, method: 'sub_refresh', params: { channel: 'news', token: 'st' } },
      { id: 10, method: 'rpc', params: { method: 'getUser', data: [1, 2] } },
    ]);
  });

  it('decodes an unknown method with an id as method unknown (answered with error 104, not a disconnect)', () => {
    expect(decodeCommands('{"id":5,"foo":{}}')).toStrictEqual([{ id: 5, method: 'unknown', name: 'foo' }]);
  });

  it('treats prototype property names as unknown methods, not as known ones', () => {
    expect(decodeCommands('{"id":6,"constructor":{}}\n{"id":7,"toString":{}}\n{"id":8,"__proto__":{}}')).toStrictEqual([
      { id: 6, method: 'unknown', name: 'constructor' },
      { id: 7, method: 'unknown', name: 'toString' },
      { id: 8, method: 'unknown', name: '__proto__' },
    ]);
  });

  it('rejects an unknown method without an id', () => {
    expect(protocolError(() => decodeCommands('{"foo":{}}')).path).toBe('command');
  });

  it('accepts a trailing newline and skips blank lines', () => {
    expect(decodeCommands('{"id":1,"connect":{}}\n')).toStrictEqual([{ id: 1, method: 'connect', params: {} }]);
    expect(decodeCommands('{"id":1,"connect":{}}\n\n{}\n')).toStrictEqual([
      { id: 1, method: 'connect', params: {} },
      { id: 0, method: 'pong' },
    ]);
    expect(decodeCommands('')).toStrictEqual([]);
    expect(splitFrame('a\n\nb\n')).toStrictEqual(['a', 'b']);
  });

  it('ignores unknown fields inside params and next to a known method', () => {
    const frame = '{"id":2,"subscribe":{"channel":"news","future_field":{"x":1},"other":[1,2]},"meta":true}';
    expect(decodeCommands(frame)).toStrictEqual([{ id: 2, method: 'subscribe', params: { channel: 'news' } }]);
  });

  it('treats null as absent for non-JSON fields but keeps data:null', () => {
    expect(decodeCommands('{"id":1,"connect":{"token":null,"name":null,"subs":null,"data":null}}')).toStrictEqual([
      { id: 1, method: 'connect', params: { data: null } },
    ]);
    expect(decodeCommands('{"id":2,"subscribe":{"channel":"c","offset":null,"recover":null,"data":null}}')).toStrictEqual([
      { id: 2, method: 'subscribe', params: { channel: 'c', data: null } },
    ]);
    expect(decodeCommands('{"id":3,"publish":{"channel":"c","data":null}}')).toStrictEqual([
      { id: 3, method: 'publish', params: { channel: 'c', data: null } },
    ]);
  });

  it('fills an absent or null required scalar with its protobuf default', () => {
    expect(decodeCommands('{"id":1,"subscribe":{}}\n{"id":2,"refresh":{"token":null}}')).toStrictEqual([
      { id: 1, method: 'subscribe', params: { channel: '' } },
      { id: 2, method: 'refresh', params: { token: '' } },
    ]);
  });

  it('leaves an absent publish data absent (the server answers it, the codec does not disconnect)', () => {
    expect(decodeCommands('{"id":4,"publish":{"channel":"c"}}')).toStrictEqual([{ id: 4, method: 'publish', params: { channel: 'c' } }]);
  });

  it('encodeCommand writes the shapes the SDK writes (no id for id 0, {} for pong)', () => {
    expect(encodeCommand({ id: 1, method: 'connect', params: { token: 't', name: 'js' } })).toBe('{"id":1,"connect":{"token":"t","name":"js"}}');
    expect(encodeCommand({ id: 0, method: 'send', params: { data: { a: 1 } } })).toBe('{"send":{"data":{"a":1}}}');
    expect(encodeCommand({ id: 0, method: 'pong' })).toBe('{}');
    expect(encodeCommand({ id: 5, method: 'unknown', name: 'foo' })).toBe('{"id":5,"foo":{}}');
  });

  it('decodeCommand accepts an already parsed value', () => {
    expect(decodeCommand({ id: 3, unsubscribe: { channel: 'x' } })).toEqual({ id: 3, method: 'unsubscribe', params: { channel: 'x' } });
  });
});

describe('decodeCommands: rejections carry ProtocolError with a useful path', () => {
  it.each([
    ['invalid JSON', '{"id":1,', 'frame[0]'],
    ['invalid JSON on the second line', '{"id":1,"connect":{}}\n{"id":2,', 'frame[1]'],
    ['an array', '[]', 'command'],
    ['a string', '"connect"', 'command'],
    ['a number', '42', 'command'],
    ['null', 'null', 'command'],
    ['a negative id', '{"id":-1,"connect":{}}', 'command.id'],
    ['a float id', '{"id":1.5,"connect":{}}', 'command.id'],
    ['a string id', '{"id":"1","connect":{}}', 'command.id'],
    ['an unsafe integer id', '{"id":9007199254740992,"connect":{}}', 'command.id'],
    ['two method keys', '{"id":1,"connect":{},"subscribe":{"channel":"news"}}', 'command'],
    ['no method', '{"id":3}', 'command'],
    ['params that are not an object', '{"id":1,"connect":[]}', 'command.connect'],
    ['params that are null', '{"id":1,"subscribe":null}', 'command.subscribe'],
    ['channel: 5', '{"id":2,"subscribe":{"channel":5}}', 'command.subscribe.channel'],
    ['offset: -1', '{"id":2,"subscribe":{"channel":"news","offset":-1}}', 'command.subscribe.offset'],
    ['offset: 1.5', '{"id":2,"subscribe":{"channel":"news","offset":1.5}}', 'command.subscribe.offset'],
    ['recover: "yes"', '{"id":2,"subscribe":{"channel":"news","recover":"yes"}}', 'command.subscribe.recover'],
    ['flag: "1"', '{"id":2,"subscribe":{"channel":"news","flag":"1"}}', 'command.subscribe.flag'],
    ['subs that is an array', '{"id":1,"connect":{"subs":[]}}', 'command.connect.subs'],
    ['subs that is a string', '{"id":1,"connect":{"subs":"news"}}', 'command.connect.subs'],
    ['a bad subs entry', '{"id":1,"connect":{"subs":{"news":{"offset":"1"}}}}', 'command.connect.subs.news.offset'],
    ['a header that is not a string', '{"id":1,"connect":{"headers":{"x-a":1}}}', 'command.connect.headers.x-a'],
    ['a bad history position', '{"id":7,"history":{"channel":"c","since":{"offset":-3,"epoch":"e"}}}', 'command.history.since.offset'],
    ['a history limit that is not an integer', '{"id":7,"history":{"channel":"c","limit":0.5}}', 'command.history.limit'],
  ])('rejects %s', (_name, frame, path) => {
    const err = protocolError(() => decodeCommands(frame));
    expect(err.path).toBe(path);
  });

  it('keeps the JSON parser error as the cause', () => {
    expect(protocolError(() => decodeCommands('{nope')).cause).toBeInstanceOf(SyntaxError);
  });

  it('rejects the whole frame when one line is bad', () => {
    const err = protocolError(() => decodeCommands('{"id":1,"connect":{}}\n{"id":2,"subscribe":{"channel":5}}'));
    expect(err.path).toBe('command.subscribe.channel');
  });
});

describe('server messages: exact Centrifugo JSON shapes', () => {
  it('encodes a connect result', () => {
    expect(encodeResult(1, 'connect', { client: 'c', version: 'v', ping: 25, pong: true })).toBe(
      '{"id":1,"connect":{"client":"c","version":"v","ping":25,"pong":true}}',
    );
  });

  it('encodes a subscribe result and empty results', () => {
    expect(encodeResult(2, 'subscribe', { recoverable: true, epoch: 'e', offset: 0, positioned: true })).toBe(
      '{"id":2,"subscribe":{"recoverable":true,"epoch":"e","offset":0,"positioned":true}}',
    );
    expect(encodeResult(3, 'publish', {})).toBe('{"id":3,"publish":{}}');
    expect(encodeResult(4, 'unsubscribe', {})).toBe('{"id":4,"unsubscribe":{}}');
  });

  it('encodes error replies', () => {
    expect(encodeError(5, { code: 103, message: 'permission denied' })).toBe('{"id":5,"error":{"code":103,"message":"permission denied"}}');
    expect(encodeError(6, { code: 100, message: 'internal server error', temporary: true })).toBe(
      '{"id":6,"error":{"code":100,"message":"internal server error","temporary":true}}',
    );
  });

  it('encodes pushes with and without a channel', () => {
    expect(encodePush({ type: 'pub', channel: 'news', body: { data: { x: 1 }, offset: 8 } })).toBe(
      '{"push":{"channel":"news","pub":{"data":{"x":1},"offset":8}}}',
    );
    expect(encodePush({ type: 'disconnect', body: { code: 3001, reason: 'shutdown' } })).toBe(
      '{"push":{"disconnect":{"code":3001,"reason":"shutdown"}}}',
    );
    expect(encodePush({ type: 'join', channel: 'news', body: { info: { user: 'u', client: 'c' } } })).toBe(
      '{"push":{"channel":"news","join":{"info":{"user":"u","client":"c"}}}}',
    );
    expect(encodePush({ type: 'unsubscribe', channel: 'news', body: { code: 2000, reason: 'server unsubscribe' } })).toBe(
      '{"push":{"channel":"news","unsubscribe":{"code":2000,"reason":"server unsubscribe"}}}',
    );
    expect(encodePush({ type: 'message', body: { data: 'hi' } })).toBe('{"push":{"message":{"data":"hi"}}}');
  });

  it('encodes the ping as {}', () => {
    expect(PING).toBe('{}');
    expect(encodeServerMessage({ kind: 'ping' })).toBe('{}');
  });

  it('encodeServerMessage agrees with encodeResult, encodeError and encodePush', () => {
    expect(encodeServerMessage({ kind: 'result', id: 9, method: 'presence_stats', result: { num_clients: 2, num_users: 1 } })).toBe(
      encodeResult(9, 'presence_stats', { num_clients: 2, num_users: 1 }),
    );
    expect(encodeServerMessage({ kind: 'error', id: 9, error: { code: 109, message: 'token expired' } })).toBe(
      encodeError(9, { code: 109, message: 'token expired' }),
    );
    expect(encodeServerMessage({ kind: 'push', push: { type: 'refresh', channel: 'c', body: { expires: true, ttl: 60 } } })).toBe(
      encodePush({ type: 'refresh', channel: 'c', body: { expires: true, ttl: 60 } }),
    );
  });

  it('decodeServerMessages parses the encoded shapes back', () => {
    const frame = joinFrame([
      encodeResult(1, 'connect', { client: 'c', version: 'v', ping: 25, pong: true }),
      encodeError(2, { code: 103, message: 'permission denied' }),
      encodePush({ type: 'pub', channel: 'news', body: { data: { x: 1 }, offset: 8 } }),
      encodePush({ type: 'disconnect', body: { code: 3001, reason: 'shutdown' } }),
      PING,
    ]);
    const expected: ServerMessage[] = [
      { kind: 'result', id: 1, method: 'connect', result: { client: 'c', version: 'v', ping: 25, pong: true } },
      { kind: 'error', id: 2, error: { code: 103, message: 'permission denied' } },
      { kind: 'push', push: { type: 'pub', channel: 'news', body: { data: { x: 1 }, offset: 8 } } },
      { kind: 'push', push: { type: 'disconnect', body: { code: 3001, reason: 'shutdown' } } },
      { kind: 'ping' },
    ];
    expect(decodeServerMessages(frame)).toEqual(expected);
    // A push without a channel must not gain one.
    const decoded = decodeServerMessages(frame)[3];
    expect(decoded?.kind === 'push' && Object.hasOwn(decoded.push, 'channel')).toBe(false);
  });

  it('decodes a history reply as Centrifugo sends it', () => {
    const frame = '{"id":4,"history":{"publications":[{"data":{"n":1},"offset":5},{"data":"s","offset":6,"tags":{"k":"v"}}],"epoch":"ab","offset":6}}';
    expect(decodeServerMessage(JSON.parse(frame))).toEqual({
      kind: 'result',
      id: 4,
      method: 'history',
      result: {
        publications: [
          { data: { n: 1 }, offset: 5 },
          { data: 's', offset: 6, tags: { k: 'v' } },
        ],
        epoch: 'ab',
        offset: 6,
      },
    });
  });

  it.each([
    ['a reply with an id but no result', '{"id":1}', 'message'],
    ['a reply with two results', '{"id":1,"publish":{},"unsubscribe":{}}', 'message'],
    ['a negative id', '{"id":-2,"publish":{}}', 'message.id'],
    ['a non-object', '[1]', 'message'],
    ['a push that is not an object', '{"push":"pub"}', 'message.push'],
    ['a push with two types', '{"push":{"pub":{"data":1},"join":{"info":{"user":"u","client":"c"}}}}', 'message.push'],
    ['a push with no type', '{"push":{"channel":"c"}}', 'message.push'],
    ['a push channel that is not a string', '{"push":{"channel":5,"pub":{"data":1}}}', 'message.push.channel'],
    ['a publication without data', '{"push":{"channel":"c","pub":{"offset":1}}}', 'message.push.pub.data'],
    ['an error code that is not a number', '{"id":3,"error":{"code":"x","message":"m"}}', 'message.error.code'],
    ['a bad connect result field', '{"id":1,"connect":{"client":"c","version":"v","ping":-1}}', 'message.connect.ping'],
    ['invalid JSON', '{"push":', 'frame[0]'],
  ])('decodeServerMessages rejects %s', (_name, frame, path) => {
    expect(protocolError(() => decodeServerMessages(frame)).path).toBe(path);
  });
});

describe('"__proto__" record keys', () => {
  it('stays an ordinary own key in connect subs and changes no prototype', () => {
    const [command] = decodeCommands('{"id":1,"connect":{"subs":{"__proto__":{"recover":true,"offset":5,"epoch":"e"},"news":{"recover":true}}}}');
    expect(command?.method).toBe('connect');
    if (command?.method !== 'connect') return;
    const subs = command.params.subs;
    expect(subs).toBeDefined();
    if (subs === undefined) return;
    expect(Object.getPrototypeOf(subs)).toBe(Object.prototype);
    expect(Object.keys(subs)).toStrictEqual(['__proto__', 'news']);
    expect(Object.hasOwn(subs, '__proto__')).toBe(true);
    expect(ownValue(subs, '__proto__')).toEqual({ recover: true, offset: 5, epoch: 'e' });
    expect('recover' in subs).toBe(false);
    expect('recover' in {}).toBe(false);
    expect(Object.prototype).not.toHaveProperty('recover');
    // Encoding writes it back as a plain key.
    const wire = encodeCommand(command);
    expect(wire).toContain('"__proto__":{"recover":true,"offset":5,"epoch":"e"}');
    expect(decodeCommands(wire)).toStrictEqual([command]);
  });

  it('stays an ordinary own key in headers and in a presence result', () => {
    const [command] = decodeCommands('{"id":1,"connect":{"headers":{"__proto__":"x","constructor":"y"}}}');
    if (command?.method !== 'connect') throw new Error('expected connect');
    const headers = command.params.headers ?? {};
    expect(Object.getPrototypeOf(headers)).toBe(Object.prototype);
    expect(ownValue(headers, '__proto__')).toBe('x');
    expect(ownValue(headers, 'constructor')).toBe('y');

    const [reply] = decodeServerMessages('{"id":2,"presence":{"presence":{"__proto__":{"user":"u","client":"c"}}}}');
    if (reply?.kind !== 'result' || reply.method !== 'presence') throw new Error('expected a presence result');
    const presence = reply.result.presence;
    expect(Object.getPrototypeOf(presence)).toBe(Object.prototype);
    expect(Object.keys(presence)).toStrictEqual(['__proto__']);
    expect(ownValue(presence, '__proto__')).toEqual({ user: 'u', client: 'c' });
    expect('user' in presence).toBe(false);
  });
});

describe('joinFrame', () => {
  it('never puts a newline inside a message even when data strings contain newlines', () => {
    const commands: Command[] = [
      { id: 1, method: 'publish', params: { channel: 'a\nb', data: { text: 'line1\nline2\r\n', 'k\ney': ['\n'] } } },
      { id: 0, method: 'send', params: { data: '\n\n' } },
      { id: 2, method: 'unknown', name: 'x\ny' },
      { id: 0, method: 'pong' },
    ];
    const frame = joinFrame(commands.map(encodeCommand));
    expect(frame.split('\n')).toHaveLength(commands.length);
    expect(splitFrame(frame)).toHaveLength(commands.length);
    expect(decodeCommands(frame)).toEqual(commands);

    const messages: ServerMessage[] = [
      { kind: 'push', push: { type: 'pub', channel: 'c\n', body: { data: 'a\nb' } } },
      { kind: 'error', id: 3, error: { code: 107, message: 'bad\nrequest' } },
    ];
    const serverFrame = joinFrame(messages.map(encodeServerMessage));
    expect(serverFrame.split('\n')).toHaveLength(messages.length);
    expect(decodeServerMessages(serverFrame)).toEqual(messages);
  });

  it('joins with single newlines and nothing around', () => {
    expect(joinFrame([])).toBe('');
    expect(joinFrame(['{}'])).toBe('{}');
    expect(joinFrame(['{"a":1}', '{}'])).toBe('{"a":1}\n{}');
  });
});

describe('lenient where protobuf JSON is, strict where messages would be ambiguous', () => {
  it('skips whitespace-only lines between messages', () => {
    expect(decodeCommands('{}\r\n\r\n')).toEqual([{ id: 0, method: 'pong' }]);
    expect(decodeCommands('{}\n \n{"send":{}}')).toEqual([{ id: 0, method: 'pong' }, { id: 0, method: 'send', params: {} }]);
  });

  it('reads absent lists and maps of server messages as empty', () => {
    expect(decodeServerMessages('{"id":3,"history":{"epoch":"e","offset":0}}')).toEqual([
      { kind: 'result', id: 3, method: 'history', result: { publications: [], epoch: 'e', offset: 0 } },
    ]);
    expect(decodeServerMessages('{"id":1,"presence":{}}')).toEqual([{ kind: 'result', id: 1, method: 'presence', result: { presence: {} } }]);
  });

  it('rejects a server message that is neither reply, push nor empty ping', () => {
    expect(() => decodeServerMessages('{"foo":1}')).toThrow(ProtocolError);
    expect(() => decodeServerMessages('{"error":{"code":1,"message":"x"}}')).toThrow(ProtocolError);
  });
});
