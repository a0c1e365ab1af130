/** Injected time source, so core logic is exact under test. Milliseconds since the epoch. */
export type Clock = () => number;

export const systemClock: Clock = () => Date.now();
