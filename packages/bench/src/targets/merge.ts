/** JSON objects (not arrays, not null). */
export type JsonObject = { [key: string]: unknown };

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * `extra` merged into `base`, recursively for nested objects; arrays and scalars in
 * `extra` replace what `base` has. Neither input is modified.
 */
export function deepMerge(base: JsonObject, extra: JsonObject): JsonObject {
  const out: JsonObject = { ...base };
  for (const [key, value] of Object.entries(extra)) {
    const current = out[key];
    out[key] = isJsonObject(current) && isJsonObject(value) ? deepMerge(current, value) : value;
  }
  return out;
}

/** Parses `--fleetgate-config` text: a JSON object, or an Error saying why not. */
export function parseConfigJson(text: string): JsonObject | Error {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    return new Error(`not JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  return isJsonObject(parsed) ? parsed : new Error('expects a JSON object');
}
