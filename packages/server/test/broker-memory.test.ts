import { MemoryBroker } from '../src/broker/memory.js';
import { brokerContract } from './broker-contract.js';

brokerContract('memory', {
  shared: false,
  create: async () => new MemoryBroker({ clock: Date.now, idempotencyWindowMs: 300_000 }),
});
