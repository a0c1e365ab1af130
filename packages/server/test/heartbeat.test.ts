/**
 * Server ping / client pong over real sockets: the connect reply advertises the ping
 * period, a client that does not answer is closed with 3012 "no pong", one that answers
 * stays, and the real SDK recovers by itself from a 3012.
 */
import type { ConnectingContext, PublicationContext } from 'centrifuge';
import { WebSocket } from 'ws';
import { afterEach, describe, expect, it } from 'vitest';
import type { ServerMessage } from '@fleetgate/protocol';
import type { ConfigInput } from '../src/config/schema.js';
import { api, next, RawClient, startGateway, token } from './helpers.js';
import { clientState, pongDroppingWebSocket, record, Scope, subState, within } from './sdk-helpers.js';

const scope = new Scope();
afterEach(() => scope.cleanup());

const heartbeat: ConfigInput = {
  client: { pingInterval: '200ms', pongTimeout: '150ms' },
  channel: { defaults: { allowSubscribeForClient: true } },
};

const gateway = (config: ConfigInput = heartbeat) => startGateway(config).then((gw) => scope.gateway(gw));

async function connectedRaw(gw: { wsUrl: string }, user = 'alice'): Promise<{ raw: RawClient; reply: ServerMessage }> {
  const raw = scope.raw(await RawClient.open(gw.wsUrl));
  const reply = await within(raw.connect(await token(user)), 'connect reply');
  return { raw, reply };
}

function connectResult(reply: ServerMessage) {
  if (reply.kind !== 'result' || reply.method !== 'connect') throw new Error(`expected a connect result, got ${JSON.stringify(reply)}`);
  return reply.result;
}

describe('heartbeat: raw protocol', () => {
  it('advertises ping (whole seconds, >= 1) and pong in the connect reply', async () => {
    const gw = await gateway();
    const { reply } = await connectedRaw(gw);
    const result = connectResult(reply);
    expect(result.ping).toBeGreaterThanOrEqual(1);
    expect(result.ping).toBe(1); // 200 ms rounds up to 1 s
    expect(result.pong).toBe(true);
  });

  it('advertises no ping/pong when pings are off (pingInterval 0)', async () => {
    const gw = await gateway({ client: { pingInterval: 0 } });
    const { reply } = await connectedRaw(gw);
    const result = connectResult(reply);
    expect(result.ping).toBeUndefined();
    expect(result.pong).toBeUndefined();
  });

  it('closes a client that never answers pings with 3012 "no pong"', async () => {
    const gw = await gateway();
    const { raw } = await connectedRaw(gw);
    const pingTimes: number[] = [];
    let closedAt = 0;
    const closed = raw.closed.then((c) => {
      closedAt = Date.now();
      return c;
    });
    void (async () => {
      for (;;) {
        const m = await raw.next();
        if (m.kind === 'ping') pingTimes.push(Date.now());
      }
    })();
    expect(await within(closed, 'close for no pong')).toEqual({ code: 3012, reason: 'no pong' });
    // Closed for a ping it got and left unanswered, not before: exactly one ping, then the pong timeout.
    expect(pingTimes).toHaveLength(1);
    expect(closedAt - (pingTimes[0] ?? Infinity)).toBeGreaterThanOrEqual(140);
    expect(gw.gateway.node.stats().clients).toBe(0);
  });

  it('keeps a client that answers pings over several rounds', async () => {
    const gw = await gateway();
    const { raw } = await connectedRaw(gw);
    let closed: { code: number; reason: string } | undefined;
    void raw.closed.then((c) => (closed = c));
    let answered = 0;
    while (answered < 3) {
      const m = await within(raw.next(), `ping #${answered + 1}`);
      if (m.kind !== 'ping') throw new Error(`unexpected message ${JSON.stringify(m)}`);
      raw.send('{}');
      answered++;
    }
    // A fourth ping means the server let the third pong's deadline pass without closing.
    expect((await within(raw.next(), 'ping #4')).kind).toBe('ping');
    expect(closed).toBeUndefined();
    expect(raw.ws.readyState).toBe(WebSocket.OPEN);
    expect(gw.gateway.node.stats().clients).toBe(1);
  });

  it('closes with 3501 on a pong that answers no ping', async () => {
    // A long period, so that no ping can be outstanding when the stray pong arrives.
    const gw = await gateway({ client: { pingInterval: '10s', pongTimeout: '5s' } });
    const { raw } = await connectedRaw(gw);
    raw.send('{}');
    expect(await within(raw.closed, 'close for a stray pong')).toEqual({ code: 3501, reason: 'bad request' });
  });
});

describe('heartbeat: SDK', () => {
  it('answers pings by itself and stays connected', async () => {
    const gw = await gateway();
    const { control, WebSocket: Socket } = pongDroppingWebSocket();
    const client = scope.client(gw, { token: await token('alice'), websocket: Socket });
    const connecting = record<ConnectingContext>(client, 'connecting');
    const ready = clientState(client, 'connected');
    client.connect();
    await within(ready, 'connected');
    await within(control.pongs.until((n) => n >= 3), 'three pongs from the SDK');
    expect(client.state).toBe('connected');
    expect(connecting).toHaveLength(1); // the initial connect only
    expect(control.dropped).toBe(0);
  });

  it('is closed with 3012 when its pongs are lost and reconnects by itself once they flow again', async () => {
    const gw = await gateway();
    const { control, WebSocket: Socket } = pongDroppingWebSocket();
    const client = scope.client(gw, { token: await token('alice'), websocket: Socket, minReconnectDelay: 50, maxReconnectDelay: 200 });
    const ready = clientState(client, 'connected');
    client.connect();
    await within(ready, 'connected');
    const sub = client.newSubscription('news');
    const subscribed = subState(sub, 'subscribed');
    sub.subscribe();
    await within(subscribed, 'subscribed');

    const connecting = new Promise<ConnectingContext>((resolve) =>
      client.once('connecting', (ctx) => {
        control.drop = false; // the network heals as soon as the SDK notices the close
        resolve(ctx);
      }),
    );
    control.drop = true;
    expect(await within(connecting, 'connecting after no pong')).toEqual({ code: 3012, reason: 'no pong' });
    expect(control.dropped).toBeGreaterThanOrEqual(1);

    const reconnected = clientState(client, 'connected');
    const resubscribed = next(sub, 'subscribed');
    await within(reconnected, 'reconnected');
    await within(resubscribed, 'resubscribed');

    // The new connection is healthy: it answers pings and gets publications.
    const pongsSoFar = control.pongs.count;
    await within(control.pongs.until((n) => n >= pongsSoFar + 2), 'pongs on the new connection');
    const publication = next<PublicationContext>(sub, 'publication');
    await api(gw, 'publish', { channel: 'news', data: { alive: true } });
    expect((await within(publication, 'publication after reconnect')).data).toEqual({ alive: true });
    expect(client.state).toBe('connected');
  });
});
