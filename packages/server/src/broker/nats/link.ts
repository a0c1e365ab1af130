import { connect, deadline, type NatsConnection } from '@nats-io/transport-node';
import { BrokerError } from '../broker.js';
import { noResponders } from './names.js';

export interface LinkEvents {
  /** NATS became reachable (true) or unreachable (false). */
  onHealth(up: boolean): void;
  /** Reconnected: the client restored its subscriptions, but what was published meanwhile was missed. */
  onResync(): void;
  /** Resolves once JetStream answers after a reconnect (a restarted server first loads its streams). */
  probe(): Promise<void>;
}

/** How long to wait for JetStream after a reconnect before reporting up anyway. */
const jetStreamWaitMs = 5_000;
/** Bound on close(): a server that died unnoticed must not hold up a shutdown. */
const drainMs = 1_000;

/**
 * The broker's one NATS connection and its health. The client reconnects forever and
 * restores subscriptions itself; while it is away, every operation fails at once
 * (the client would otherwise buffer publishes and send them after the reconnect), and
 * operations in flight when it drops fail then instead of waiting for their timeout.
 */
export class NatsLink {
  private nc: NatsConnection | undefined;
  private up = false;
  private closing = false;
  /** Counts disconnects, so a slow "back up" check cannot report up after a newer disconnect. */
  private outages = 0;
  /** Rejects when the connection drops; operations in flight race it. */
  private lost = signal();

  constructor(
    private readonly urls: readonly string[],
    private readonly timeoutMs: number,
    private readonly events: LinkEvents,
  ) {}

  async open(): Promise<NatsConnection> {
    try {
      this.nc = await connect({
        servers: [...this.urls],
        name: 'fleetgate',
        maxReconnectAttempts: -1,
        // Jitter spreads a fleet's reconnects after a NATS restart.
        reconnectTimeWait: 500,
        reconnectJitter: 500,
        // A half-open connection is noticed within ~10 s.
        pingInterval: 5_000,
        maxPingOut: 2,
        timeout: this.timeoutMs,
      });
    } catch (cause) {
      throw new BrokerError(`cannot reach NATS (${this.urls.join(', ')}): ${(cause as Error).message}`, { cause });
    }
    void this.watch(this.nc);
    return this.nc;
  }

  /** Reports up: called once the broker's own subscriptions are in place. */
  started(): void {
    this.setUp(true);
  }

  get isUp(): boolean {
    return this.up;
  }

  /** The connection, if it is up. */
  connection(): NatsConnection {
    if (this.nc === undefined) throw new BrokerError('NATS broker not started');
    if (!this.up || this.nc.isClosed()) throw new BrokerError('NATS is unreachable');
    return this.nc;
  }

  /**
   * Runs an operation over the connection; any failure becomes a BrokerError, never a
   * silent loss. If the connection drops meanwhile it fails at once: the outcome is then
   * unknown (like a timeout), which is what idempotency keys are for.
   */
  async call<T>(run: () => Promise<T>): Promise<T> {
    this.connection();
    try {
      return await Promise.race([run(), this.lost.promise]);
    } catch (cause) {
      if (cause instanceof BrokerError) throw cause;
      const reason = noResponders(cause) ? 'JetStream is not available (history and idempotency keys need nats-server -js)' : (cause as Error).message;
      throw new BrokerError(`NATS: ${reason}`, { cause });
    }
  }

  /** Resolves once the server has everything sent so far (subscriptions included). */
  flush(): Promise<void> {
    const nc = this.connection();
    return this.call(() => deadline(nc.flush(), this.timeoutMs));
  }

  async close(): Promise<void> {
    this.closing = true;
    const nc = this.nc;
    if (nc === undefined || nc.isClosed()) return;
    // Drain delivers what is in flight; a connection that is down (or dies meanwhile) just closes.
    if (this.up) await Promise.race([deadline(nc.drain(), drainMs), this.lost.promise]).catch(() => undefined);
    if (!nc.isClosed()) await nc.close();
  }

  private async watch(nc: NatsConnection): Promise<void> {
    for await (const status of nc.status()) {
      if (status.type === 'disconnect' || status.type === 'staleConnection') this.down();
      else if (status.type === 'reconnect') void this.back(nc, this.outages);
    }
    this.down();
  }

  private down(): void {
    this.outages += 1;
    this.lost.reject(new BrokerError('NATS connection lost; the operation may or may not have taken effect'));
    this.lost = signal();
    this.setUp(false);
  }

  private async back(nc: NatsConnection, outage: number): Promise<void> {
    const until = Date.now() + jetStreamWaitMs;
    while (Date.now() < until && outage === this.outages && !this.closing) {
      try {
        await this.events.probe();
        break;
      } catch (err) {
        if (noResponders(err)) break; // a server without JetStream: nothing to wait for
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
    // A newer disconnect (or close) overtook this reconnect: its own reconnect reports.
    if (outage !== this.outages || nc.isClosed() || this.closing) return;
    this.setUp(true);
    this.events.onResync();
  }

  private setUp(up: boolean): void {
    if (this.up === up) return;
    this.up = up;
    if (!this.closing) this.events.onHealth(up);
  }
}

function signal(): { promise: Promise<never>; reject: (err: Error) => void } {
  let reject: (err: Error) => void = () => undefined;
  const promise = new Promise<never>((_, fail) => {
    reject = fail;
  });
  promise.catch(() => undefined); // nobody may be racing it when it fires
  return { promise, reject };
}
