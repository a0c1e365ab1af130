import type { FleetPlan } from '../fleet-plan.js';
import type { TargetName } from '../types.js';
import { findBrokerPids } from './broker-pids.js';
import { BrokerProcess } from './broker-process.js';
import type { Pinning } from './pinning.js';
import { ServerProcess } from './server-process.js';

/** Where the fleet's broker runs and which pids are counted as its CPU. */
export interface BrokerInfo {
  readonly plan: FleetPlan;
  readonly url: string;
  readonly pids: readonly number[];
}

export interface FleetStartOptions {
  readonly target: TargetName;
  /** undefined: one server, as a single-node run always was. */
  readonly plan: FleetPlan | undefined;
  readonly pinning: Pinning;
  readonly historySize: number;
  /** Merged into every fleetgate node's gateway config (passed as --config-json); undefined: none. */
  readonly config: Readonly<Record<string, unknown>> | undefined;
  /** V8 profiling flags for server i (empty when not profiling). */
  readonly nodeFlags: (index: number) => readonly string[];
}

/**
 * The servers under test: one process, or K Fleetgate nodes sharing a broker. All K
 * nodes go on the server core (with the bench's own broker) so that the fleet gets the
 * same one core the single-node server gets, and CPU per delivery compares like for like.
 */
export class Fleet {
  private constructor(
    readonly servers: readonly ServerProcess[],
    readonly broker: BrokerInfo | undefined,
    private readonly ownBroker: BrokerProcess | undefined,
  ) {}

  static async start(o: FleetStartOptions): Promise<Fleet> {
    const plan = o.target === 'fleetgate' ? o.plan : undefined;
    let own: BrokerProcess | undefined;
    let broker: BrokerInfo | undefined;
    const servers: ServerProcess[] = [];
    try {
      if (plan !== undefined && plan.broker.kind !== 'memory') {
        const kind = plan.broker.kind;
        if (plan.broker.url === undefined) own = await BrokerProcess.start(kind, o.pinning.serverCore);
        const url = own?.url ?? (plan.broker.url as string);
        broker = { plan, url, pids: own === undefined ? await findBrokerPids(kind, url) : [own.pid] };
      } else if (plan !== undefined) broker = { plan, url: 'memory://', pids: [] };
      const count = plan?.nodes ?? 1;
      const history = o.target === 'fleetgate' && o.historySize > 0 ? ['--history-size', String(o.historySize)] : [];
      const config = o.target === 'fleetgate' && o.config !== undefined ? ['--config-json', JSON.stringify(o.config)] : [];
      const targetArgs = [...history, ...config];
      const argsOf = (i: number) => (broker === undefined ? targetArgs : ['--broker', broker.url, '--name', `bench-node-${i}`, ...targetArgs]);
      // One after another: K gateways starting at once on one core would only slow each other.
      for (let i = 0; i < count; i++) servers.push(await ServerProcess.start(o.target, o.pinning.serverCore, o.nodeFlags(i), argsOf(i)));
    } catch (err) {
      await Promise.all(servers.map((s) => s.stop()));
      await own?.stop();
      throw err;
    }
    return new Fleet(servers, broker, own);
  }

  get urls(): string[] {
    return this.servers.map((s) => s.url);
  }

  async stop(): Promise<void> {
    await Promise.all(this.servers.map((s) => s.stop()));
    // After the nodes: a broker gone first would make them log reconnect attempts on the way out.
    await this.ownBroker?.stop();
  }

  kill(): void {
    for (const s of this.servers) s.kill();
  }
}
