import type { Histogram } from 'hdr-histogram-js';
import hdr from 'hdr-histogram-js';

/** Latency in microseconds, 3 significant digits; grows as needed (a stalled run can take seconds). */
export function createLatencyHistogram(): Histogram {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3, autoResize: true });
}

export function recordLatency(histogram: Histogram, sentAtMs: number, receivedAtMs: number): void {
  // Clocks of two processes can disagree by a few µs; never record a negative latency.
  histogram.recordValue(Math.max(0, Math.round((receivedAtMs - sentAtMs) * 1000)));
}
