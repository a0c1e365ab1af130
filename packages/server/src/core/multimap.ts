/**
 * Key -> set of members (channel -> subscribers, user -> sessions). Empty sets are
 * removed at once so the map never holds keys nobody uses.
 */
export class MultiMap<K, V> {
  private readonly sets = new Map<K, Set<V>>();
  private members = 0;

  /** Adds; true when `key` got its first member. */
  add(key: K, value: V): boolean {
    let set = this.sets.get(key);
    const first = set === undefined;
    if (set === undefined) this.sets.set(key, (set = new Set()));
    const before = set.size;
    set.add(value);
    this.members += set.size - before;
    return first;
  }

  /** Removes; true when `key` lost its last member. */
  delete(key: K, value: V): boolean {
    const set = this.sets.get(key);
    if (set === undefined || !set.delete(value)) return false;
    this.members -= 1;
    if (set.size > 0) return false;
    this.sets.delete(key);
    return true;
  }

  get(key: K): ReadonlySet<V> | undefined {
    return this.sets.get(key);
  }

  count(key: K): number {
    return this.sets.get(key)?.size ?? 0;
  }

  keys(): IterableIterator<K> {
    return this.sets.keys();
  }

  /** Number of keys with at least one member. */
  get size(): number {
    return this.sets.size;
  }

  /** Sum of members over all keys. */
  get totalMembers(): number {
    return this.members;
  }
}
