import type { Histogram } from 'hdr-histogram-js';
import hdr from 'hdr-histogram-js';
import type { LatencyMs } from '../types.js';

/** Adds up the workers' latency histograms (µs, compressed base64). */
export function mergeHistograms(encoded: readonly string[]): Histogram {
  const merged = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3, autoResize: true });
  for (const text of encoded) {
    const part = hdr.decodeFromCompressedBase64(text);
    merged.add(part);
    part.destroy();
  }
  return merged;
}

const ms = (us: number) => Math.round(us) / 1000;

/** Percentiles in ms, or null when nothing was recorded. */
export function latencyPercentiles(histogram: Histogram): LatencyMs | null {
  if (histogram.totalCount === 0) return null;
  return {
    p50: ms(histogram.getValueAtPercentile(50)),
    p90: ms(histogram.getValueAtPercentile(90)),
    p99: ms(histogram.getValueAtPercentile(99)),
    p999: ms(histogram.getValueAtPercentile(99.9)),
    max: ms(histogram.maxValue),
  };
}
