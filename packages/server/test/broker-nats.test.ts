import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClientInfo } from '@fleetgate/protocol';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BrokerError, type Publication } from '../src/broker/broker.js';
import { createBroker } from '../src/broker/create.js';
import { NatsBroker, type NatsBrokerOptions } from '../src/broker/nats/nats-broker.js';
import { NatsNames } from '../src/broker/nats/names.js';
import { brokerContract, Recorder } from './broker-contract.js';
import { freePort, startNats, type TestServer } from './servers.js';

let nats: TestServer;
beforeAll(async () => {
  nats = await startNats();
});
afterAll(() => nats.stop());

brokerContract('nats', {
  shared: true,
  create: async () => new NatsBroker([nats.url], { clock: Date.now, idempotencyWindowMs: 300_000 }),
  server: {
    kill: () => nats.kill(),
    start: () => nats.start(),
  },
});

describe('nats broker', () => {
  const open: NatsBroker[] = [];
  const started = async (over: Partial<NatsBrokerOptions> = {}, url = nats.url): Promise<[NatsBroker, Recorder]> => {
    const broker = new NatsBroker([url], { clock: Date.now, idempotencyWindowMs: 300_000, ...over });
    const recorder = new Recorder();
    open.push(broker);
    await broker.start(recorder);
    return [broker, recorder];
  };
  afterEach(async () => {
    await Promise.all(open.splice(0).map((b) => b.close()));
  });
  const limits = { size: 100, ttlMs: 60_000, metaTtlMs: 300_000 };
  const pub = (n: number): Publication => ({ data: JSON.stringify({ n }), publishedAt: Date.now() });
  const n = (pubs: Publication[]) => pubs.map((p) => JSON.parse(p.data).n as number);
  let unique = 0;
  const channelName = (label: string) => `nats:${label}:${process.pid}:${++unique}`;

  it('delivers publications of several nodes in offset order, without gaps', async () => {
    const [a] = await started();
    const [b] = await started();
    const [c, rec] = await started();
    const ch = channelName('race');
    await c.subscribe([ch]);
    const sends = [];
    for (let i = 0; i < 100; i++) sends.push(a.publish(ch, pub(i), { history: limits }), b.publish(ch, pub(1000 + i), { history: limits }));
    const results = await Promise.all(sends);
    expect(results.map((r) => r.position?.offset).sort((x, y) => (x ?? 0) - (y ?? 0))).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    await rec.until(() => rec.of(ch).length === 200, '200 publications');
    expect(rec.of(ch).map((p) => p.offset)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
  });

  it('keeps channels whose names mean something in a subject apart', async () => {
    const [broker, rec] = await started();
    const names = ['a.b', 'a.*', 'a.>', 'a b', '*', '>', 'ünï:cødé', '.'];
    const base = channelName('subjects');
    await broker.subscribe(names.map((name) => base + name));
    for (const [i, name] of names.entries()) await broker.publish(base + name, pub(i), { history: limits });
    await rec.until(() => rec.publications.length === names.length, 'one publication per channel');
    for (const [i, name] of names.entries()) {
      expect(n(rec.of(base + name))).toEqual([i]);
      expect(n((await broker.history(base + name, { limit: -1, metaTtlMs: 300_000 })).publications)).toEqual([i]);
    }
  });

  it('follows a stream another node removed and another recreated, applying its limits', async () => {
    const [a] = await started();
    const [b] = await started();
    const ch = channelName('stale');
    const before = await a.publish(ch, pub(0), { history: { ...limits, size: 3 } });
    await b.removeHistory(ch);
    const empty = await b.history(ch, { limit: -1, metaTtlMs: 300_000 });
    const after = [];
    for (let i = 1; i <= 5; i++) after.push(await a.publish(ch, pub(i), { history: { ...limits, size: 3 } }));
    expect(empty.position.epoch).not.toBe(before.position?.epoch);
    expect(after.map((r) => r.position)).toEqual([1, 2, 3, 4, 5].map((offset) => ({ offset, epoch: empty.position.epoch })));
    const read = await b.history(ch, { limit: -1, metaTtlMs: 300_000 });
    expect(read.publications.map((p) => p.offset)).toEqual([3, 4, 5]);
  });

  it('deduplicates publications without history across nodes', async () => {
    const [a, rec] = await started();
    const [b] = await started();
    const ch = channelName('idem-plain');
    await a.subscribe([ch]);
    expect(await a.publish(ch, pub(1), { idempotencyKey: 'k' })).toEqual({ deduplicated: false });
    expect(await b.publish(ch, pub(1), { idempotencyKey: 'k' })).toEqual({ deduplicated: true });
    await a.publish(ch, pub(2), {});
    await rec.until(() => rec.of(ch).length === 2, 'two publications');
    expect(n(rec.of(ch))).toEqual([1, 2]);
  });

  it('remembers an idempotency key for the whole window even when history expires sooner', async () => {
    const [a] = await started();
    const [b] = await started();
    const ch = channelName('idem-ttl');
    const first = await a.publish(ch, pub(1), { idempotencyKey: 'k', history: { ...limits, ttlMs: 200 } });
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await b.publish(ch, pub(1), { idempotencyKey: 'k', history: { ...limits, ttlMs: 200 } })).toEqual({ deduplicated: true, position: first.position });
    expect((await b.history(ch, { limit: 0, metaTtlMs: 300_000 })).position).toEqual(first.position);
  });

  it('forgets an idempotency key after the window', async () => {
    const [broker] = await started({ idempotencyWindowMs: 300 });
    const ch = channelName('idem-window');
    const first = await broker.publish(ch, pub(1), { idempotencyKey: 'k', history: limits });
    expect(await broker.publish(ch, pub(1), { idempotencyKey: 'k', history: limits })).toEqual({ deduplicated: true, position: first.position });
    await new Promise((resolve) => setTimeout(resolve, 600));
    const later = await broker.publish(ch, pub(1), { idempotencyKey: 'k', history: limits });
    expect(later).toEqual({ deduplicated: false, position: { offset: 2, epoch: first.position?.epoch } });
  });

  it('sweeps streams whose position expired, so the next publish starts a new epoch', async () => {
    const [broker] = await started({ sweepIntervalMs: 100 });
    const ch = channelName('sweep');
    const short = { ...limits, ttlMs: 200, metaTtlMs: 300 };
    const first = await broker.publish(ch, pub(1), { history: short });
    const nc = await connect({ servers: nats.url });
    try {
      const jsm = await jetstreamManager(nc);
      // The stream's name ends with its epoch.
      const count = async () => {
        let found = 0;
        for await (const info of jsm.streams.list('fleetgate.h.>')) if (info.config.name.endsWith(`_${first.position?.epoch}`)) found++;
        return found;
      };
      expect(await count()).toBe(1);
      const deadline = Date.now() + 5_000;
      while ((await count()) > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
      expect(await count()).toBe(0);
    } finally {
      await nc.close();
    }
    const next = await broker.publish(ch, pub(2), { history: short });
    expect(next.position?.offset).toBe(1);
    expect(next.position?.epoch).not.toBe(first.position?.epoch);
  });

  it('replaces a stream it cannot use (fan-out elsewhere, e.g. made by another version) with a new epoch', async () => {
    const [broker, rec] = await started();
    const ch = channelName('foreign');
    const nc = await connect({ servers: nats.url });
    try {
      const jsm = await jetstreamManager(nc);
      await jsm.streams.add({ name: `foreign_${process.pid}_${unique}`, subjects: [new NatsNames('fleetgate').history(ch)] });
    } finally {
      await nc.close();
    }
    await broker.subscribe([ch]);
    const published = await broker.publish(ch, pub(1), { history: limits });
    expect(published.position?.offset).toBe(1);
    await rec.until(() => rec.of(ch).length === 1, 'publication');
    expect(rec.of(ch)[0]).toMatchObject({ offset: 1, epoch: published.position?.epoch });
  });

  it('fails publishes in flight when the connection drops, without waiting for their timeout', async () => {
    const [broker, rec] = await started({ requestTimeoutMs: 15_000 });
    const ch = channelName('inflight');
    await broker.publish(ch, pub(0), { history: limits });
    const outcomes = Array.from({ length: 500 }, (_, i) =>
      broker.publish(ch, pub(i), { history: limits }).then(
        () => 'ok',
        (err: unknown) => err,
      ),
    );
    await nats.kill();
    const killed = Date.now();
    try {
      const settled = await Promise.all(outcomes);
      // SIGKILL goes out before the requests are even written: most of them fail.
      expect(settled.filter((o) => o !== 'ok').length).toBeGreaterThan(0);
      for (const outcome of settled) if (outcome !== 'ok') expect(outcome).toBeInstanceOf(BrokerError);
      expect(Date.now() - killed).toBeLessThan(5_000);
    } finally {
      await nats.start();
    }
    await rec.until(() => rec.health.at(-1) === true, 'health up again');
  });

  /** A nats-server of the test's own (no JetStream unless asked), killed after the test. */
  const spawned: ChildProcess[] = [];
  afterEach(() => {
    for (const child of spawned.splice(0)) child.kill('SIGKILL');
  });
  const spawnNats = (args: string[]): Promise<ChildProcess> =>
    new Promise((resolve, reject) => {
      const child = spawn('nats-server', ['-a', '127.0.0.1', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      spawned.push(child);
      let output = '';
      const onData = (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes('Server is ready')) resolve(child);
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
      child.once('exit', (code) => reject(new Error(`nats-server exited with ${code}: ${output}`)));
    });

  it('serves channels without history on a server without JetStream, and refuses history clearly', async () => {
    const port = await freePort();
    await spawnNats(['-p', String(port)]);
    const [broker, rec] = await started({}, `nats://127.0.0.1:${port}`);
    const ch = channelName('plain');
    await broker.subscribe([ch]);
    await broker.publish(ch, pub(1), {});
    await rec.until(() => rec.of(ch).length === 1, 'publication without JetStream');
    await expect(broker.publish(ch, pub(2), { history: limits })).rejects.toThrow(/JetStream/);
    await expect(broker.history(ch, { limit: -1, metaTtlMs: 1000 })).rejects.toThrow(/JetStream/);
  });

  const member = (user: string, client: string, extra: Partial<ClientInfo> = {}): ClientInfo => ({ user, client, ...extra });

  it('counts a user connected to several nodes once, and forgets a closed node at once', async () => {
    const [a] = await started();
    const [b] = await started();
    const [c] = await started();
    const ch = channelName('presence-three');
    await a.presence.add(ch, member('1', 'a1'), 60_000);
    await b.presence.add(ch, member('1', 'b1'), 60_000);
    await b.presence.add(ch, member('2', 'b2'), 60_000);
    await c.presence.add(ch, member('3', 'c1'), 60_000);
    expect(await c.presence.stats(ch)).toEqual({ numClients: 4, numUsers: 3 });
    const all = await a.presence.list(ch, Infinity);
    expect(all.total).toBe(4);
    expect(all.clients.map((i) => i.client).sort()).toEqual(['a1', 'b1', 'b2', 'c1']);
    const some = await b.presence.list(ch, 3);
    expect(some.total).toBe(4);
    expect(some.clients).toHaveLength(3);
    await b.close();
    // It said goodbye: nobody waits for it, and its entries are gone without a TTL.
    const asked = Date.now();
    expect(await c.presence.stats(ch)).toEqual({ numClients: 2, numUsers: 2 });
    expect(Date.now() - asked).toBeLessThan(500);
  });

  it('answers without a node that stops answering, and waits for it only once', async () => {
    const [a] = await started({ presenceWaitMs: 300 });
    const ch = channelName('presence-ghost');
    await a.presence.add(ch, member('1', 'a1'), 60_000);
    const nc = await connect({ servers: nats.url });
    try {
      // A node that said hello and then died (kill -9): it never answers.
      nc.publish(new NatsNames('fleetgate').roster, '+ghost');
      await nc.flush();
      let asked = Date.now();
      expect(await a.presence.stats(ch)).toEqual({ numClients: 1, numUsers: 1 });
      expect(Date.now() - asked).toBeGreaterThanOrEqual(250);
      asked = Date.now();
      expect(await a.presence.stats(ch)).toEqual({ numClients: 1, numUsers: 1 });
      expect(Date.now() - asked).toBeLessThan(250);
    } finally {
      await nc.close();
    }
  });

  it('fails presence queries and join/leave at once while NATS is away, and keeps its own entries', async () => {
    const [a, rec] = await started();
    const ch = channelName('presence-away');
    await a.presence.add(ch, member('1', 'a1'), 60_000);
    await nats.kill();
    try {
      await rec.until(() => rec.health.at(-1) === false, 'health down');
      const asked = Date.now();
      await expect(a.presence.stats(ch)).rejects.toBeInstanceOf(BrokerError);
      await expect(a.presence.list(ch, 10)).rejects.toBeInstanceOf(BrokerError);
      await expect(a.publishJoinLeave(ch, 'join', member('1', 'a1'))).rejects.toBeInstanceOf(BrokerError);
      expect(Date.now() - asked).toBeLessThan(100);
      // The node's own connections are still its own: it keeps track of them meanwhile.
      await a.presence.add(ch, member('2', 'a2'), 60_000);
    } finally {
      await nats.start();
    }
    await rec.until(() => rec.health.at(-1) === true, 'health up again');
    expect(await a.presence.stats(ch)).toEqual({ numClients: 2, numUsers: 2 });
  });

  it('splits presence answers larger than the server max_payload into parts', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fg-nats-'));
    try {
      const port = await freePort();
      writeFileSync(join(dir, 'small.conf'), 'max_payload: 8192\n');
      await spawnNats(['-p', String(port), '-c', join(dir, 'small.conf')]);
      const url = `nats://127.0.0.1:${port}`;
      const [a] = await started({}, url);
      const [b] = await started({}, url);
      const ch = channelName('presence-parts');
      const padding = 'x'.repeat(100);
      // 1,500 users on a (12 KB of hashes, 200 KB of list), ten of them also on b.
      for (let i = 0; i < 1500; i++) await a.presence.add(ch, member(`u${i}`, `a${i}`, { conn_info: { padding } }), 60_000);
      for (let i = 0; i < 10; i++) await b.presence.add(ch, member(`u${i}`, `b${i}`), 60_000);
      expect(await b.presence.stats(ch)).toEqual({ numClients: 1510, numUsers: 1500 });
      const list = await b.presence.list(ch, 2000);
      expect(list.total).toBe(1510);
      expect(new Set(list.clients.map((i) => i.client)).size).toBe(1510);
      expect(list.clients.find((i) => i.client === 'a7')).toEqual(member('u7', 'a7', { conn_info: { padding } }));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('delivers joins and leaves alongside the channel publications, to subscribed nodes only', async () => {
    const [a] = await started();
    const [b, recB] = await started();
    const ch = channelName('joinleave.*.j');
    await b.subscribe([ch]);
    await a.publishJoinLeave(ch, 'join', member('1', 'c1'));
    await a.publish(ch, pub(1), {});
    await a.publish(ch, pub(2), { history: limits });
    await a.publishJoinLeave(ch, 'leave', member('1', 'c1'));
    await recB.until(() => recB.joinLeaves.length === 2 && recB.of(ch).length === 2, 'joins, leaves and publications');
    expect(recB.joinLeaves.map((e) => [e.channel, e.kind, e.info.client])).toEqual([
      [ch, 'join', 'c1'],
      [ch, 'leave', 'c1'],
    ]);
    expect(n(recB.of(ch))).toEqual([1, 2]);
    await b.unsubscribe([ch]);
    await a.publishJoinLeave(ch, 'join', member('2', 'c2'));
    const marker = channelName('marker');
    await b.subscribe([marker]);
    await a.publish(marker, pub(3), {});
    await recB.until(() => recB.of(marker).length === 1, 'marker');
    expect(recB.joinLeaves).toHaveLength(2);
  });

  it('connects to a NATS cluster through several URLs and fails over to another server', async () => {
    const [a, b, routeA, routeB] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
    const routes = `nats://127.0.0.1:${routeA},nats://127.0.0.1:${routeB}`;
    const serverA = await spawnNats(['-p', String(a), '--cluster_name', 'fg', '--cluster', `nats://127.0.0.1:${routeA}`, '--routes', routes]);
    await spawnNats(['-p', String(b), '--cluster_name', 'fg', '--cluster', `nats://127.0.0.1:${routeB}`, '--routes', routes]);
    const [onB, recB] = await started({}, `nats://127.0.0.1:${b}`);
    const both = createBroker(`nats://127.0.0.1:${a}, nats://127.0.0.1:${b}`, { clock: Date.now, idempotencyWindowMs: 300_000 });
    const rec = new Recorder();
    await both.start(rec);
    try {
      const ch = channelName('cluster');
      await onB.subscribe([ch]);
      // Interest crosses the cluster's routes asynchronously: publish until it arrives.
      for (let i = 0; recB.of(ch).length === 0 && i < 100; i++) {
        await both.publish(ch, pub(i), {});
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(recB.of(ch).length).toBeGreaterThan(0);
      await both.subscribe([ch]);
      serverA.kill('SIGKILL');
      // Whichever server it was on, it is on B now (or stayed there): up, and delivering.
      await rec.until(() => rec.health.at(-1) === true, 'health up');
      const before = rec.of(ch).length;
      for (let i = 0; rec.of(ch).length === before && i < 100; i++) {
        await onB.publish(ch, pub(i), {}).catch(() => undefined);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(rec.of(ch).length).toBeGreaterThan(before);
    } finally {
      await both.close();
    }
  });
});
