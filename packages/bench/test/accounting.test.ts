import { describe, expect, it } from 'vitest';
import { maxReconnectDelayMs, minReconnectDelayMs, reconnectDelay } from '../src/clients/backoff.js';
import { scanStamps } from '../src/payload.js';
import { latencyPercentiles, mergeHistograms } from '../src/report/histogram.js';
import { SequenceState } from '../src/worker/sequence.js';
import { createLatencyHistogram } from '../src/worker/latency.js';
import hdr from 'hdr-histogram-js';
import { parseBroker } from '../src/fleet-plan.js';
import { parseOptions, UsageError } from '../src/options.js';
import { runSpecs } from '../src/run.js';
import { roomChannels, subscriberSpecs } from '../src/scenarios/plan.js';

function feed(origin: number | undefined, sequence: readonly number[]): SequenceState {
  const state = new SequenceState(origin);
  for (const s of sequence) state.record(s);
  return state;
}

describe('sequence accounting', () => {
  it('an in-order stream has no loss, duplicates or reordering', () => {
    const state = feed(0, [0, 1, 2, 3]);
    expect([state.unique, state.loss(4), state.duplicates, state.reordered]).toEqual([4, 0, 0, 0]);
  });

  it('counts a late message as reordered, not lost', () => {
    const state = feed(0, [0, 2, 1, 3]);
    expect([state.loss(4), state.reordered, state.duplicates]).toEqual([0, 1, 0]);
  });

  it('counts repeats as duplicates', () => {
    const state = feed(0, [0, 1, 1, 2, 0]);
    expect([state.loss(3), state.duplicates]).toEqual([0, 2]);
  });

  it('owes a subscriber from before the first publication everything, including the tail', () => {
    expect(feed(0, [1, 2]).loss(5)).toBe(3); // 0, 3 and 4 never came
  });

  it('owes a mid-stream subscriber only what lies between its first and last message', () => {
    const state = feed(undefined, [40, 41, 43]);
    expect(state.loss()).toBe(1);
  });
});

describe('payload scanning', () => {
  it('finds every payload in a Centrifugo frame, a socket.io event and a bare message', () => {
    const seen: number[][] = [];
    const push = (s: number) => `{"push":{"channel":"c","pub":{"data":{"t":1700000000000.25,"s":${s},"p":0,"pad":"xx"},"info":{"user":"","client":"a"}}}}`;
    scanStamps(`${push(1)}\n${push(2)}`, (t, s, p) => seen.push([t, s, p]));
    scanStamps('42["pub",{"t":5.5,"s":3,"p":1,"pad":""}]', (t, s, p) => seen.push([t, s, p]));
    scanStamps('{"t":7,"s":4,"p":2,"pad":"xxxx"}', (t, s, p) => seen.push([t, s, p]));
    expect(seen).toEqual([
      [1700000000000.25, 1, 0],
      [1700000000000.25, 2, 0],
      [5.5, 3, 1],
      [7, 4, 2],
    ]);
  });
});

describe('reconnect backoff (centrifuge-js defaults)', () => {
  it('stays within [min, min + min·2^step] and never above max', () => {
    expect(reconnectDelay(0, () => 0)).toBe(minReconnectDelayMs);
    expect(reconnectDelay(0, () => 0.999999)).toBe(2 * minReconnectDelayMs);
    expect(reconnectDelay(3, () => 0.999999)).toBe(minReconnectDelayMs + 8 * minReconnectDelayMs);
    expect(reconnectDelay(40, () => 0.999999)).toBe(maxReconnectDelayMs);
  });
});

describe('histogram merge', () => {
  it('adds the workers’ histograms before taking percentiles', () => {
    const a = createLatencyHistogram();
    const b = createLatencyHistogram();
    for (let i = 1; i <= 99; i++) a.recordValue(1000); // 1 ms
    b.recordValue(50_000); // 50 ms
    const merged = mergeHistograms([hdr.encodeIntoCompressedBase64(a), hdr.encodeIntoCompressedBase64(b)]);
    const latency = latencyPercentiles(merged);
    expect(merged.totalCount).toBe(100);
    expect(latency?.p50).toBeCloseTo(1, 1);
    expect(latency?.max).toBeCloseTo(50, 0);
  });
});

describe('multi-node placement and flags', () => {
  it('spreads subscribers evenly over the nodes and every room over every node', () => {
    const specs = subscriberSpecs(1000, roomChannels(1000, 10), 0, 2);
    expect([0, 1].map((n) => specs.filter((s) => s.node === n).length)).toEqual([500, 500]);
    // 100 rooms (a multiple of 2): i % nodes alone would put each room on one node.
    const nodesOf = (room: string) => new Set(specs.filter((s) => s.channel === room).map((s) => s.node));
    for (const room of ['room-0', 'room-1', 'room-99']) expect(nodesOf(room)).toEqual(new Set([0, 1]));
    const three = subscriberSpecs(300, ['bench'], 0, 3);
    expect([0, 1, 2].map((n) => three.filter((s) => s.node === n).length)).toEqual([100, 100, 100]);
  });

  it('parses --nodes/--broker/--publish-via and refuses combinations that cannot work', () => {
    expect(parseOptions(['broadcast']).fleet).toBeUndefined();
    expect(parseOptions(['broadcast', '--nodes', '3']).fleet).toEqual({ nodes: 3, broker: { kind: 'redis', url: undefined }, publishVia: 'all' });
    expect(parseOptions(['rooms', '--nodes', '2', '--broker', 'nats://127.0.0.1:4333', '--publish-via', 'one']).fleet).toEqual({
      nodes: 2,
      broker: { kind: 'nats', url: 'nats://127.0.0.1:4333' },
      publishVia: 'one',
    });
    expect(parseBroker('redis')).toEqual({ kind: 'redis', url: undefined });
    expect(parseBroker('rediss://a:1,rediss://b:2')).toEqual({ kind: 'redis', url: 'rediss://a:1,rediss://b:2' });
    expect(parseBroker('kafka://x')).toBeUndefined();
    expect(() => parseOptions(['broadcast', '--nodes', '2', '--broker', 'memory'])).toThrow(UsageError);
    expect(() => parseOptions(['broadcast', '--compare-memory'])).toThrow(UsageError);
  });

  it('runs the memory baseline before the fleet, and other targets as one server with a note', () => {
    const { specs, notes } = runSpecs(parseOptions(['broadcast', '--nodes', '2', '--broker', 'redis', '--compare-memory', '--targets', 'fleetgate,ws']));
    expect(specs.map((s) => s.label)).toEqual(['fleetgate ×1 memory', 'fleetgate ×2 redis', 'ws']);
    expect(specs[2]?.fleet).toBeUndefined();
    expect(notes).toHaveLength(1);
  });
});
