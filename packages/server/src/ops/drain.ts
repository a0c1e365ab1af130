/**
 * Runs `action` on every item, spread evenly over `windowMs` in up to 100 steps, in a
 * shuffled order, so clients closed by a drain do not all reconnect at the same moment.
 */
export function spreadOver<T>(items: readonly T[], windowMs: number, random: () => number, action: (item: T) => void): Promise<void> {
  const order = [...items];
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j] as T, order[i] as T];
  }
  const steps = Math.max(1, Math.min(100, order.length));
  if (windowMs <= 0 || steps === 1) {
    order.forEach(action);
    return Promise.resolve();
  }
  return new Promise((resolve) => {
    let step = 0;
    const tick = () => {
      const from = Math.floor((step * order.length) / steps);
      const to = Math.floor(((step + 1) * order.length) / steps);
      order.slice(from, to).forEach(action);
      step += 1;
      if (step < steps) setTimeout(tick, windowMs / steps);
      else resolve();
    };
    setTimeout(tick, windowMs / steps);
  });
}
