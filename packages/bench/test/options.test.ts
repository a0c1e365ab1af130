import { describe, expect, it } from 'vitest';
import { parseOptions, UsageError } from '../src/options.js';
import { runSpecs } from '../src/run.js';
import { keepSpecs, KEPT_CHANNEL } from '../src/scenarios/storm.js';
import { subscriberSpecs } from '../src/scenarios/plan.js';
import { deepMerge } from '../src/targets/merge.js';
import { keptAddress } from '../src/ipc.js';

describe('fleetgate variants', () => {
  it('deepMerge merges nested objects and replaces scalars and arrays, without touching its inputs', () => {
    const base = { client: { insecure: true, pingInterval: '1h' }, list: [1, 2], name: 'a' };
    const merged = deepMerge(base, { client: { queueMaxBytes: 65536 }, list: [3], name: 'b' });
    expect(merged).toEqual({ client: { insecure: true, pingInterval: '1h', queueMaxBytes: 65536 }, list: [3], name: 'b' });
    expect(base.client).toEqual({ insecure: true, pingInterval: '1h' });
  });

  it('--fleetgate-config takes a JSON object; anything else is a usage error', () => {
    const o = parseOptions(['storm', '--fleetgate-config', '{"admission":{"acceptRate":2000}}']);
    expect(o.fleetgateConfig).toEqual({ admission: { acceptRate: 2000 } });
    expect(() => parseOptions(['storm', '--fleetgate-config', '[1]'])).toThrow(UsageError);
    expect(() => parseOptions(['storm', '--fleetgate-config', '{nope'])).toThrow(UsageError);
  });

  it('--label is appended to the fleetgate rows only', () => {
    const { specs } = runSpecs(parseOptions(['broadcast', '--label', 'history']));
    expect(specs.map((s) => s.label)).toEqual(['fleetgate history', 'ws', 'socketio']);
    const fleet = runSpecs(parseOptions(['broadcast', '--targets', 'fleetgate', '--nodes', '2', '--compare-memory', '--label', 'x']));
    expect(fleet.specs.map((s) => s.label)).toEqual(['fleetgate ×1 memory x', 'fleetgate ×2 redis x']);
  });

  it('--storm-keep is a share below 1; kept clients are spread evenly on their own channel and source address', () => {
    expect(parseOptions(['storm', '--storm-keep', '0.1']).stormKeep).toBe(0.1);
    expect(() => parseOptions(['storm', '--storm-keep', '1'])).toThrow(UsageError);
    const specs = keepSpecs(subscriberSpecs(100, ['bench']), 0.1);
    const kept = specs.filter((s) => s.keep === true);
    expect(kept).toHaveLength(10);
    expect(kept.every((s) => s.channel === KEPT_CHANNEL)).toBe(true);
    expect(specs.filter((s) => s.channel === 'bench')).toHaveLength(90);
    // Kept ones last: their own generator with --per-worker 90.
    expect(specs.slice(90).every((s) => s.keep === true)).toBe(true);
    expect(keptAddress('127.0.0.3')).toBe('127.1.0.3');
  });
});
