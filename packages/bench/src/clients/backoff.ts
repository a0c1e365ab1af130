/**
 * The centrifuge SDK's default reconnect delay (centrifuge-js `backoff`): exponential
 * with full jitter, min 500 ms, max 20 s. `step` is the number of attempts so far.
 */
export const minReconnectDelayMs = 500;
export const maxReconnectDelayMs = 20_000;

function randomInt(min: number, max: number, random: () => number): number {
  return Math.floor(random() * (max - min + 1) + min);
}

export function reconnectDelay(step: number, random: () => number = Math.random, min = minReconnectDelayMs, max = maxReconnectDelayMs): number {
  const capped = Math.min(step, 31);
  const interval = randomInt(0, Math.min(max, min * 2 ** capped), random);
  return Math.min(max, min + interval);
}
