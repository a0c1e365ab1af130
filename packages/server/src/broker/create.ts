import { type Broker, BrokerError, type BrokerOptions } from './broker.js';
import { MemoryBroker } from './memory.js';

/** Builds the broker a URL names. */
export function createBroker(url: string, options: BrokerOptions): Broker {
  const scheme = url.split(':', 1)[0];
  switch (scheme) {
    case 'memory':
      return new MemoryBroker(options);
    default:
      throw new BrokerError(`unsupported broker "${url}" (supported: memory://)`);
  }
}
