import { afterEach, describe, expect, it } from 'vitest';
import type { ClientInfo } from '@fleetgate/protocol';
import type { Broker, BrokerHandler, HistoryLimits, JoinLeave, Publication } from '../src/broker/broker.js';

/** Records what a broker tells its node and lets a test wait for it. */
export class Recorder implements BrokerHandler {
  readonly publications: { channel: string; pub: Publication }[] = [];
  readonly joinLeaves: { channel: string; kind: JoinLeave; info: ClientInfo }[] = [];
  readonly controls: string[] = [];
  resyncs = 0;
  health: boolean[] = [];
  private waiters: (() => void)[] = [];

  onPublication(channel: string, pub: Publication): void {
    this.publications.push({ channel, pub });
    this.wake();
  }
  onJoinLeave(channel: string, kind: JoinLeave, info: ClientInfo): void {
    this.joinLeaves.push({ channel, kind, info });
    this.wake();
  }
  onControl(message: string): void {
    this.controls.push(message);
    this.wake();
  }
  onResync(): void {
    this.resyncs += 1;
    this.wake();
  }
  onHealth(up: boolean): void {
    this.health.push(up);
    this.wake();
  }

  of(channel: string): Publication[] {
    return this.publications.filter((p) => p.channel === channel).map((p) => p.pub);
  }

  /** Resolves once `check` holds; fails with `label` after 10 s instead of hanging. */
  async until(check: () => boolean, label: string): Promise<void> {
    const deadline = Date.now() + 10_000;
    while (!check()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${label}`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 50).unref();
      });
    }
  }

  private wake(): void {
    for (const wake of this.waiters.splice(0)) wake();
  }
}

export interface BrokerUnderTest {
  create(): Promise<Broker>;
  /** Brokers that connect nodes: two instances on one server see each other. */
  readonly shared: boolean;
  /** The broker server, for fault tests: killed and started again on the same address. */
  readonly server?: { kill(): Promise<void>; start(): Promise<void> };
}

const limits = (over: Partial<HistoryLimits> = {}): HistoryLimits => ({ size: 100, ttlMs: 60_000, metaTtlMs: 300_000, ...over });
const pub = (n: number, extra: Partial<Publication> = {}): Publication => ({ data: JSON.stringify({ n }), publishedAt: Date.now(), ...extra });
let unique = 0;
const channelName = (label: string) => `test:${label}:${process.pid}:${++unique}`;

/** One contract, every broker: memory, Redis, NATS. */
export function brokerContract(name: string, target: BrokerUnderTest): void {
  describe(`broker contract: ${name}`, () => {
    const open: Broker[] = [];
    const started = async (): Promise<[Broker, Recorder]> => {
      const broker = await target.create();
      const recorder = new Recorder();
      open.push(broker);
      await broker.start(recorder);
      return [broker, recorder];
    };
    afterEach(async () => {
      await Promise.all(open.splice(0).map((b) => b.close()));
    });

    it('reports itself healthy once started', async () => {
      const [, rec] = await started();
      await rec.until(() => rec.health.at(-1) === true, 'health up');
    });

    it('delivers a subscribed channel in publish order, with payload, info and tags intact', async () => {
      const [broker, rec] = await started();
      const ch = channelName('order');
      await broker.subscribe([ch]);
      const info = { user: '42', client: 'c1', conn_info: { name: 'Ann' } };
      for (let i = 1; i <= 200; i++) await broker.publish(ch, pub(i, i === 1 ? { info, tags: { k: 'v' } } : {}), {});
      await rec.until(() => rec.of(ch).length === 200, '200 publications');
      expect(rec.of(ch).map((p) => JSON.parse(p.data).n)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
      expect(rec.of(ch)[0]).toMatchObject({ info, tags: { k: 'v' } });
      expect(rec.of(ch)[0]?.offset).toBeUndefined();
    });

    it('delivers only channels with interest, and stops after unsubscribe', async () => {
      const [broker, rec] = await started();
      const [wanted, other] = [channelName('wanted'), channelName('other')];
      await broker.subscribe([wanted]);
      await broker.publish(other, pub(1), {});
      await broker.publish(wanted, pub(2), {});
      await rec.until(() => rec.of(wanted).length === 1, 'wanted publication');
      await broker.unsubscribe([wanted]);
      await broker.publish(wanted, pub(3), {});
      const marker = channelName('marker');
      await broker.subscribe([marker]);
      await broker.publish(marker, pub(4), {});
      await rec.until(() => rec.of(marker).length === 1, 'marker publication');
      expect(rec.of(other)).toEqual([]);
      expect(rec.of(wanted).map((p) => JSON.parse(p.data).n)).toEqual([2]);
    });

    it('gives history publications consecutive offsets within one epoch, as delivered', async () => {
      const [broker, rec] = await started();
      const ch = channelName('offsets');
      await broker.subscribe([ch]);
      const results = [];
      for (let i = 1; i <= 5; i++) results.push(await broker.publish(ch, pub(i), { history: limits() }));
      const epoch = results[0]?.position?.epoch;
      expect(epoch).toMatch(/^\w+$/);
      expect(results.map((r) => r.position)).toEqual([1, 2, 3, 4, 5].map((offset) => ({ offset, epoch })));
      await rec.until(() => rec.of(ch).length === 5, 'five publications');
      expect(rec.of(ch).map((p) => [p.offset, p.epoch])).toEqual([1, 2, 3, 4, 5].map((o) => [o, epoch]));
    });

    it('reads history: all, limited, since an offset, reversed, position only', async () => {
      const [broker] = await started();
      const ch = channelName('history');
      for (let i = 1; i <= 10; i++) await broker.publish(ch, pub(i), { history: limits() });
      const n = (pubs: Publication[]) => pubs.map((p) => JSON.parse(p.data).n);
      const all = await broker.history(ch, { limit: -1, metaTtlMs: 300_000 });
      expect(n(all.publications)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      expect(all.publications.map((p) => p.offset)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      expect(all.position.offset).toBe(10);
      expect(n((await broker.history(ch, { limit: 3, metaTtlMs: 300_000 })).publications)).toEqual([1, 2, 3]);
      expect(n((await broker.history(ch, { sinceOffset: 7, limit: -1, metaTtlMs: 300_000 })).publications)).toEqual([8, 9, 10]);
      expect(n((await broker.history(ch, { limit: 2, reverse: true, metaTtlMs: 300_000 })).publications)).toEqual([10, 9]);
      expect(n((await broker.history(ch, { sinceOffset: 4, limit: -1, reverse: true, metaTtlMs: 300_000 })).publications)).toEqual([3, 2, 1]);
      const top = await broker.history(ch, { limit: 0, metaTtlMs: 300_000 });
      expect(top).toEqual({ publications: [], position: all.position });
    });

    it('trims history to its size and keeps counting offsets', async () => {
      const [broker] = await started();
      const ch = channelName('trim');
      for (let i = 1; i <= 8; i++) await broker.publish(ch, pub(i), { history: limits({ size: 3 }) });
      const read = await broker.history(ch, { limit: -1, metaTtlMs: 300_000 });
      expect(read.publications.map((p) => p.offset)).toEqual([6, 7, 8]);
      expect(read.position.offset).toBe(8);
    });

    it('expires publications after the history TTL but keeps the position', async () => {
      const [broker] = await started();
      const ch = channelName('ttl');
      const first = await broker.publish(ch, pub(1), { history: limits({ ttlMs: 300 }) });
      await broker.publish(ch, pub(2), { history: limits({ ttlMs: 300 }) });
      const deadline = Date.now() + 5_000;
      let read = await broker.history(ch, { limit: -1, metaTtlMs: 300_000 });
      while (read.publications.length > 0 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        read = await broker.history(ch, { limit: -1, metaTtlMs: 300_000 });
      }
      expect(read.publications).toEqual([]);
      expect(read.position).toEqual({ offset: 2, epoch: first.position?.epoch });
    });

    it('starts a new epoch once the stream position expires, or after removeHistory', async () => {
      const [broker] = await started();
      const ch = channelName('meta');
      const first = await broker.publish(ch, pub(1), { history: limits({ ttlMs: 200, metaTtlMs: 400 }) });
      const deadline = Date.now() + 5_000;
      let position = (await broker.history(ch, { limit: 0, metaTtlMs: 400 })).position;
      while (position.epoch === first.position?.epoch && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        position = (await broker.history(ch, { limit: 0, metaTtlMs: 400 })).position;
      }
      expect(position.epoch).not.toBe(first.position?.epoch);
      expect(position.offset).toBe(0);

      const removed = channelName('removed');
      const before = await broker.publish(removed, pub(1), { history: limits() });
      await broker.removeHistory(removed);
      const after = await broker.publish(removed, pub(2), { history: limits() });
      expect(after.position?.offset).toBe(1);
      expect(after.position?.epoch).not.toBe(before.position?.epoch);
    });

    it('gives a channel that was never published a stable position at offset 0', async () => {
      const [broker] = await started();
      const ch = channelName('empty');
      const a = await broker.history(ch, { limit: -1, metaTtlMs: 300_000 });
      const b = await broker.history(ch, { limit: -1, metaTtlMs: 300_000 });
      expect(a.position.offset).toBe(0);
      expect(b.position).toEqual(a.position);
      const published = await broker.publish(ch, pub(1), { history: limits() });
      expect(published.position).toEqual({ offset: 1, epoch: a.position.epoch });
    });

    it('publishes once per idempotency key and answers the repeat with the same position', async () => {
      const [broker, rec] = await started();
      const ch = channelName('idem');
      await broker.subscribe([ch]);
      const first = await broker.publish(ch, pub(1), { idempotencyKey: 'k1', history: limits() });
      const again = await broker.publish(ch, pub(1), { idempotencyKey: 'k1', history: limits() });
      await broker.publish(ch, pub(2), { history: limits() });
      await rec.until(() => rec.of(ch).length === 2, 'two publications');
      expect(first).toEqual({ deduplicated: false, position: { offset: 1, epoch: first.position?.epoch } });
      expect(again).toEqual({ deduplicated: true, position: first.position });
      expect(rec.of(ch).map((p) => JSON.parse(p.data).n)).toEqual([1, 2]);
    });

    it('sends control messages to every node, itself included', async () => {
      const [a, recA] = await started();
      const [, recB] = target.shared ? await started() : [a, recA];
      await a.publishControl('{"hello":1}');
      await recA.until(() => recA.controls.includes('{"hello":1}'), 'own control message');
      await recB.until(() => recB.controls.includes('{"hello":1}'), 'control message on the other node');
    });

    const member = (user: string, client: string, name?: string): ClientInfo => ({ user, client, ...(name !== undefined && { conn_info: { name } }) });

    it('keeps presence: counts clients and distinct users without listing, lists up to a limit', async () => {
      const [broker] = await started();
      const ch = channelName('presence');
      await broker.presence.add(ch, member('42', 'c1', 'Ann'), 60_000);
      await broker.presence.add(ch, member('42', 'c2'), 60_000);
      await broker.presence.add(ch, member('7', 'c3'), 60_000);
      await broker.presence.add(ch, member('42', 'c1', 'Ann'), 60_000); // a refresh, not a new member
      expect(await broker.presence.stats(ch)).toEqual({ numClients: 3, numUsers: 2 });
      const all = await broker.presence.list(ch, 10);
      expect(all.total).toBe(3);
      expect(all.clients.map((c) => c.client).sort()).toEqual(['c1', 'c2', 'c3']);
      expect(all.clients.find((c) => c.client === 'c1')).toEqual(member('42', 'c1', 'Ann'));
      const some = await broker.presence.list(ch, 2);
      expect(some.total).toBe(3);
      expect(some.clients).toHaveLength(2);
      await broker.presence.remove(ch, member('42', 'c1'));
      await broker.presence.remove(ch, member('42', 'c1')); // twice is harmless
      expect(await broker.presence.stats(ch)).toEqual({ numClients: 2, numUsers: 2 });
      await broker.presence.remove(ch, member('42', 'c2'));
      expect(await broker.presence.stats(ch)).toEqual({ numClients: 1, numUsers: 1 });
      expect(await broker.presence.stats(channelName('nobody'))).toEqual({ numClients: 0, numUsers: 0 });
    });

    it('drops presence entries that are not refreshed within their TTL', async () => {
      const [broker] = await started();
      const ch = channelName('presence-ttl');
      await broker.presence.add(ch, member('1', 'gone'), 300);
      await broker.presence.add(ch, member('2', 'stays'), 60_000);
      const deadline = Date.now() + 5_000;
      let stats = await broker.presence.stats(ch);
      while (stats.numClients !== 1 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        stats = await broker.presence.stats(ch);
      }
      expect(stats).toEqual({ numClients: 1, numUsers: 1 });
      expect((await broker.presence.list(ch, 10)).clients.map((c) => c.client)).toEqual(['stays']);
    });

    it('delivers join and leave events to nodes subscribed to the channel', async () => {
      const [a, recA] = await started();
      const [b, recB] = target.shared ? await started() : [a, recA];
      const ch = channelName('joinleave');
      await b.subscribe([ch]);
      await a.publishJoinLeave(ch, 'join', member('42', 'c1', 'Ann'));
      await a.publishJoinLeave(ch, 'leave', member('42', 'c1', 'Ann'));
      await a.publishJoinLeave(channelName('unwatched'), 'join', member('9', 'c9'));
      await recB.until(() => recB.joinLeaves.length >= 2, 'join and leave');
      expect(recB.joinLeaves).toEqual([
        { channel: ch, kind: 'join', info: member('42', 'c1', 'Ann') },
        { channel: ch, kind: 'leave', info: member('42', 'c1', 'Ann') },
      ]);
    });

    if (target.shared) {
      it('shares presence between nodes', async () => {
        const [a] = await started();
        const [b] = await started();
        const ch = channelName('presence-fleet');
        await a.presence.add(ch, member('1', 'on-a'), 60_000);
        await b.presence.add(ch, member('1', 'on-b'), 60_000);
        expect(await a.presence.stats(ch)).toEqual({ numClients: 2, numUsers: 1 });
        expect((await b.presence.list(ch, 10)).clients.map((c) => c.client).sort()).toEqual(['on-a', 'on-b']);
      });

      it('connects nodes: what one publishes, the other receives, with the same offsets', async () => {
        const [a] = await started();
        const [b, recB] = await started();
        const ch = channelName('fleet');
        await b.subscribe([ch]);
        const published = await a.publish(ch, pub(1), { history: limits() });
        await recB.until(() => recB.of(ch).length === 1, 'publication on the other node');
        expect(recB.of(ch)[0]).toMatchObject({ offset: 1, epoch: published.position?.epoch });
      });
    }

    const server = target.server;
    if (server !== undefined) {
      it('survives a broker restart: reports down then up, resyncs, and delivers again', async () => {
        const [broker, rec] = await started();
        const ch = channelName('restart');
        await broker.subscribe([ch]);
        await rec.until(() => rec.health.at(-1) === true, 'health up');
        await server.kill();
        await rec.until(() => rec.health.at(-1) === false, 'health down');
        await server.start();
        await rec.until(() => rec.health.at(-1) === true, 'health up again');
        await rec.until(() => rec.resyncs > 0, 'resync after reconnect');
        await broker.publish(ch, pub(1), {});
        await rec.until(() => rec.of(ch).length === 1, 'publication after restart');
      });

      it('fails publishes while the broker is away instead of losing them', async () => {
        const [broker, rec] = await started();
        await rec.until(() => rec.health.at(-1) === true, 'health up');
        await server.kill();
        try {
          await rec.until(() => rec.health.at(-1) === false, 'health down');
          await expect(broker.publish(channelName('away'), pub(1), { history: limits() })).rejects.toThrow();
        } finally {
          await server.start();
        }
        await rec.until(() => rec.health.at(-1) === true, 'health up again');
      });
    }
  });
}
