import { expect, it } from 'vitest';
import { HashRing } from '../src/core/hash-ring.js';

const keys = Array.from({ length: 100_000 }, (_, i) => `channel:${i}`);
const ring = (ids: string[]) => new HashRing(ids.map((id) => ({ id, value: id })));

it('balances keys: every shard within 15% of a fair share', () => {
  for (const size of [2, 3, 5, 8]) {
    const ids = Array.from({ length: size }, (_, i) => `redis://10.0.0.${i}:6379`);
    const r = ring(ids);
    const counts = new Map<string, number>();
    for (const key of keys) counts.set(r.get(key), (counts.get(r.get(key)) ?? 0) + 1);
    const fair = keys.length / size;
    for (const id of ids) expect(Math.abs((counts.get(id) ?? 0) - fair) / fair).toBeLessThan(0.15);
  }
});

it('moves only about 1/(n+1) of the keys when a shard is added, all of them to the new shard', () => {
  const before = ring(['a', 'b', 'c']);
  const after = ring(['a', 'b', 'c', 'd']);
  let moved = 0;
  for (const key of keys) {
    const was = before.get(key);
    const now = after.get(key);
    if (was !== now) {
      moved += 1;
      expect(now).toBe('d');
    }
  }
  expect(moved / keys.length).toBeGreaterThan(0.15);
  expect(moved / keys.length).toBeLessThan(0.35);
});

it('is deterministic and independent of the order shards are listed in', () => {
  const a = ring(['x', 'y', 'z']);
  const b = ring(['z', 'x', 'y']);
  for (const key of keys.slice(0, 1000)) expect(a.get(key)).toBe(b.get(key));
  expect(() => ring([])).toThrow();
});
