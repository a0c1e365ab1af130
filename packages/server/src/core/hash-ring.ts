/** FNV-1a, 32 bits: fast and well spread for short keys such as channel names. */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  // Final avalanche (murmur3 fmix32) so that similar keys land far apart.
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  hash ^= hash >>> 16;
  return hash >>> 0;
}

/**
 * Consistent hashing with virtual nodes: each shard owns `replicas` points on a 32-bit
 * ring and a key belongs to the first point at or after its hash. Adding a shard moves
 * only the keys that now fall on its points (about 1/n of them), all to the new shard.
 */
export class HashRing<T> {
  private readonly points: number[] = [];
  private readonly owners: T[] = [];

  constructor(
    shards: ReadonlyArray<{ readonly id: string; readonly value: T }>,
    replicas = 160,
  ) {
    if (shards.length === 0) throw new Error('a hash ring needs at least one shard');
    const entries: [number, T][] = [];
    for (const shard of shards) {
      for (let r = 0; r < replicas; r++) entries.push([fnv1a(`${shard.id}#${r}`), shard.value]);
    }
    entries.sort((a, b) => a[0] - b[0]);
    for (const [point, owner] of entries) {
      this.points.push(point);
      this.owners.push(owner);
    }
  }

  get(key: string): T {
    const hash = fnv1a(key);
    let lo = 0;
    let hi = this.points.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.points[mid] as number) < hash) lo = mid + 1;
      else hi = mid;
    }
    return this.owners[lo === this.points.length ? 0 : lo] as T;
  }
}
