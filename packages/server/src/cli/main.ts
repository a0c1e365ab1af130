import { readFile, writeFile } from 'node:fs/promises';
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { mintConnectToken } from '../auth/jwt.js';
import { configReference, withConfigReference } from '../config/docs.js';
import { applyOverrides, ConfigError, loadConfig, parseConfig, readConfigFile } from '../config/load.js';
import { version } from '../version.js';
import { demoBanner, demoConfig, type Running, startServer, stopServer } from './serve.js';

const usage = `fleetgate ${version}: a Centrifugo-compatible real-time WebSocket gateway

Usage:
  fleetgate serve [--port N] [--config FILE] [--broker URL] [--demo]
  fleetgate token --user ID [--ttl SECONDS] [--info JSON] [--channels a,b] [--config FILE]
  fleetgate bench <scenario> [--connections N] [--rate R] [--size BYTES] [--duration S] [--targets …] [--out DIR]
  fleetgate check-config FILE
  fleetgate config-docs [--write README.md]
  fleetgate --help | --version

Environment: FLEETGATE_PORT, FLEETGATE_CONFIG, FLEETGATE_BROKER,
FLEETGATE_TOKEN_HMAC_SECRET, FLEETGATE_API_KEY (flags > env > config file > defaults).
Exit codes: 0 ok, 1 runtime failure, 2 bad usage or invalid configuration.
`;

type Out = (text: string) => void;

export interface CliIo {
  readonly out: Out;
  readonly err: Out;
  readonly env: NodeJS.ProcessEnv;
}

const defaultIo: CliIo = {
  out: (t) => process.stdout.write(t),
  err: (t) => process.stderr.write(t),
  env: process.env,
};

class UsageError extends Error {}

function flags<const O extends NonNullable<ParseArgsConfig['options']>>(args: string[], options: O) {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

function integer(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`--${name} must be a non-negative integer`);
  return n;
}

async function serve(args: string[], io: CliIo): Promise<number> {
  const { values } = flags(args, {
    port: { type: 'string' },
    config: { type: 'string' },
    broker: { type: 'string' },
    demo: { type: 'boolean' },
  });
  const file = values.config ?? io.env['FLEETGATE_CONFIG'];
  const base = file === undefined ? {} : await readConfigFile(file);
  let input = applyOverrides(base, io.env, { port: integer(values.port, 'port'), broker: values.broker });
  if (values.demo) input = demoConfig(input);
  const running = await startServer(input);
  if (values.demo) io.out(await demoBanner(running));
  return waitForSignals(running);
}

/** First SIGTERM/SIGINT (or the `drain` API method) drains, exit 0 when done; a second signal closes at once. */
function waitForSignals(running: Running): Promise<number> {
  return new Promise((resolve) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals | 'drain api') => {
      running.gateway.logger.info({ signal, again: stopping }, 'shutting down');
      const immediate = stopping;
      stopping = true;
      stopServer(running, immediate).then(
        () => resolve(0),
        (err: unknown) => {
          running.gateway.logger.error({ err }, 'shutdown failed');
          resolve(1);
        },
      );
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    // A drain asked through the API ends the process the same way as a SIGTERM.
    running.gateway.once('draining', () => {
      if (!stopping) onSignal('drain api');
    });
  });
}

async function token(args: string[], io: CliIo): Promise<number> {
  const { values } = flags(args, {
    user: { type: 'string' },
    ttl: { type: 'string', default: '3600' },
    info: { type: 'string' },
    channels: { type: 'string' },
    config: { type: 'string' },
  });
  if (values.user === undefined) throw new UsageError('token needs --user');
  const config = await loadConfig(values.config ?? io.env['FLEETGATE_CONFIG'], io.env, {});
  const secret = config.client.token.hmacSecret;
  if (secret === undefined) throw new ConfigError(['client.token.hmacSecret: needed to mint tokens (or set FLEETGATE_TOKEN_HMAC_SECRET)']);
  let info: unknown;
  if (values.info !== undefined) {
    try {
      info = JSON.parse(values.info);
    } catch {
      throw new UsageError('--info must be JSON');
    }
  }
  const jwt = await mintConnectToken(secret, {
    user: values.user,
    ttlSeconds: integer(values.ttl, 'ttl') ?? 3600,
    ...(info !== undefined && { info: info as never }),
    ...(values.channels !== undefined && { channels: values.channels.split(',').filter(Boolean) }),
  });
  io.out(`${jwt}\n`);
  return 0;
}

async function checkConfig(args: string[], io: CliIo): Promise<number> {
  const { positionals } = flags(args, {});
  const file = positionals[0];
  if (file === undefined) throw new UsageError('check-config needs a FILE');
  parseConfig(await readConfigFile(file));
  io.out(`${file}: ok\n`);
  return 0;
}

async function configDocs(args: string[], io: CliIo): Promise<number> {
  const { values } = flags(args, { write: { type: 'string' } });
  const target = values.write;
  if (target === undefined) {
    io.out(`${configReference()}\n`);
    return 0;
  }
  await writeFile(target, withConfigReference(await readFile(target, 'utf8')));
  io.out(`updated ${target}\n`);
  return 0;
}

/** The bench lives in its own package (it depends on this one): loaded only when asked for. */
async function bench(args: string[], io: CliIo): Promise<number> {
  const specifier = '@fleetgate/bench';
  let module: { runBench(argv: readonly string[]): Promise<number> };
  try {
    module = (await import(specifier)) as typeof module;
  } catch {
    io.err('fleetgate: the benchmark package @fleetgate/bench is not installed (run it from the repository: npm run bench)\n');
    return 2;
  }
  return module.runBench(args);
}

const commands: Record<string, (args: string[], io: CliIo) => Promise<number>> = {
  serve,
  bench,
  token,
  'check-config': checkConfig,
  'config-docs': configDocs,
};

/** Runs the CLI; resolves to the process exit code. */
export async function main(argv: string[], io: CliIo = defaultIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === '--version' || name === '-v') {
    io.out(`${version}\n`);
    return 0;
  }
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.out(usage);
    return 0;
  }
  const command = commands[name];
  try {
    if (command === undefined) throw new UsageError(`unknown command "${name}"`);
    return await command(rest, io);
  } catch (err) {
    if (err instanceof ConfigError) {
      io.err(`fleetgate: ${err.message}\n`);
      return 2;
    }
    if (err instanceof UsageError) {
      io.err(`fleetgate: ${err.message}\n\n${usage}`);
      return 2;
    }
    io.err(`fleetgate: ${(err as Error).stack ?? String(err)}\n`);
    return 1;
  }
}
