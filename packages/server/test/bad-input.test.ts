import type { ServerMessage } from '@fleetgate/protocol';
import { describe, expect, it } from 'vitest';
import type { ConfigInput } from '../src/config/schema.js';
import { api, type RawClient, SECRET, token } from './helpers.js';
import { closeFrame, expiredToken, record, signToken, summary, useResources, within } from './raw-helpers.js';

/**
 * Every rule for bad client input, one test each, over real sockets with raw frames.
 * Codes: PROTOCOL-NOTES §2 (command rules) and §4 (error and disconnect codes).
 */

const res = useResources();

/** Channels without a namespace can be subscribed by authenticated clients; subscribers may publish. */
const open: ConfigInput = { channel: { defaults: { allowSubscribeForClient: true, allowPublishForSubscriber: true } } };

function withClient(client: NonNullable<ConfigInput['client']>): ConfigInput {
  return { ...open, client };
}

async function connected(url: string, user = 'alice'): Promise<RawClient> {
  const client = await res.client(url);
  const reply = await client.connect(await token(user));
  expect(reply).toMatchObject({ kind: 'result', id: 1, method: 'connect' });
  return client;
}

/** The close the server sends, with a deadline so that a missing close fails fast with a message. */
function closeOf(client: RawClient, ms = 3000): Promise<{ code: number; reason: string }> {
  return within(client.closed, ms, 'the server to close the connection');
}

function errorCode(m: ServerMessage): number | undefined {
  return m.kind === 'error' ? m.error.code : undefined;
}

describe('malformed frames close with 3501', () => {
  it('a frame that is not JSON closes with 3501 "bad request"', async () => {
    const gw = await res.gateway(open);
    const client = await connected(gw.wsUrl);
    client.send('{"id":2,"subscribe":{"channel":"news"}');
    expect(await closeOf(client)).toEqual({ code: 3501, reason: 'bad request' });
  });

  it('a connect whose token is a number closes with 3501', async () => {
    const gw = await res.gateway(open);
    const client = await res.client(gw.wsUrl);
    client.send('{"id":1,"connect":{"token":5}}');
    expect(await closeOf(client)).toEqual({ code: 3501, reason: 'bad request' });
  });

  it('a subscribe whose channel is a number closes with 3501', async () => {
    const gw = await res.gateway(open);
    const client = await connected(gw.wsUrl);
    client.send('{"id":2,"subscribe":{"channel":7}}');
    expect(await closeOf(client)).toEqual({ code: 3501, reason: 'bad request' });
  });

  it('a binary frame of garbage bytes closes with 3501', async () => {
    const gw = await res.gateway(open);
    const client = await connected(gw.wsUrl);
    client.ws.send(Buffer.from([0xff, 0xfe, 0x00, 0x7b, 0x80, 0x0a, 0xc3, 0x28]), { binary: true });
    expect(await closeOf(client)).toEqual({ code: 3501, reason: 'bad request' });
  });

  it('a bad frame queued behind a pending connect still closes the socket promptly', async () => {
    // The connect frame is still verifying its token when the garbage frame arrives, so the
    // garbage waits in the session's backlog (the socket is paused meanwhile). The server must
    // close with 3501 and also complete the close handshake, not hold the socket half-closed.
    const gw = await res.gateway(open);
    const client = await res.client(gw.wsUrl);
    const frame = closeFrame(client.ws);
    client.send({ id: 1, connect: { token: await token('alice') } });
    client.send('not json');
    expect((await client.nextNonPing()).kind).toBe('result');
    expect(await within(frame, 3000, 'the close frame')).toEqual({ code: 3501, reason: 'bad request' });
    // The close frame arrived; the TCP connection must follow (ws answers the close frame at once).
    expect(await within(client.closed, 3000, 'the server to finish the close handshake after its 3501 close frame')).toEqual({
      code: 3501,
      reason: 'bad request',
    });
  });
});

describe('frames piling up behind a slow command', () => {
  it('more than client.maxPendingBytes waiting behind a pending connect closes with 3013', async () => {
    const gw = await res.gateway(withClient({ maxPendingBytes: 4096 }));
    const client = await res.client(gw.wsUrl);
    // One burst: the token check keeps the connect pending while the rest arrive.
    client.send({ id: 1, connect: { token: await token('alice') } });
    for (let i = 0; i < 10; i++) client.send({ id: 2 + i, publish: { channel: 'news', data: { pad: 'x'.repeat(1000) } } });
    expect(await closeOf(client)).toEqual({ code: 3013, reason: 'too many requests' });
  });

  it('the same burst within the limit is served in order (control)', async () => {
    const gw = await res.gateway(withClient({ maxPendingBytes: 64 * 1024 }));
    const client = await res.client(gw.wsUrl);
    client.send({ id: 1, connect: { token: await token('alice') } });
    client.send({ id: 2, subscribe: { channel: 'news' } });
    for (let i = 0; i < 10; i++) client.send({ id: 3 + i, publish: { channel: 'news', data: { pad: 'x'.repeat(1000) } } });
    const replies: number[] = [];
    const readReplies = async () => {
      while (replies.length < 12) {
        const m = await client.nextNonPing();
        if (m.kind === 'result') replies.push(m.id);
      }
    };
    await within(readReplies(), 5000, 'twelve replies');
    expect(replies).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
  });
});

describe('commands in the wrong place', () => {
  it('an unknown method with an id gets error 104 and the connection stays usable', async () => {
    const gw = await res.gateway(open);
    const client = await connected(gw.wsUrl);
    client.send({ id: 2, foo: {} });
    const reply = await client.nextNonPing();
    expect(reply).toEqual({ kind: 'error', id: 2, error: { code: 104, message: expect.any(String) } });
    client.send({ id: 3, subscribe: { channel: 'news' } });
    expect(await client.nextNonPing()).toEqual({ kind: 'result', id: 3, method: 'subscribe', result: {} });
  });

  it('a subscribe before connect closes with 3501', async () => {
    const gw = await res.gateway(open);
    const client = await res.client(gw.wsUrl);
    client.send({ id: 1, subscribe: { channel: 'news' } });
    expect(await closeOf(client)).toEqual({ code: 3501, reason: 'bad request' });
  });

  it('a second connect closes with 3501', async () => {
    const gw = await res.gateway(open);
    const client = await connected(gw.wsUrl);
    client.send({ id: 2, connect: { token: await token('alice') } });
    expect(await closeOf(client)).toEqual({ code: 3501, reason: 'bad request' });
  });

  it('a pong ({}) without an outstanding ping closes with 3501', async () => {
    const gw = await res.gateway(open);
    const client = await connected(gw.wsUrl);
    client.send('{}');
    expect(await closeOf(client)).toEqual({ code: 3501, reason: 'bad request' });
  });

  it('a command with id 0 (other than pong and send) closes with 3501', async () => {
    const gw = await res.gateway(open);
    const client = await connected(gw.wsUrl);
    client.send({ subscribe: { channel: 'news' } });
    expect(await closeOf(client)).toEqual({ code: 3501, reason: 'bad request' });
  });

  it('an explicit "id":0 on a publish closes with 3501', async () => {
    const gw = await res.gateway(open);
    const client = await connected(gw.wsUrl);
    client.send({ id: 0, publish: { channel: 'news', data: {} } });
    expect(await closeOf(client)).toEqual({ code: 3501, reason: 'bad request' });
  });

  it('send (no rpc proxy) closes with 3508 "not available"', async () => {
    const gw = await res.gateway(open);
    const client = await connected(gw.wsUrl);
    client.send({ send: { data: { hello: 1 } } });
    expect(await closeOf(client)).toEqual({ code: 3508, reason: 'not available' });
  });
});

describe('frame size', () => {
  it('a frame above client.maxFrameBytes closes with 1009; the server and other clients carry on', async () => {
    const gw = await res.gateway(withClient({ maxFrameBytes: 1024 }));
    const bystander = await connected(gw.wsUrl, 'bob');
    bystander.send({ id: 2, subscribe: { channel: 'news' } });
    expect(await bystander.nextNonPing()).toMatchObject({ kind: 'result', id: 2 });

    const client = await connected(gw.wsUrl);
    // Exactly at the limit is still fine ...
    const fits = JSON.stringify({ id: 2, subscribe: { channel: 'news', data: 'x' } });
    client.send(fits.replace('"x"', `"${'x'.repeat(1024 - fits.length + 1)}"`));
    expect(await client.nextNonPing()).toMatchObject({ kind: 'result', id: 2, method: 'subscribe' });
    // ... one byte more is not.
    client.send({ id: 3, publish: { channel: 'news', data: 'y'.repeat(1024) } });
    expect((await closeOf(client)).code).toBe(1009);

    expect(bystander.ws.readyState).toBe(bystander.ws.OPEN);
    expect((await api(gw, 'publish', { channel: 'news', data: { after: true } })).json).toEqual({ result: {} });
    expect(await bystander.nextNonPing()).toMatchObject({ kind: 'push', push: { type: 'pub', channel: 'news', body: { data: { after: true } } } });
    const fresh = await connected(gw.wsUrl, 'carol');
    expect(fresh.ws.readyState).toBe(fresh.ws.OPEN);
  });
});

describe('subscription rules', () => {
  it('one subscription more than client.maxSubscriptions gets error 106', async () => {
    const gw = await res.gateway(withClient({ maxSubscriptions: 3 }));
    const client = await connected(gw.wsUrl);
    for (const [i, channel] of ['a', 'b', 'c'].entries()) {
      client.send({ id: 2 + i, subscribe: { channel } });
      expect(await client.nextNonPing()).toEqual({ kind: 'result', id: 2 + i, method: 'subscribe', result: {} });
    }
    client.send({ id: 5, subscribe: { channel: 'd' } });
    expect(await client.nextNonPing()).toEqual({ kind: 'error', id: 5, error: { code: 106, message: 'limit exceeded' } });
    // Freeing a slot makes room again.
    client.send({ id: 6, unsubscribe: { channel: 'a' } }, { id: 7, subscribe: { channel: 'd' } });
    expect((await client.nextNonPing()) as unknown).toMatchObject({ kind: 'result', id: 6, method: 'unsubscribe' });
    expect((await client.nextNonPing()) as unknown).toMatchObject({ kind: 'result', id: 7, method: 'subscribe' });
  });

  it('subscribing twice to a channel gets error 105', async () => {
    const gw = await res.gateway(open);
    const client = await connected(gw.wsUrl);
    client.send({ id: 2, subscribe: { channel: 'news' } });
    expect(await client.nextNonPing()).toMatchObject({ kind: 'result', id: 2 });
    client.send({ id: 3, subscribe: { channel: 'news' } });
    expect(await client.nextNonPing()).toEqual({ kind: 'error', id: 3, error: { code: 105, message: 'already subscribed' } });
  });

  it('a channel longer than client.maxChannelLength gets error 107', async () => {
    const gw = await res.gateway(withClient({ maxChannelLength: 16 }));
    const client = await connected(gw.wsUrl);
    client.send({ id: 2, subscribe: { channel: 'c'.repeat(16) } });
    expect(await client.nextNonPing()).toMatchObject({ kind: 'result', id: 2 });
    client.send({ id: 3, subscribe: { channel: 'c'.repeat(17) } });
    expect(errorCode(await client.nextNonPing())).toBe(107);
  });

  it('an empty channel closes with 3501', async () => {
    const gw = await res.gateway(open);
    const client = await connected(gw.wsUrl);
    client.send({ id: 2, subscribe: { channel: '' } });
    expect(await closeOf(client)).toEqual({ code: 3501, reason: 'bad request' });
  });
});

describe('tokens', () => {
  it('a token with a bad signature closes with 3500 "invalid token"', async () => {
    const gw = await res.gateway(open);
    const client = await res.client(gw.wsUrl);
    client.send({ id: 1, connect: { token: await signToken({ sub: 'alice' }, `${SECRET}-but-not-quite`) } });
    expect(await closeOf(client)).toEqual({ code: 3500, reason: 'invalid token' });
  });

  it('a garbage token string closes with 3500 "invalid token"', async () => {
    const gw = await res.gateway(open);
    const client = await res.client(gw.wsUrl);
    client.send({ id: 1, connect: { token: 'definitely.not.a-jwt' } });
    expect(await closeOf(client)).toEqual({ code: 3500, reason: 'invalid token' });
  });

  it('an expired token gets error 109', async () => {
    const gw = await res.gateway(open);
    const client = await res.client(gw.wsUrl);
    expect(await client.connect(await expiredToken('alice'))).toEqual({ kind: 'error', id: 1, error: { code: 109, message: 'token expired' } });
    expect(client.ws.readyState).toBe(client.ws.OPEN);
  });

  it('after a failed connect (109) the next command closes with 3501', async () => {
    // staleCloseDelay is short so that, if the command is ignored, the test fails quickly (with 3502).
    const gw = await res.gateway(withClient({ staleCloseDelay: '1500ms' }));
    const client = await res.client(gw.wsUrl);
    expect(errorCode(await client.connect(await expiredToken('alice')))).toBe(109);
    client.send({ id: 2, subscribe: { channel: 'news' } });
    expect(await closeOf(client)).toEqual({ code: 3501, reason: 'bad request' });
  });

  it('after a failed connect (109) a retried connect with a good token closes with 3501', async () => {
    const gw = await res.gateway(withClient({ staleCloseDelay: '1500ms' }));
    const client = await res.client(gw.wsUrl);
    expect(errorCode(await client.connect(await expiredToken('alice')))).toBe(109);
    client.send({ id: 2, connect: { token: await token('alice') } });
    expect(await closeOf(client)).toEqual({ code: 3501, reason: 'bad request' });
  });

  it('refresh with an expired token closes with 3005 "connection expired"', async () => {
    const gw = await res.gateway(open);
    const client = await connected(gw.wsUrl);
    client.send({ id: 2, refresh: { token: await expiredToken('alice') } });
    expect(await closeOf(client)).toEqual({ code: 3005, reason: 'connection expired' });
  });

  it('refresh with a token of another user closes with 3500', async () => {
    const gw = await res.gateway(open);
    const client = await connected(gw.wsUrl, 'alice');
    client.send({ id: 2, refresh: { token: await token('mallory') } });
    expect(await closeOf(client)).toEqual({ code: 3500, reason: 'invalid token' });
  });

  it('refresh with a valid token of the same user is answered (control for the two above)', async () => {
    const gw = await res.gateway(open);
    const client = await connected(gw.wsUrl, 'alice');
    client.send({ id: 2, refresh: { token: await token('alice', 600) } });
    expect(await client.nextNonPing()).toMatchObject({ kind: 'result', id: 2, method: 'refresh', result: { expires: true } });
  });

  it('connect without a token when client.insecure is off closes with 3501', async () => {
    const gw = await res.gateway(open);
    const client = await res.client(gw.wsUrl);
    client.send({ id: 1, connect: {} });
    expect(await closeOf(client)).toEqual({ code: 3501, reason: 'bad request' });
  });

  it('client.insecure: connect without a token, subscribe and publish anywhere', async () => {
    // No channel permissions at all: only insecure mode lets these through.
    const gw = await res.gateway({ client: { insecure: true } });
    const client = await res.client(gw.wsUrl);
    expect(await client.connect()).toMatchObject({ kind: 'result', id: 1, method: 'connect' });
    client.send({ id: 2, subscribe: { channel: 'news' } }, { id: 3, subscribe: { channel: '$secret' } });
    expect(await client.nextNonPing()).toEqual({ kind: 'result', id: 2, method: 'subscribe', result: {} });
    expect(await client.nextNonPing()).toEqual({ kind: 'result', id: 3, method: 'subscribe', result: {} });

    const other = await res.client(gw.wsUrl);
    expect((await other.connect()).kind).toBe('result');
    other.send({ id: 2, publish: { channel: '$secret', data: { n: 1 } } });
    expect(await other.nextNonPing()).toEqual({ kind: 'result', id: 2, method: 'publish', result: {} });
    expect(await client.nextNonPing()).toMatchObject({ kind: 'push', push: { type: 'pub', channel: '$secret', body: { data: { n: 1 } } } });
  });

  it('without client.insecure the same channels are refused (control)', async () => {
    const gw = await res.gateway({});
    const client = await connected(gw.wsUrl);
    client.send({ id: 2, subscribe: { channel: 'news' } });
    expect(errorCode(await client.nextNonPing())).toBe(103);
  });
});

describe('subprotocols', () => {
  it('centrifuge-protobuf is closed with 3506', async () => {
    const gw = await res.gateway(open);
    const client = await res.client(gw.wsUrl, 'centrifuge-protobuf');
    expect(await closeOf(client)).toEqual({ code: 3506, reason: 'inappropriate protocol' });
  });

  it('centrifuge-json is selected and works', async () => {
    const gw = await res.gateway(open);
    const client = await res.client(gw.wsUrl, 'centrifuge-json');
    expect(client.ws.protocol).toBe('centrifuge-json');
    expect(await client.connect(await token('alice'))).toMatchObject({ kind: 'result', id: 1, method: 'connect' });
    client.send({ id: 2, subscribe: { channel: 'news' } });
    expect(await client.nextNonPing()).toMatchObject({ kind: 'result', id: 2, method: 'subscribe' });
  });
});

describe('stale sockets', () => {
  it('a socket that never sends connect is closed with 3502 after client.staleCloseDelay', async () => {
    const gw = await res.gateway(withClient({ staleCloseDelay: '200ms' }));
    const started = Date.now();
    const client = await res.client(gw.wsUrl);
    expect(await closeOf(client, 3000)).toEqual({ code: 3502, reason: 'stale' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
  });

  it('a connected socket is not closed as stale', async () => {
    const gw = await res.gateway(withClient({ staleCloseDelay: '200ms' }));
    const client = await connected(gw.wsUrl);
    const watcher = await res.client(gw.wsUrl);
    // The watcher never connects: once it is closed as stale, the connected client's stale timer has long passed too.
    expect((await closeOf(watcher)).code).toBe(3502);
    client.send({ id: 2, subscribe: { channel: 'news' } });
    expect(await client.nextNonPing()).toMatchObject({ kind: 'result', id: 2 });
    expect(client.ws.readyState).toBe(client.ws.OPEN);
  });
});

describe('pipelined frames', () => {
  it('connect + subscribe in one frame: the connect reply comes first, then the subscribe reply', async () => {
    const gw = await res.gateway(open);
    const client = await res.client(gw.wsUrl);
    client.send({ id: 1, connect: { token: await token('alice') } }, { id: 2, subscribe: { channel: 'news' } });
    const first = await client.nextNonPing();
    const second = await client.nextNonPing();
    expect([summary(first), summary(second)]).toEqual(['1:connect', '2:subscribe']);
  });

  it('an expired connect + subscribe in one frame: the subscribe is not answered', async () => {
    // A failed connect makes the rest of the frame void. The socket then never connects, so the
    // stale timer closes it; everything it received by then is in the log.
    const gw = await res.gateway(withClient({ staleCloseDelay: '500ms' }));
    const client = await res.client(gw.wsUrl);
    const log = record(client);
    client.send({ id: 1, connect: { token: await expiredToken('alice') } }, { id: 2, subscribe: { channel: 'news' } });
    await closeOf(client);
    expect(log.map(summary)).toEqual(['1:error 109']);
  });
});
