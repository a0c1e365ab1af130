import type { StreamPosition } from './memory-stream.js';

/**
 * Whether history read after `requested` brings a client exactly to `top`: same epoch
 * (or none asked), and the publications start right after the requested offset and end
 * at the top without a hole. Anything less is "not recovered"; never a partial recovery.
 */
export function isRecovered(requested: { offset: number; epoch: string }, offsets: readonly number[], top: StreamPosition): boolean {
  if (requested.epoch !== '' && requested.epoch !== top.epoch) return false;
  if (offsets.length === 0) return top.offset === requested.offset;
  return offsets[0] === requested.offset + 1 && offsets[offsets.length - 1] === top.offset && offsets.length === top.offset - requested.offset;
}

export type PositionVerdict = 'deliver' | 'duplicate' | 'gap';

/**
 * Live delivery check for a positioned subscription at `current`: the next offset is
 * delivered, an old one is a duplicate to drop, anything further (or another epoch) is
 * a gap: the client must resubscribe and recover.
 */
export function checkPosition(current: StreamPosition, offset: number, epoch: string): PositionVerdict {
  if (epoch !== current.epoch) return 'gap';
  if (offset <= current.offset) return 'duplicate';
  return offset === current.offset + 1 ? 'deliver' : 'gap';
}
