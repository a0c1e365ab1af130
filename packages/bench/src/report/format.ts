/** Number formatting shared by the markdown table and the chart. */

export function num(value: number | null | undefined, digits = 0): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '—';
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** Milliseconds with precision that suits the size: 0.123, 12.3, 1,234. */
export function ms(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '—';
  if (value < 1) return num(value, 3);
  if (value < 100) return num(value, 1);
  return num(value, 0);
}

export function bytes(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '—';
  const abs = Math.abs(value);
  if (abs >= 1024 * 1024 * 1024) return `${num(value / 1024 ** 3, 2)} GiB`;
  if (abs >= 1024 * 1024) return `${num(value / 1024 ** 2, 1)} MiB`;
  if (abs >= 1024) return `${num(value / 1024, 1)} KiB`;
  return `${num(value, 0)} B`;
}

/** Short form for chart labels: 1.2k, 34k, 1.5M. */
export function compact(value: number): string {
  if (!Number.isFinite(value)) return '—';
  if (Math.abs(value) >= 1e6) return `${num(value / 1e6, 1)}M`;
  if (Math.abs(value) >= 1e4) return `${num(value / 1e3, 0)}k`;
  if (Math.abs(value) >= 1e3) return `${num(value / 1e3, 1)}k`;
  return num(value, value === 0 || value >= 10 ? 0 : 1);
}
