/**
 * The benchmark message: {t, s, p, pad} in this key order. Every target carries it
 * verbatim, so subscribers find it in any framing by scanning for `{"t":` instead of
 * parsing whole frames (keeps the generators cheap).
 */

/** Wall-clock milliseconds with sub-ms precision, comparable across processes on this machine. */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

/** A type alias (not an interface) so it is assignable to the protocol's JsonValue. */
export type Payload = { t: number; s: number; p: number; pad: string };

/** Filler length that makes the JSON of a payload about `size` bytes. */
export function padLength(size: number): number {
  const bare = JSON.stringify({ t: nowMs(), s: 100_000, p: 0, pad: '' }).length;
  return Math.max(0, size - bare);
}

export function makePayload(s: number, p: number, pad: string): Payload {
  return { t: nowMs(), s, p, pad };
}

export type StampHandler = (t: number, s: number, p: number) => void;

const marker = '{"t":';

/** Number starting at `from`, up to the next ',' (the payload's fields are never last). */
function numberAt(text: string, from: number): number {
  const end = text.indexOf(',', from);
  return end === -1 ? Number.NaN : Number(text.slice(from, end));
}

/** Calls `onStamp` for every payload in `text` (a frame may hold several); returns how many. */
export function scanStamps(text: string, onStamp: StampHandler): number {
  let found = 0;
  let at = text.indexOf(marker);
  while (at !== -1) {
    const tStart = at + marker.length;
    const sKey = text.indexOf('"s":', tStart);
    const pKey = sKey === -1 ? -1 : text.indexOf('"p":', sKey);
    if (pKey === -1) return found;
    const t = numberAt(text, tStart);
    const s = numberAt(text, sKey + 4);
    const p = numberAt(text, pKey + 4);
    if (Number.isFinite(t) && Number.isInteger(s) && Number.isInteger(p)) {
      onStamp(t, s, p);
      found++;
    }
    at = text.indexOf(marker, pKey);
  }
  return found;
}
