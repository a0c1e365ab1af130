import { z } from 'zod';
import { parseDuration } from '../core/duration.js';

/** A duration as `"250ms"`, `"30s"`, `"5m"`, `"1h"`, `"7d"` or milliseconds; parsed to milliseconds. */
export const durationMs = z.union([z.number().int().nonnegative(), z.string()]).transform((value, ctx) => {
  if (typeof value === 'number') return value;
  const ms = parseDuration(value);
  if (ms === undefined) {
    ctx.addIssue({ code: 'custom', message: `invalid duration "${value}" (use e.g. "250ms", "30s", "5m" or milliseconds)` });
    return z.NEVER;
  }
  return ms;
});

export const duration = (fallback: string, description: string) => durationMs.prefault(fallback).describe(description);
