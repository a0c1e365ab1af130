import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import type { ConfigInput } from '../src/config/schema.js';
import { api, RawClient, startGateway, type TestGateway, token } from './helpers.js';
import { closeFrame, expiredToken, record, trackUpgrades, within } from './raw-helpers.js';

/**
 * Protocol fuzzing over real sockets: 8 attackers send random strings, random JSON, binary
 * garbage and mutations of valid frames (reconnecting whenever the server closes them) while
 * a well-behaved raw client stays subscribed and the backend publishes 50 numbered messages.
 * The run happens once in beforeAll; each `it` checks one property of its outcome.
 * Reproduce a run with FUZZ_SEED=<seed> (printed in failure messages).
 */

const SEED = Number(process.env['FUZZ_SEED'] ?? 20_240_611);
const ATTACKERS = 8;
const FRAMES_PER_ATTACKER = 1200;
const PUBLICATIONS = 50;
/** Attackers stop here even if they have not sent their frames (then the frame-count check fails). */
const TIME_CAP_MS = 12_000;
const MAX_FRAME_BYTES = 16_384;

/** Close codes a misbehaving client may legitimately get (PROTOCOL-NOTES §4), plus a normal close. */
const EXPECTED_CLOSES = new Set([1000, 1009, 3005, 3013, 3500, 3501, 3502, 3508]);

const config: ConfigInput = {
  client: { staleCloseDelay: '1s', pingInterval: '60s', maxFrameBytes: MAX_FRAME_BYTES },
  channel: { namespaces: { fuzz: { allowSubscribeForClient: true, allowPublishForSubscriber: true } } },
};

// ---------------------------------------------------------------- randomness

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class Random {
  constructor(readonly next: () => number) {}
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)] as T;
  }
}

const jsonPool = fc.sample(fc.jsonValue({ maxDepth: 4 }), { seed: SEED, numRuns: 600 }).map((v) => JSON.stringify(v));
const anythingPool = fc
  .sample(fc.anything({ maxDepth: 3, withNullPrototype: true, withObjectString: true }), { seed: SEED + 1, numRuns: 600 })
  .map((v) => {
    try {
      return JSON.stringify(v);
    } catch {
      return undefined;
    }
  })
  .filter((s): s is string => typeof s === 'string');
const stringPool = fc.sample(fc.oneof(fc.string({ maxLength: 80 }), fc.string({ unit: 'binary', maxLength: 80 })), { seed: SEED + 2, numRuns: 600 });

const interestingChars = ['{', '}', '[', ']', '"', '\\', ':', ',', '\n', '\r', '\u0000', '\ud800', '\udfff', '\u2028', 'é', '0', '-', 'e', ' '];
const weirdValues: unknown[] = [null, true, false, 0, -1, 1.5, 2 ** 53, 2 ** 64, 1e308, -1e308, '', 'x', '\n', '9', [], {}, [1, [2, [3]]], { a: { b: { c: {} } } }];
const weirdIds: unknown[] = [0, -1, 1.5, 2 ** 53, 2 ** 53 + 2, 1e21, '1', null, true, [], {}, Number.MAX_SAFE_INTEGER];
const methods = ['connect', 'subscribe', 'unsubscribe', 'publish', 'presence', 'presence_stats', 'history', 'refresh', 'sub_refresh', 'rpc', 'send', 'ping', 'foo', 'id'];

interface Tokens {
  readonly valid: string;
  readonly expired: string;
  readonly otherUser: string;
}

function deepNesting(depth: number): string {
  return `${'['.repeat(depth)}${']'.repeat(depth)}`;
}

/** A command the server would accept in the right state, as an object. */
function validCommand(r: Random, tokens: Tokens): Record<string, unknown> {
  const id = 1 + r.int(1000);
  const channel = r.pick(['fuzz:a', 'fuzz:b', 'fuzz:c', 'news', '$secret', 'fuzz:room#u1,u2', `fuzz:${r.int(100)}`]);
  switch (r.int(12)) {
    case 0:
      return { id, connect: { token: r.pick([tokens.valid, tokens.valid, tokens.expired]), name: 'js', subs: { [channel]: { recover: true, offset: 1, epoch: 'e' } } } };
    case 1:
    case 2:
      return { id, subscribe: { channel, flag: 1, recover: r.chance(0.3), offset: r.int(10), epoch: 'abc' } };
    case 3:
      return { id, unsubscribe: { channel } };
    case 4:
    case 5:
      return { id, publish: { channel, data: JSON.parse(r.pick(jsonPool)) as unknown } };
    case 6:
      return { id, presence: { channel } };
    case 7:
      return { id, history: { channel, limit: 10, since: { offset: 1, epoch: 'x' }, reverse: r.chance(0.5) } };
    case 8:
      return { id, refresh: { token: r.pick([tokens.valid, tokens.expired, tokens.otherUser]) } };
    case 9:
      return { id, sub_refresh: { channel, token: tokens.valid } };
    case 10:
      return { id, rpc: { method: 'getUser', data: { id: 1 } } };
    default:
      return r.chance(0.5) ? { send: { data: {} } } : {};
  }
}

/** Replaces, deletes or adds something at a random place of a JSON object tree. */
function mutateStructure(r: Random, value: Record<string, unknown>): void {
  const objects: Record<string, unknown>[] = [];
  const walk = (v: unknown) => {
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) {
      objects.push(v as Record<string, unknown>);
      for (const child of Object.values(v)) walk(child);
    }
  };
  walk(value);
  const target = r.pick(objects);
  const keys = Object.keys(target);
  const key = keys.length > 0 && r.chance(0.8) ? r.pick(keys) : r.pick([...methods, 'channel', 'token', 'data', 'zzz']);
  switch (r.int(5)) {
    case 0:
      delete target[key];
      break;
    case 1:
      target[key] = JSON.parse(r.pick(jsonPool)) as unknown;
      break;
    case 2:
      target['id'] = r.pick(weirdIds);
      break;
    case 3:
      target[r.pick(methods)] = r.chance(0.5) ? {} : r.pick(weirdValues);
      break;
    default:
      target[key] = r.pick(weirdValues);
  }
}

/** Flips, inserts, deletes or duplicates characters of a frame. */
function mutateText(r: Random, text: string): string {
  let s = text;
  const edits = 1 + r.int(4);
  for (let i = 0; i < edits; i++) {
    const at = r.int(s.length + 1);
    const char = r.chance(0.6) ? r.pick(interestingChars) : String.fromCharCode(r.int(0x10000));
    switch (r.int(5)) {
      case 0:
        s = s.slice(0, at) + char + s.slice(at + 1);
        break;
      case 1:
        s = s.slice(0, at) + char + s.slice(at);
        break;
      case 2:
        s = s.slice(0, at) + s.slice(at + 1 + r.int(4));
        break;
      case 3:
        s = s.slice(0, at) + s.slice(at, at + 1 + r.int(20)) + s.slice(at);
        break;
      default:
        s = s.slice(0, at);
    }
  }
  return s;
}

type Category = 'string' | 'json' | 'anything' | 'binary' | 'mutated-text' | 'mutated-structure' | 'valid' | 'pipeline' | 'nested' | 'huge-id' | 'oversize';

function randomFrame(r: Random, tokens: Tokens): { category: Category; data: string | Buffer } {
  const roll = r.int(100);
  if (roll < 10) return { category: 'string', data: r.pick(stringPool) };
  if (roll < 20) return { category: 'json', data: r.pick(jsonPool) };
  if (roll < 26) return { category: 'anything', data: r.pick(anythingPool) };
  if (roll < 30) return { category: 'binary', data: randomBytes(1 + r.int(64)) };
  if (roll < 48) return { category: 'mutated-text', data: mutateText(r, JSON.stringify(validCommand(r, tokens))) };
  if (roll < 66) {
    const command = validCommand(r, tokens);
    mutateStructure(r, command);
    return { category: 'mutated-structure', data: JSON.stringify(command) };
  }
  if (roll < 80) return { category: 'valid', data: JSON.stringify(validCommand(r, tokens)) };
  if (roll < 88) {
    const lines = Array.from({ length: 2 + r.int(4) }, () => {
      const line = JSON.stringify(validCommand(r, tokens));
      return r.chance(0.3) ? mutateText(r, line) : line;
    });
    return { category: 'pipeline', data: lines.join(r.pick(['\n', '\n', '\n\n', '\r\n'])) + (r.chance(0.2) ? '\n' : '') };
  }
  if (roll < 92) {
    const nest = deepNesting(1 + r.int(3000));
    const frame = r.pick([
      `{"id":${1 + r.int(99)},"publish":{"channel":"fuzz:a","data":${nest}}}`,
      `{"id":${1 + r.int(99)},"subscribe":{"channel":${nest}}}`,
      `{"id":${1 + r.int(99)},"connect":{"token":"${tokens.valid}","subs":{"fuzz:a":${nest}}}}`,
      nest,
    ]);
    return { category: 'nested', data: frame };
  }
  if (roll < 98) {
    const id = r.pick(['9007199254740993', '1e400', '-0', '18446744073709551616', '1.0000000000000002', '00001', '0x10', 'Infinity', 'NaN']);
    return { category: 'huge-id', data: `{"id":${id},"subscribe":{"channel":"fuzz:a"}}` };
  }
  return { category: 'oversize', data: JSON.stringify({ id: 7, publish: { channel: 'fuzz:a', data: 'x'.repeat(MAX_FRAME_BYTES) } }) };
}

// ---------------------------------------------------------------- the run

interface Outcome {
  readonly framesPerAttacker: number[];
  readonly categories: Map<Category, number>;
  readonly closes: Map<string, number>;
  readonly failedOpens: string[];
  readonly connections: number;
  readonly elapsedMs: number;
  /** Server-side attacker sockets still open 3 s after the last attacker closed its side. */
  readonly lingering: number;
  /** How many of those have their reading paused (the session paused the socket while frames queued). */
  readonly lingeringPaused: number;
  readonly statsAfter: ReturnType<TestGateway['gateway']['node']['stats']>;
}

let gw: TestGateway;
let healthy: RawClient;
let healthyLog: ReturnType<typeof record>;
let healthyChannel: string;
let upgrades: ReturnType<typeof trackUpgrades>;
let outcome: Outcome;
const extraClients: RawClient[] = [];
const serverSockets = new Set<Socket>();

/** Resolves once the attackers have sent `n` frames in total, or have stopped. */
class Progress {
  sent = 0;
  done = false;
  private waiters: { n: number; resolve: () => void }[] = [];
  add(): void {
    this.sent++;
    this.check();
  }
  finish(): void {
    this.done = true;
    this.check();
  }
  reached(n: number): Promise<void> {
    return new Promise((resolve) => {
      this.waiters.push({ n, resolve });
      this.check();
    });
  }
  private check(): void {
    this.waiters = this.waiters.filter((w) => {
      if (this.sent < w.n && !this.done) return true;
      w.resolve();
      return false;
    });
  }
}

interface Tally {
  readonly framesPerAttacker: number[];
  readonly categories: Map<Category, number>;
  readonly closes: Map<string, number>;
  readonly failedOpens: string[];
  connections: number;
}

async function attack(index: number, tokens: Tokens, progress: Progress, deadline: number, result: Tally): Promise<void> {
  const r = new Random(mulberry32(SEED * 31 + index));
  let sent = 0;
  const send = (ws: WebSocket, category: Category, data: string | Buffer) => {
    if (ws.readyState !== WebSocket.OPEN) return false;
    ws.send(data, { binary: Buffer.isBuffer(data) });
    sent++;
    result.framesPerAttacker[index] = sent;
    result.categories.set(category, (result.categories.get(category) ?? 0) + 1);
    progress.add();
    return true;
  };
  while (sent < FRAMES_PER_ATTACKER && Date.now() < deadline) {
    const ws = new WebSocket(gw.wsUrl);
    ws.on('error', () => {});
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    const isOpen = await Promise.race([new Promise<boolean>((resolve) => ws.once('open', () => resolve(true))), closed.then(() => false)]);
    if (!isOpen) {
      result.failedOpens.push(`attacker ${index}: socket closed before open`);
      continue;
    }
    result.connections++;
    // The server's close code as soon as its close frame arrives (or the TCP close, without one).
    const ending = Promise.race([closeFrame(ws).then((f) => f.code), closed]);
    if (r.chance(0.5)) send(ws, 'valid', JSON.stringify({ id: 1, connect: { token: tokens.valid } }));
    const burst = 1 + r.int(r.chance(0.1) ? 100 : 30);
    for (let i = 0; i < burst; i++) {
      const frame = randomFrame(r, tokens);
      if (!send(ws, frame.category, frame.data)) break;
      // Sometimes let the server catch up, so frames also arrive one by one.
      if (r.chance(0.2)) await new Promise((resolve) => setImmediate(resolve));
    }
    send(ws, 'string', 'terminal garbage: not json');
    let code: string;
    try {
      code = String(await within(ending, 4000, 'a close'));
    } catch {
      code = 'not closed within 4 s';
    }
    result.closes.set(code, (result.closes.get(code) ?? 0) + 1);
    ws.terminate();
  }
}

async function publisher(progress: Progress, total: number, published: number[]): Promise<void> {
  for (let seq = 1; seq <= PUBLICATIONS; seq++) {
    await progress.reached(Math.floor((seq * total) / (PUBLICATIONS + 2)));
    const reply = await api(gw, 'publish', { channel: healthyChannel, data: { seq } });
    if (JSON.stringify(reply.json) !== '{"result":{}}') throw new Error(`publish ${seq} failed: ${JSON.stringify(reply.json)}`);
    published.push(seq);
  }
}

beforeAll(async () => {
  gw = await startGateway(config);
  gw.server.on('connection', (s: Socket) => {
    serverSockets.add(s);
    s.once('close', () => serverSockets.delete(s));
  });
  upgrades = trackUpgrades(gw);
  const tokens: Tokens = { valid: await token('attacker'), expired: await expiredToken('attacker'), otherUser: await token('someone-else') };

  healthyChannel = `fuzz:healthy-${randomBytes(8).toString('hex')}`;
  healthy = await RawClient.open(gw.wsUrl);
  healthy.ws.on('error', () => {});
  healthyLog = record(healthy);
  healthy.ws.on('message', (data: Buffer) => {
    if (data.toString() === '{}') healthy.send('{}'); // answer server pings, should any come
  });
  expect(await healthy.connect(await token('healthy'))).toMatchObject({ kind: 'result', method: 'connect' });
  healthy.send({ id: 2, subscribe: { channel: healthyChannel } });
  expect(await healthy.nextNonPing()).toMatchObject({ kind: 'result', id: 2, method: 'subscribe' });

  const progress = new Progress();
  const result: Tally = {
    framesPerAttacker: Array.from({ length: ATTACKERS }, () => 0),
    categories: new Map(),
    closes: new Map(),
    failedOpens: [],
    connections: 0,
  };
  const started = Date.now();
  const published: number[] = [];
  const publishing = publisher(progress, ATTACKERS * FRAMES_PER_ATTACKER, published);
  await Promise.all(Array.from({ length: ATTACKERS }, (_, i) => attack(i, tokens, progress, started + TIME_CAP_MS, result)));
  progress.finish();
  await publishing;
  const elapsedMs = Date.now() - started;

  // Every attacker has closed its side; the server should let go of its sockets too.
  let lingering = 0;
  let lingeringPaused = 0;
  try {
    await within(upgrades.drained(1), 3000, 'attacker sockets to close');
  } catch {
    lingering = upgrades.open.size - 1;
    lingeringPaused = [...upgrades.open].filter((socket) => (socket as Socket).isPaused()).length;
  }
  outcome = { ...result, elapsedMs, lingering, lingeringPaused, statsAfter: gw.gateway.node.stats() };
}, 30_000);

afterAll(async () => {
  healthy?.ws.terminate();
  for (const c of extraClients) c.ws.terminate();
  for (const s of serverSockets) s.destroy();
  await gw?.stop();
});

const describeRun = () => `seed ${SEED}, ${outcome.connections} connections, closes ${JSON.stringify(Object.fromEntries(outcome.closes))}`;

describe(`fuzzing the client protocol (seed ${SEED})`, () => {
  it('the attackers sent at least 5000 frames of every kind', () => {
    const total = outcome.framesPerAttacker.reduce((a, b) => a + b, 0);
    expect(total, describeRun()).toBeGreaterThanOrEqual(5000);
    expect(outcome.framesPerAttacker.every((n) => n >= FRAMES_PER_ATTACKER), `frames per attacker ${outcome.framesPerAttacker.join(',')} in ${outcome.elapsedMs} ms`).toBe(true);
    for (const category of ['string', 'json', 'anything', 'binary', 'mutated-text', 'mutated-structure', 'valid', 'pipeline', 'nested', 'huge-id', 'oversize'] as const) {
      expect(outcome.categories.get(category) ?? 0, category).toBeGreaterThan(0);
    }
    expect(outcome.failedOpens).toEqual([]);
  });

  it('every attacker connection was closed by the server with a documented code', () => {
    const unexpected = [...outcome.closes.entries()].filter(([code]) => !EXPECTED_CLOSES.has(Number(code)));
    expect(unexpected, describeRun()).toEqual([]);
    // The fuzzer reached the interesting rules, not just the JSON parser.
    for (const code of ['3500', '3501', '1009']) expect(outcome.closes.get(code) ?? 0, `${code} ${describeRun()}`).toBeGreaterThan(0);
  });

  it('the well-behaved client got all 50 API publications, in order, and nothing else', async () => {
    const pubs = () => healthyLog.filter((m) => m.kind === 'push');
    // Deliveries of the last publications may still be in flight; wait for the 50th (event-driven).
    while (pubs().length < PUBLICATIONS) await within(healthy.next(), 5000, `publication ${pubs().length + 1}`);
    const seqs = pubs().map((m) => (m.kind === 'push' && m.push.type === 'pub' && m.push.channel === healthyChannel ? (m.push.body.data as { seq: number }).seq : m));
    expect(seqs).toEqual(Array.from({ length: PUBLICATIONS }, (_, i) => i + 1));
    expect(healthy.ws.readyState).toBe(WebSocket.OPEN);
  });

  it('the gateway is alive and a new client can connect, subscribe and receive an API publication', async () => {
    expect((await fetch(`${gw.baseUrl}/health`)).status).toBe(200);
    const fresh = await RawClient.open(gw.wsUrl);
    extraClients.push(fresh);
    expect(await fresh.connect(await token('late'))).toMatchObject({ kind: 'result', id: 1, method: 'connect' });
    fresh.send({ id: 2, subscribe: { channel: 'fuzz:after' } });
    expect(await fresh.nextNonPing()).toMatchObject({ kind: 'result', id: 2, method: 'subscribe' });
    expect((await api(gw, 'publish', { channel: 'fuzz:after', data: { ok: true } })).json).toEqual({ result: {} });
    expect(await within(fresh.nextNonPing(), 3000, 'the publication')).toMatchObject({
      kind: 'push',
      push: { type: 'pub', channel: 'fuzz:after', body: { data: { ok: true } } },
    });
  });

  it('no attacker session or subscription outlived its connection', () => {
    // Only the well-behaved client is left, in its one channel.
    expect(outcome.statsAfter).toEqual({ clients: 1, users: 1, channels: 1, subscriptions: 1 });
  });

  it('the server released every attacker socket after closing it', () => {
    const detail = `server-side sockets still open 3 s after the attackers closed theirs, ${outcome.lingeringPaused} of them paused (${describeRun()})`;
    expect(outcome.lingering, detail).toBe(0);
  });
});
