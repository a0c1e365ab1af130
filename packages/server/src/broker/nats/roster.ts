import { randomBytes } from 'node:crypto';
import type { Msg, NatsConnection } from '@nats-io/transport-node';

/** How often a node says it is there. */
const helloMs = 2_000;
/** A node not heard from for this long is forgotten (it missed three hellos). */
const forgetMs = 3 * helloMs;
/** After an ask, the roster is settled once no answer came for this long. */
const settleMs = 100;

/**
 * The other nodes of the fleet, as this node knows them: the nodes a presence query
 * waits for. Each node says hello (`+id` on `<prefix>.pn`) every 2 s and goodbye (`-id`)
 * when it closes. At start and after a reconnect it asks (`?id`) instead, and every node
 * answers that ask directly (on `<prefix>.pn.<id>`): a new node knows the fleet within a
 * round trip, without each start costing N² broadcasts, and its first queries wait until
 * those answers stop coming (settlingMs). A node that misses a query's deadline is struck
 * off until its next hello: a crashed node costs one slow query, not a slow query every
 * time until it is forgotten.
 */
export class Roster {
  readonly id = randomBytes(9).toString('base64url');
  private readonly lastHeard = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private nc: NatsConnection | undefined;
  /** When this node last asked, or last heard an answer to its ask. */
  private askActivity = -Infinity;

  constructor(
    private readonly subject: string,
    /** Whether the link is up: while it is down the client would buffer hellos, not send them. */
    private readonly up: () => boolean,
    /** Called when a node leaves: a query waiting for it may be complete now. */
    private readonly onLeave: () => void,
  ) {}

  start(nc: NatsConnection): void {
    this.nc = nc;
    const callback = (err: Error | null, msg: Msg): void => {
      if (err === null) this.heard(msg);
    };
    nc.subscribe(this.subject, { callback });
    nc.subscribe(`${this.subject}.${this.id}`, {
      callback: (err, msg) => {
        this.askActivity = performance.now();
        callback(err, msg);
      },
    });
    this.ask(true);
    this.timer = setInterval(() => {
      this.say('+');
      this.forgetSilent();
    }, helloMs).unref();
  }

  /** After a reconnect: others may have struck this node off, and it missed their hellos. */
  resync(): void {
    this.ask();
  }

  /**
   * How long until the answers to this node's last ask have (most likely) all arrived;
   * 0 once settled. Only queries in the first moments after a start or reconnect wait.
   */
  settlingMs(): number {
    return Math.max(0, this.askActivity + settleMs - performance.now());
  }

  /** The nodes a query should hear from, besides this one. */
  others(): string[] {
    return [...this.lastHeard.keys()];
  }

  /** A node answered: it is alive (and known, if its hello has not arrived yet). */
  alive(id: string): void {
    if (id !== this.id) this.lastHeard.set(id, performance.now());
  }

  /** A node missed a query's deadline: no longer waited for until it says hello again. */
  strike(id: string): void {
    this.lastHeard.delete(id);
  }

  close(): void {
    clearInterval(this.timer);
    this.say('-');
  }

  private heard(msg: Msg): void {
    const text = msg.string();
    const id = text.slice(1);
    if (id === this.id || id === '') return;
    if (text[0] === '-') {
      this.lastHeard.delete(id);
      this.onLeave();
      return;
    }
    if (text[0] !== '+' && text[0] !== '?') return;
    this.alive(id);
    if (text[0] === '?') this.say('+', false, `${this.subject}.${id}`);
  }

  /** Publishes `kind + id` (to all, or to one asking node). Dropped while NATS is away. */
  private say(kind: '+' | '-' | '?', force = false, to = this.subject): void {
    const nc = this.nc;
    if (nc === undefined || nc.isClosed() || !(force || this.up())) return;
    nc.publish(to, `${kind}${this.id}`);
  }

  private ask(force = false): void {
    this.askActivity = performance.now();
    this.say('?', force);
  }

  private forgetSilent(): void {
    const before = performance.now() - forgetMs;
    for (const [id, at] of this.lastHeard) if (at < before) this.lastHeard.delete(id);
  }
}
