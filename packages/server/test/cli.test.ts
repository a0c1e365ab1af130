import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jwtVerify } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { mintConnectToken } from '../src/auth/jwt.js';
import { SPEC_MINIMAL_CONFIG } from './fixtures.js';
import { RawClient } from './helpers.js';
import { bin, cleanEnv, GatewayProcess, root } from './process-helpers.js';

/**
 * These tests run the BUILT CLI (`packages/server/bin/fleetgate.js` → `dist/`), as a user
 * would; `npm test` builds first with `tsc -b`.
 */
const packageVersion = (JSON.parse(readFileSync(join(root, 'packages/server/package.json'), 'utf8')) as { version: string }).version;
const SECRET = 'cli-test-secret-long-enough-for-hs256';


let dir: string;
beforeAll(() => {
  if (!existsSync(join(root, 'packages/server/dist/cli/main.js'))) throw new Error('build first: npx tsc -b (npm test does)');
  dir = mkdtempSync(join(tmpdir(), 'fleetgate-cli-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let fileCount = 0;
function configFile(content: unknown): string {
  const file = join(dir, `config-${++fileCount}.json`);
  writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
  return file;
}

interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the CLI to completion; a run that outlives `timeoutMs` is killed and reported as such. */
function run(args: string[], env: Record<string, string> = {}, timeoutMs = 10_000): Promise<Exit> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { cwd: root, env: cleanEnv(env), timeout: timeoutMs, killSignal: 'SIGKILL' });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (signal === 'SIGKILL') reject(new Error(`fleetgate ${args.join(' ')} did not exit within ${timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
      else resolve({ code, signal, stdout, stderr });
    });
  });
}

const servers = new Set<GatewayProcess>();
const track = (server: GatewayProcess): GatewayProcess => {
  servers.add(server);
  return server;
};
const clients: RawClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  for (const s of [...servers]) {
    servers.delete(s);
    if (s.child.exitCode === null && s.child.signalCode === null) {
      s.child.kill('SIGKILL');
      await s.exited;
    }
  }
});

async function rawClient(port: number): Promise<RawClient> {
  const c = await RawClient.open(`ws://127.0.0.1:${port}/connection/websocket`);
  clients.push(c);
  return c;
}

function within<T>(promise: Promise<T>, label: string, ms = 5000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${label}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

describe('fleetgate (usage)', () => {
  it('--version prints the package version', async () => {
    const out = await run(['--version']);
    expect(out.code).toBe(0);
    expect(out.stdout.trim()).toBe(packageVersion);
  });

  it('bench delegates to the benchmark package', async () => {
    const out = await run(['bench', '--help']);
    expect(out.code).toBe(0);
    expect(out.stdout).toContain('Scenarios: idle, broadcast, rooms, churn, storm, slow');
  });

  it('--help prints the usage and exits 0', async () => {
    const out = await run(['--help']);
    expect(out.code).toBe(0);
    expect(out.stdout).toContain('Usage:');
    expect(out.stdout).toContain('fleetgate serve');
  });

  it('an unknown command exits 2', async () => {
    const out = await run(['frobnicate']);
    expect(out.code).toBe(2);
    expect(out.stderr).toContain('frobnicate');
  });
});

describe('fleetgate serve with an invalid config', () => {
  const cases: [string, unknown, string][] = [
    ['a non-numeric port', { port: 'x' }, 'port'],
    ['a negative queueMaxBytes', { client: { queueMaxBytes: -1 } }, 'client.queueMaxBytes'],
    ['an unknown key', { client: { queueMaxByte: 1024 } }, 'client.queueMaxByte'],
    ['an invalid duration', { client: { pingInterval: '10 parsecs' } }, 'client.pingInterval'],
  ];
  for (const [what, content, path] of cases) {
    it(`exits 2 naming ${path} for ${what}`, async () => {
      const out = await run(['serve', '--config', configFile(content)]);
      expect(out.code).toBe(2);
      expect(out.stderr).toContain(path);
      expect(out.stdout).not.toContain('fleetgate listening');
    });
  }

  it('exits 2 for a file that is not JSON', async () => {
    const out = await run(['serve', '--config', configFile('{ port: 8000 ')]);
    expect(out.code).toBe(2);
    expect(out.stderr).toContain('not a JSON object');
  });
});

describe('fleetgate check-config', () => {
  it('accepts the SPEC §6 minimal config verbatim', async () => {
    const file = configFile(SPEC_MINIMAL_CONFIG);
    const out = await run(['check-config', file]);
    expect({ code: out.code, stderr: out.stderr }).toEqual({ code: 0, stderr: '' });
    expect(out.stdout).toContain('ok');
  });

  it('rejects a bad config with exit 2 and the path', async () => {
    const out = await run(['check-config', configFile({ admission: { maxConnections: 'lots' } })]);
    expect(out.code).toBe(2);
    expect(out.stderr).toContain('admission.maxConnections');
  });
});

describe('fleetgate token', () => {
  it('mints a token that verifies against FLEETGATE_TOKEN_HMAC_SECRET', async () => {
    const out = await run(['token', '--user', '42', '--ttl', '60', '--info', '{"name":"Ann"}'], { FLEETGATE_TOKEN_HMAC_SECRET: SECRET });
    expect(out.code).toBe(0);
    const jwt = out.stdout.trim();
    const now = Math.floor(Date.now() / 1000);
    const { payload, protectedHeader } = await jwtVerify(jwt, new TextEncoder().encode(SECRET));
    expect(protectedHeader.alg).toBe('HS256');
    expect(payload.sub).toBe('42');
    expect(payload['info']).toEqual({ name: 'Ann' });
    expect(payload.exp).toBeGreaterThanOrEqual(now + 60 - 5);
    expect(payload.exp).toBeLessThanOrEqual(now + 60 + 5);
    await expect(jwtVerify(jwt, new TextEncoder().encode('another-secret-entirely'))).rejects.toThrow();
  });

  it('exits 2 naming client.token.hmacSecret when there is no secret', async () => {
    const out = await run(['token', '--user', '42']);
    expect(out.code).toBe(2);
    expect(out.stderr).toContain('client.token.hmacSecret');
  });
});

describe('fleetgate serve', () => {
  const serveConfig = (drainWindow: string) =>
    configFile({ port: 8000, host: '127.0.0.1', logLevel: 'info', client: { token: { hmacSecret: SECRET } }, shutdown: { drainWindow } });

  it('listens on FLEETGATE_PORT=0, closes clients with 3001 on SIGTERM and exits 0', async () => {
    const server = track(new GatewayProcess(['--config', serveConfig('200ms')], { FLEETGATE_PORT: '0' }));
    const port = await server.port();
    expect(port).not.toBe(8000); // the env overrides the file
    const client = await rawClient(port);
    const reply = await within(client.connect(await mintConnectToken(SECRET, { user: 'u1', ttlSeconds: 600 })), 'connect reply');
    expect(reply.kind).toBe('result');
    server.child.kill('SIGTERM');
    expect(await within(client.closed, 'the drain close')).toEqual({ code: 3001, reason: 'shutdown' });
    expect(await server.exitWithin(10_000)).toEqual({ code: 0, signal: null });
  });

  it('a second SIGTERM during a long drain exits promptly with 0', async () => {
    const server = track(new GatewayProcess(['--config', serveConfig('60s')], { FLEETGATE_PORT: '0' }));
    const port = await server.port();
    // Two clients: with a 60 s window the drain would close them at 30 s and 60 s.
    const first = await rawClient(port);
    const second = await rawClient(port);
    for (const c of [first, second]) expect((await within(c.connect(await mintConnectToken(SECRET, { user: 'u', ttlSeconds: 600 })), 'connect')).kind).toBe('result');
    server.child.kill('SIGTERM');
    await server.waitFor('the draining log line', () => (server.logs().some((l) => l['msg'] === 'draining') ? true : undefined));
    expect(first.ws.readyState).toBe(first.ws.OPEN);
    const started = Date.now();
    server.child.kill('SIGTERM');
    expect(await within(first.closed, 'first client close', 5000)).toEqual({ code: 3001, reason: 'shutdown' });
    expect(await within(second.closed, 'second client close', 5000)).toEqual({ code: 3001, reason: 'shutdown' });
    expect(await server.exitWithin(5000)).toEqual({ code: 0, signal: null });
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('--demo prints a banner with a token, an API key, a curl line and the /demo URL, and serves the demo', async () => {
    // A short drain window: the server may still count the closed client when SIGTERM lands.
    const server = track(new GatewayProcess(['--demo', '--config', configFile({ shutdown: { drainWindow: '200ms' } })], { FLEETGATE_PORT: '0' }));
    const port = await server.port();
    const banner = await server.waitFor('the demo banner', () => (/^\s+-d '\{"channel"/m.test(server.stdout) ? server.stdout : undefined));
    const tokenValue = /Token:\s+(\S+)/.exec(banner)?.[1];
    const apiKey = /API key:\s+(\S+)/.exec(banner)?.[1];
    expect(tokenValue).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
    expect(apiKey).toBeTruthy();
    expect(banner).toMatch(/curl .*\/api\/publish/);
    expect(banner).toContain(`X-API-Key: ${apiKey}`);
    expect(banner).toContain(`http://localhost:${port}/demo#token=${tokenValue}`);

    const page = await fetch(`http://127.0.0.1:${port}/demo`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    expect(await page.text()).toContain('<script src="/demo/centrifuge.js"></script>');
    const js = await fetch(`http://127.0.0.1:${port}/demo/centrifuge.js`);
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toContain('javascript');
    expect(await js.text()).toContain('Centrifuge');

    const client = await rawClient(port);
    const reply = await within(client.connect(tokenValue), 'connect with the printed token');
    expect(reply.kind).toBe('result');
    const published = await fetch(`http://127.0.0.1:${port}/api/publish`, {
      method: 'POST',
      headers: { 'x-api-key': apiKey ?? '' },
      body: JSON.stringify({ channel: 'news', data: { text: 'hello from curl' } }),
    });
    expect(await published.json()).toEqual({ result: {} });

    client.close();
    await client.closed;
    server.child.kill('SIGTERM');
    expect((await server.exitWithin(10_000)).code).toBe(0);
  });
});
