import { afterAll, beforeAll } from 'vitest';
import { RedisBroker } from '../src/broker/redis/redis-broker.js';
import { brokerContract } from './broker-contract.js';
import { startRedis, type TestServer } from './servers.js';

let redis: TestServer;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(() => redis.stop());

brokerContract('redis', {
  shared: true,
  create: async () => new RedisBroker([redis.url], { clock: Date.now, idempotencyWindowMs: 300_000 }),
  server: {
    kill: () => redis.kill(),
    start: () => redis.start(),
  },
});
