import { describe, expect, it } from 'vitest';
import { DegradationController } from '../src/core/degradation.js';
import { StormDetector } from '../src/core/storm.js';

describe('StormDetector', () => {
  const seconds = (d: StormDetector, perSecond: number[], connections = 1000) =>
    perSecond.map((n) => {
      for (let i = 0; i < n; i++) d.connected();
      d.tick(connections);
      return d.storm;
    });

  it('learns a baseline and flags a connect surge far above it, then calms down', () => {
    const d = new StormDetector({ factor: 5, minRate: 50, calmSeconds: 3 });
    expect(seconds(d, Array(30).fill(20))).toEqual(Array(30).fill(false));
    expect(seconds(d, [90])).toEqual([false]); // above minRate but under 5 × baseline (≈ 20)
    expect(seconds(d, [400, 800, 300])).toEqual([true, true, true]);
    expect(seconds(d, [20, 20, 20, 20])).toEqual([true, true, false, false]);
  });

  it('never calls a low rate a storm, whatever the baseline', () => {
    const d = new StormDetector({ factor: 5, minRate: 50, calmSeconds: 3 });
    expect(seconds(d, [0, 0, 0, 40, 0, 45])).toEqual([false, false, false, false, false, false]);
  });

  it('flags a mass disconnect', () => {
    const d = new StormDetector({ factor: 5, minRate: 50, calmSeconds: 3 });
    for (let i = 0; i < 300; i++) d.disconnected();
    expect(d.tick(700)).toBe(true);
    expect(d.storm).toBe(true);
  });
});

describe('DegradationController', () => {
  const options = { lagMs: 100, cpu: 0.9, escalateAfter: 2, recoverAfter: 3 };
  const hot = { lagMs: 300, cpu: 0.5 };
  const cpuHot = { lagMs: 10, cpu: 0.95 };
  const calm = { lagMs: 5, cpu: 0.2 };
  const warm = { lagMs: 80, cpu: 0.7 }; // neither overloaded nor calm

  it('climbs one tier per run of overloaded samples, up to 3', () => {
    const d = new DegradationController(options);
    const tiers = [hot, hot, hot, cpuHot, hot, hot, hot, hot].map((s) => (d.sample(s), d.tier));
    expect(tiers).toEqual([0, 1, 1, 2, 2, 3, 3, 3]);
  });

  it('ignores a single spike and does not flap: going down needs a run of calm samples', () => {
    const d = new DegradationController(options);
    expect([hot, calm, hot, calm].map((s) => (d.sample(s), d.tier))).toEqual([0, 0, 0, 0]);
    d.sample(hot);
    d.sample(hot);
    expect(d.tier).toBe(1);
    expect([warm, warm, warm, warm].map((s) => (d.sample(s), d.tier))).toEqual([1, 1, 1, 1]);
    expect([calm, calm, calm].map((s) => (d.sample(s), d.tier))).toEqual([1, 1, 0]);
  });

  it('reports only real changes', () => {
    const d = new DegradationController(options);
    expect(d.sample(hot)).toBe(false);
    expect(d.sample(hot)).toBe(true);
    expect(d.sample(calm)).toBe(false);
  });

  it('ignores a signal whose threshold is 0', () => {
    const d = new DegradationController({ ...options, lagMs: 0 });
    for (let i = 0; i < 10; i++) d.sample({ lagMs: 10_000, cpu: 0.1 });
    expect(d.tier).toBe(0);
  });
});
