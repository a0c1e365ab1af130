import { type Broker, BrokerError, type BrokerOptions } from './broker.js';
import { MemoryBroker } from './memory.js';
import { NatsBroker } from './nats/nats-broker.js';
import { RedisBroker } from './redis/redis-broker.js';

/** Builds the broker a URL names. */
export function createBroker(url: string, options: BrokerOptions): Broker {
  const scheme = url.split(':', 1)[0];
  switch (scheme) {
    case 'memory':
      return new MemoryBroker(options);
    case 'redis':
    case 'rediss':
      // Several shards: "redis://a:6379,redis://b:6379".
      return new RedisBroker(url.split(',').map((u) => u.trim()), options);
    case 'nats':
      // Several servers of one NATS cluster (not shards): "nats://a:4222,nats://b:4222".
      return new NatsBroker(url.split(',').map((u) => u.trim()), options);
    default:
      throw new BrokerError(`unsupported broker "${url}" (supported: memory://, redis://, nats://)`);
  }
}
