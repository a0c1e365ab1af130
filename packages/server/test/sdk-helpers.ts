import type { Centrifuge, Options, State, Subscription, SubscriptionState } from 'centrifuge';
import { SignJWT } from 'jose';
import { WebSocket } from 'ws';
import { mintConnectToken } from '../src/auth/jwt.js';
import { type RawClient, SECRET, sdk, type TestGateway } from './helpers.js';

/**
 * Extra helpers for the SDK / heartbeat integration tests. Everything here waits on
 * events; the only timers are `within` guards, which only turn a hang into a readable
 * failure and never decide when a test proceeds.
 */

/** Fails with `label` if `promise` has not settled within `ms` (a hang guard, not a synchronisation point). */
export function within<T>(promise: Promise<T>, label: string, ms = 10_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const guard = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${label}`)), ms);
  });
  return Promise.race([promise, guard]).finally(() => clearTimeout(timer));
}

type Listener<T> = (arg: T) => void;
interface Emitter {
  on(event: string, fn: Listener<any>): unknown;
  off(event: string, fn: Listener<any>): unknown;
}

/** Resolves with the first `event` whose argument satisfies `match`. */
export function waitFor<T = any>(emitter: Emitter, event: string, match: (arg: T) => boolean = () => true): Promise<T> {
  return new Promise((resolve) => {
    const fn = (arg: T) => {
      if (!match(arg)) return;
      emitter.off(event, fn);
      resolve(arg);
    };
    emitter.on(event, fn);
  });
}

/** Resolves once the client is in `state` (at once if it already is). */
export function clientState(client: Centrifuge, state: `${State}`): Promise<void> {
  if (client.state === state) return Promise.resolve();
  return waitFor<{ newState: string }>(client, 'state', (ctx) => ctx.newState === state).then(() => undefined);
}

/** Resolves once the subscription is in `state` (at once if it already is). */
export function subState(sub: Subscription, state: `${SubscriptionState}`): Promise<void> {
  if (sub.state === state) return Promise.resolve();
  return waitFor<{ newState: string }>(sub, 'state', (ctx) => ctx.newState === state).then(() => undefined);
}

/** Records every argument of `event` from now on. */
export function record<T = any>(emitter: Emitter, event: string): T[] {
  const seen: T[] = [];
  emitter.on(event, (arg: T) => seen.push(arg));
  return seen;
}

/** A counter whose waiters resolve when a condition over the count holds at an increment. */
export class Counter {
  count = 0;
  private waiters: { match: (n: number) => boolean; resolve: () => void }[] = [];

  inc(): void {
    this.count++;
    this.waiters = this.waiters.filter((w) => {
      if (!w.match(this.count)) return true;
      w.resolve();
      return false;
    });
  }

  /** Resolves at the first increment (or now) where `match(count)` holds. */
  until(match: (n: number) => boolean): Promise<void> {
    if (match(this.count)) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ match, resolve }));
  }
}

/** Signs an HMAC connection token with explicit claims (e.g. an `exp` in the past). */
export function signToken(claims: Record<string, unknown>, alg: 'HS256' | 'HS384' | 'HS512' = 'HS256', secret = SECRET): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg }).sign(new TextEncoder().encode(secret));
}

/** A token of `alg` minted the way a backend would (`fleetgate token`). */
export function tokenWithAlg(user: string, alg: 'HS256' | 'HS384' | 'HS512'): Promise<string> {
  return mintConnectToken(SECRET, { user, ttlSeconds: 3600, algorithm: alg });
}

/** The `exp` claim (unix seconds) of a JWT. */
export function expOf(jwt: string): number {
  const payload = JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString('utf8')) as { exp?: unknown };
  if (typeof payload.exp !== 'number') throw new Error('token has no exp');
  return payload.exp;
}

/**
 * The `ws` WebSocket with a switch that drops the client's pongs (`{}` frames), for
 * simulating a client that stops answering pings; `pongs` counts pongs actually sent.
 */
export function pongDroppingWebSocket(): { control: { drop: boolean; dropped: number; pongs: Counter }; WebSocket: typeof WebSocket } {
  const control = { drop: false, dropped: 0, pongs: new Counter() };
  class PongDroppingWebSocket extends WebSocket {
    override send(data: any, ...rest: any[]): void {
      if (data === '{}') {
        if (control.drop) {
          control.dropped++;
          return;
        }
        control.pongs.inc();
      }
      (WebSocket.prototype.send as (...args: unknown[]) => void).call(this, data, ...rest);
    }
  }
  return { control, WebSocket: PongDroppingWebSocket };
}

/** Tracks clients and gateways of a test so that `cleanup()` (in afterEach) ends them all. */
export class Scope {
  private readonly clients = new Set<Centrifuge>();
  private readonly raws = new Set<RawClient>();
  private readonly gateways = new Set<TestGateway>();

  gateway<G extends TestGateway>(gw: G): G {
    this.gateways.add(gw);
    return gw;
  }

  /** Stops a tracked gateway now (e.g. to restart it); cleanup will not stop it again. */
  async stop(gw: TestGateway): Promise<void> {
    this.gateways.delete(gw);
    await gw.stop();
  }

  client(gw: { wsUrl: string }, options: Partial<Options> = {}): Centrifuge {
    const client = sdk(gw, options);
    this.clients.add(client);
    return client;
  }

  raw<R extends RawClient>(raw: R): R {
    this.raws.add(raw);
    return raw;
  }

  async cleanup(): Promise<void> {
    for (const client of this.clients) {
      client.removeAllListeners();
      client.disconnect();
    }
    for (const raw of this.raws) {
      if (raw.ws.readyState !== WebSocket.CLOSED) raw.ws.terminate();
    }
    this.clients.clear();
    this.raws.clear();
    const gateways = [...this.gateways];
    this.gateways.clear();
    await Promise.all(gateways.map((gw) => gw.stop()));
  }
}
