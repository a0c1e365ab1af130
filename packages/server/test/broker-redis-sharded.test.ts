import { afterAll, beforeAll, expect, it } from 'vitest';
import { RedisBroker } from '../src/broker/redis/redis-broker.js';
import { brokerContract, Recorder } from './broker-contract.js';
import { startRedis, type TestServer } from './servers.js';

let shards: TestServer[] = [];
beforeAll(async () => {
  shards = await Promise.all([startRedis(), startRedis()]);
});
afterAll(() => Promise.all(shards.map((s) => s.stop())));

const create = async () => new RedisBroker(shards.map((s) => s.url), { clock: Date.now, idempotencyWindowMs: 300_000 });

brokerContract('redis, two shards', { shared: true, create });

it('spreads channels over both shards and keeps each channel on one of them', async () => {
  const broker = await create();
  const recorder = new Recorder();
  await broker.start(recorder);
  try {
    const channels = Array.from({ length: 40 }, (_, i) => `spread:${process.pid}:${i}`);
    for (const ch of channels) await broker.publish(ch, { data: '1', publishedAt: Date.now() }, { history: { size: 10, ttlMs: 60_000, metaTtlMs: 60_000 } });
    const { Redis } = await import('ioredis');
    const counts = await Promise.all(
      shards.map(async (shard) => {
        const client = new Redis(shard.url);
        try {
          return (await client.keys('fleetgate.m.spread:*')).length;
        } finally {
          client.disconnect();
        }
      }),
    );
    expect(counts.reduce((a, b) => a + b, 0)).toBe(40);
    expect(Math.min(...counts)).toBeGreaterThan(5);
  } finally {
    await broker.close();
  }
});
