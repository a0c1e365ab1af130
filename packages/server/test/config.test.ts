import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CONFIG_END, CONFIG_START, configReference, withConfigReference } from '../src/config/docs.js';
import { applyOverrides, ConfigError, parseConfig } from '../src/config/load.js';
import { namespaceDefaults } from '../src/config/schema.js';
import { Namespaces } from '../src/config/namespaces.js';
import { SPEC_MINIMAL_CONFIG } from './fixtures.js';

/** The problems of an invalid config (fails the test if it is accepted). */
function problems(input: unknown): readonly string[] {
  try {
    parseConfig(input);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error(`config was accepted: ${JSON.stringify(input)}`);
}

/** The JSON paths the problems name (the part before ": "). */
function paths(input: unknown): string[] {
  return problems(input).map((p) => p.slice(0, p.indexOf(': ')));
}

describe('parseConfig', () => {
  it('fills the documented defaults', () => {
    const config = parseConfig({});
    expect(config.port).toBe(8000);
    expect(config.broker).toBe('memory://');
    expect(config.client.pingInterval).toBe(25_000);
    expect(config.client.pongTimeout).toBe(8_000);
    expect(config.client.queueMaxBytes).toBe(1_048_576);
    expect(config.client.insecure).toBe(false);
    expect(config.api.idempotencyWindow).toBe(5 * 60_000);
    expect(config.shutdown.drainWindow).toBe(30_000);
    expect(config.admission).toEqual({ maxConnections: 0, acceptRate: 0, maxConnectionsPerIp: 0, maxEventLoopLag: 0, stormFactor: 5, stormMinRate: 50 });
    expect(config.overload).toMatchObject({ eventLoopLag: 200, cpu: 0.9, bulkBatchMs: 250 });
    expect(config.channel.defaults).toEqual(namespaceDefaults);
    expect(config.channel.namespaces).toEqual({});
  });

  it('accepts the SPEC §6 minimal config as is', () => {
    const config = parseConfig(JSON.parse(SPEC_MINIMAL_CONFIG));
    expect(config.port).toBe(8000);
    expect(config.client.token.hmacSecret).toBe('change-me');
    expect(config.client.slowTimeout).toBe(10_000);
    expect(config.shutdown.drainWindow).toBe(30_000);
    expect(config.api.key).toBe('change-me-too');
    expect(config.channel.defaults.allowSubscribeForClient).toBe(true);
    expect(config.channel.namespaces['chat']?.allowPublishForSubscriber).toBe(true);
    expect(Object.keys(config.channel.namespaces).sort()).toEqual(['chat', 'prices']);
  });

  it('reads durations as "250ms", "30s", "5m" strings or as milliseconds', () => {
    const at = (pingInterval: string | number) => parseConfig({ client: { pingInterval } }).client.pingInterval;
    expect(at('250ms')).toBe(250);
    expect(at('30s')).toBe(30_000);
    expect(at('5m')).toBe(300_000);
    expect(at('1.5s')).toBe(1_500);
    expect(at(1234)).toBe(1234);
    expect(at(0)).toBe(0);
    expect(parseConfig({ shutdown: { drainWindow: '200ms' } }).shutdown.drainWindow).toBe(200);
  });

  it('names the path of an invalid duration', () => {
    const found = problems({ client: { pingInterval: '10 parsecs' } });
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(/^client\.pingInterval: .*10 parsecs/);
    expect(paths({ client: { pingInterval: -5 } })).toEqual(['client.pingInterval']);
    expect(paths({ client: { pingInterval: 1.5 } })).toEqual(['client.pingInterval']);
  });

  it('names the full path of an unknown key', () => {
    const found = problems({ channel: { namespaces: { chat: { allowFoo: true } } } });
    expect(found.join('\n')).toContain('channel.namespaces.chat.allowFoo');
  });

  it('names the path of a wrong value', () => {
    expect(paths({ admission: { maxConnections: -1 } })).toEqual(['admission.maxConnections']);
    expect(paths({ admission: { maxConnections: 'many' } })).toEqual(['admission.maxConnections']);
    expect(paths({ port: 70_000 })).toEqual(['port']);
    expect(paths({ channel: { namespaces: { 'bad name': {} } } })[0]).toContain('channel.namespaces');
  });

  it('lists every problem, not only the first', () => {
    expect(paths({ port: 'x', client: { queueMaxBytes: -1 }, shutdown: { drainWindow: 'soon' } }).sort()).toEqual([
      'client.queueMaxBytes',
      'port',
      'shutdown.drainWindow',
    ]);
  });

  it('says (root) for a config that is not an object', () => {
    expect(problems(42)[0]).toMatch(/^\(root\): /);
  });
});

describe('applyOverrides', () => {
  const file = { port: 1000, broker: 'memory://file', api: { key: 'file-key', insecure: false } };

  it('keeps the file when there is no env and no flag', () => {
    expect(parseConfig(applyOverrides(file, {}, {}))).toMatchObject({ port: 1000, broker: 'memory://file', api: { key: 'file-key' } });
  });

  it('lets env override the file and flags override env', () => {
    const env = { FLEETGATE_PORT: '2000', FLEETGATE_BROKER: 'memory://env', FLEETGATE_API_KEY: 'env-key', FLEETGATE_TOKEN_HMAC_SECRET: 'env-secret' };
    const fromEnv = parseConfig(applyOverrides(file, env, {}));
    expect(fromEnv.port).toBe(2000);
    expect(fromEnv.broker).toBe('memory://env');
    expect(fromEnv.api.key).toBe('env-key');
    expect(fromEnv.api.insecure).toBe(false); // siblings of an overridden key survive
    expect(fromEnv.client.token.hmacSecret).toBe('env-secret');
    const fromFlags = parseConfig(applyOverrides(file, env, { port: 3000, broker: 'memory://flag' }));
    expect(fromFlags.port).toBe(3000);
    expect(fromFlags.broker).toBe('memory://flag');
    expect(fromFlags.api.key).toBe('env-key');
  });

  it('does not modify the file config it is given', () => {
    const base = structuredClone(file);
    applyOverrides(base, { FLEETGATE_PORT: '2000', FLEETGATE_API_KEY: 'k' }, { port: 3000 });
    expect(base).toEqual(file);
  });

  it('accepts FLEETGATE_PORT=0', () => {
    expect(parseConfig(applyOverrides({}, { FLEETGATE_PORT: '0' }, {})).port).toBe(0);
  });

  it('reports a non-numeric FLEETGATE_PORT under port', () => {
    expect(paths(applyOverrides(file, { FLEETGATE_PORT: 'eighty' }, {}))).toEqual(['port']);
  });
});

describe('namespace resolution', () => {
  const namespaces = new Namespaces(
    parseConfig({
      channel: {
        defaults: { allowSubscribeForClient: true, allowPublishForClient: true },
        namespaces: { chat: { allowPublishForClient: false, allowUserLimitedChannels: true }, plain: {} },
      },
    }).channel,
  );

  it('resolves channels without a namespace to channel.defaults over the built-in defaults', () => {
    expect(namespaces.get('')).toEqual({ ...namespaceDefaults, allowSubscribeForClient: true, allowPublishForClient: true });
  });

  it('lets a namespace inherit channel.defaults and override them', () => {
    expect(namespaces.get('chat')).toEqual({
      ...namespaceDefaults,
      allowSubscribeForClient: true,
      allowPublishForClient: false,
      allowUserLimitedChannels: true,
    });
    expect(namespaces.get('plain')).toEqual(namespaces.get(''));
  });

  it('resolves an unknown namespace to undefined', () => {
    expect(namespaces.get('nope')).toBeUndefined();
    expect(namespaces.get('Chat')).toBeUndefined();
  });
});

describe('config reference in the README', () => {
  const readmeUrl = new URL('../../../README.md', import.meta.url);

  it('README.md holds the current generated reference', () => {
    const readme = readFileSync(readmeUrl, 'utf8');
    expect(readme).toContain(CONFIG_START);
    expect(withConfigReference(readme)).toBe(readme);
  });

  it('withConfigReference replaces only the section between the markers, idempotently', () => {
    const stale = `# Fleetgate\n\nIntro.\n\n${CONFIG_START}\n| stale | table |\n${CONFIG_END}\n\nOutro.\n`;
    const updated = withConfigReference(stale);
    expect(updated).toBe(`# Fleetgate\n\nIntro.\n\n${CONFIG_START}\n${configReference()}\n${CONFIG_END}\n\nOutro.\n`);
    expect(withConfigReference(updated)).toBe(updated);
    expect(() => withConfigReference('# no markers\n')).toThrow();
  });

  it('the generated reference lists nested keys with their defaults', () => {
    const reference = configReference();
    expect(reference).toMatch(/^\| `port` \| integer \| `8000` \|/m);
    expect(reference).toMatch(/^\| `client\.queueMaxBytes` \| integer \| `1048576` \|/m);
    expect(reference).toMatch(/^\| `client\.pingInterval` \| duration \| `"25s"` \|/m);
    expect(reference).toContain('`channel.defaults.allowPublishForSubscriber`');
    expect(reference).toContain('`channel.namespaces');
    expect(reference).toContain('`shutdown.drainWindow`');
  });
});
