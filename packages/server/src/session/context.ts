import type { Logger } from 'pino';
import type { TokenVerifier } from '../auth/jwt.js';
import type { Config } from '../config/schema.js';
import type { Clock } from '../core/clock.js';
import type { Tier } from '../core/degradation.js';
import type { Namespaces } from '../config/namespaces.js';
import type { TrafficStats } from '../core/traffic.js';
import type { Fleet } from '../fleet.js';
import type { Node } from '../node.js';
import type { PresenceKeeper } from '../presence-keeper.js';
import type { Metrics } from '../ops/metrics.js';
import type { FlushScheduler } from './flush-scheduler.js';
import type { RecoveryFirst } from './recovery-first.js';
import type { Session } from './session.js';

/** Everything a session shares with the other sessions of its gateway. */
export interface SessionContext {
  readonly node: Node;
  readonly fleet: Fleet;
  readonly presence: PresenceKeeper;
  readonly presenceMaxList: number;
  readonly namespaces: Namespaces;
  readonly verifier: TokenVerifier;
  readonly client: Config['client'];
  readonly version: string;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly traffic: TrafficStats;
  readonly scheduler: FlushScheduler;
  readonly clock: Clock;
  /** Uniform in [0, 1); spreads first pings. */
  readonly random: () => number;
  /** Load state: degradation tier and reconnect storm. */
  readonly load: { readonly tier: Tier; readonly inStorm: boolean; readonly bulkBatchMs: number };
  readonly recoveryFirst: RecoveryFirst;
  readonly events: {
    connected(session: Session): void;
    /** `code` is the close code, or "client" when the client or network closed. */
    closed(session: Session, code: string): void;
  };
}
