export interface Spread {
  /** Resolves once every item was handled. */
  readonly done: Promise<void>;
  /** Handles every remaining item now (a second SIGTERM). */
  hurry(): void;
}

/**
 * Runs `action` on every item, spread evenly over `windowMs` in up to 100 steps (the
 * last at the end of the window), in a shuffled order, so clients closed by a drain do
 * not all reconnect at the same moment.
 */
export function spreadOver<T>(items: readonly T[], windowMs: number, random: () => number, action: (item: T) => void): Spread {
  const order = [...items];
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j] as T, order[i] as T];
  }
  const steps = Math.max(1, Math.min(100, order.length));
  let handled = 0;
  let timer: NodeJS.Timeout | undefined;
  let finish: () => void = () => {};
  const done = new Promise<void>((resolve) => (finish = resolve));
  const handleUpTo = (count: number) => {
    for (; handled < count; handled++) action(order[handled] as T);
    if (handled === order.length) {
      clearTimeout(timer);
      finish();
    }
  };
  const hurry = () => handleUpTo(order.length);
  if (windowMs <= 0 || order.length === 0) {
    hurry();
    return { done, hurry };
  }
  let step = 0;
  const tick = () => {
    step += 1;
    handleUpTo(Math.floor((step * order.length) / steps));
    if (handled < order.length) timer = setTimeout(tick, windowMs / steps);
  };
  timer = setTimeout(tick, windowMs / steps);
  return { done, hurry };
}
