import { readFile } from 'node:fs/promises';
import { type Config, type ConfigInput, configSchema } from './schema.js';

/** A configuration that failed validation: each problem names its JSON path. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

function formatPath(path: readonly PropertyKey[]): string {
  return path.length === 0 ? '(root)' : path.map((k) => String(k)).join('.');
}

export function parseConfig(input: unknown): Config {
  const result = configSchema.safeParse(input);
  if (result.success) return result.data;
  throw new ConfigError(
    result.error.issues.flatMap((issue) =>
      issue.code === 'unrecognized_keys'
        ? issue.keys.map((key) => `${formatPath([...issue.path, key])}: unknown key`)
        : [`${formatPath(issue.path)}: ${issue.message}`],
    ),
  );
}

export async function readConfigFile(file: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (cause) {
    throw new ConfigError([`${file}: cannot read (${(cause as Error).message})`]);
  }
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('top level must be an object');
    return value as Record<string, unknown>;
  } catch (cause) {
    throw new ConfigError([`${file}: not a JSON object (${(cause as Error).message})`]);
  }
}

export interface Overrides {
  port?: number | undefined;
  broker?: string | undefined;
}

function setPath(target: Record<string, unknown>, path: readonly string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    node = typeof next === 'object' && next !== null && !Array.isArray(next) ? (next as Record<string, unknown>) : (node[key] = {});
  }
  node[path[path.length - 1] ?? ''] = value;
}

/** A numeric string becomes a number; anything else stays for the schema to reject with its path. */
const numberish = (text: string): unknown => (/^\d+$/.test(text) ? Number(text) : text);

const envPaths: readonly [string, readonly string[], (text: string) => unknown][] = [
  ['FLEETGATE_PORT', ['port'], numberish],
  ['FLEETGATE_BROKER', ['broker'], String],
  ['FLEETGATE_API_KEY', ['api', 'key'], String],
  ['FLEETGATE_TOKEN_HMAC_SECRET', ['client', 'token', 'hmacSecret'], String],
];

/** Precedence: flags > FLEETGATE_* env > file > schema defaults. */
export function applyOverrides(base: Record<string, unknown>, env: NodeJS.ProcessEnv, flags: Overrides): ConfigInput {
  const out = structuredClone(base);
  for (const [name, path, convert] of envPaths) {
    const value = env[name];
    if (value !== undefined) setPath(out, path, convert(value));
  }
  if (flags.port !== undefined) out['port'] = flags.port;
  if (flags.broker !== undefined) out['broker'] = flags.broker;
  return out as ConfigInput;
}

export async function loadConfig(file: string | undefined, env: NodeJS.ProcessEnv, flags: Overrides): Promise<Config> {
  const base = file === undefined ? {} : await readConfigFile(file);
  return parseConfig(applyOverrides(base, env, flags));
}
