import type { Clock } from './clock.js';

/**
 * A map whose entries live `ttlMs` and of which at most `maxEntries` are kept (oldest
 * evicted first). Every entry has the same TTL, so insertion order is expiry order and
 * pruning only ever looks at the front.
 */
export class TtlCache<K, V> {
  private readonly entries = new Map<K, { value: V; expires: number }>();

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries: number,
    private readonly clock: Clock,
  ) {}

  get(key: K): V | undefined {
    this.prune();
    return this.entries.get(key)?.value;
  }

  set(key: K, value: V): void {
    this.entries.delete(key);
    this.entries.set(key, { value, expires: this.clock() + this.ttlMs });
    this.prune();
  }

  get size(): number {
    return this.entries.size;
  }

  private prune(): void {
    const now = this.clock();
    for (const [key, entry] of this.entries) {
      if (entry.expires > now && this.entries.size <= this.maxEntries) break;
      this.entries.delete(key);
    }
  }
}
