import type { Clock } from './clock.js';

/** What a node tells the fleet about itself (Centrifugo's /api/info node shape). */
export interface NodeInfo {
  readonly uid: string;
  readonly name: string;
  readonly version: string;
  readonly num_clients: number;
  readonly num_users: number;
  readonly num_channels: number;
  readonly num_subs: number;
  readonly uptime: number;
}

/**
 * The fleet as this node knows it: every node's latest announcement, forgotten once it
 * is older than `ttlMs` (a node that died without saying goodbye vanishes by itself).
 */
export class NodeRegistry {
  private readonly nodes = new Map<string, { info: NodeInfo; expires: number }>();

  constructor(
    private readonly ttlMs: number,
    private readonly clock: Clock,
  ) {}

  update(info: NodeInfo): void {
    this.nodes.set(info.uid, { info, expires: this.clock() + this.ttlMs });
  }

  remove(uid: string): void {
    this.nodes.delete(uid);
  }

  /** Live nodes, by name. */
  list(): NodeInfo[] {
    const now = this.clock();
    for (const [uid, entry] of this.nodes) if (entry.expires <= now) this.nodes.delete(uid);
    return [...this.nodes.values()].map((e) => e.info).sort((a, b) => a.name.localeCompare(b.name) || a.uid.localeCompare(b.uid));
  }
}
