/**
 * Traffic counters bumped on the hot path as plain numbers; metrics read them at
 * scrape time, so a delivery costs an addition, not a metrics-library call.
 */
export class TrafficStats {
  framesOut = 0;
  bytesOut = 0;
  framesIn = 0;
  bytesIn = 0;
  readonly messagesOut = { reply: 0, push: 0, ping: 0 };
}
