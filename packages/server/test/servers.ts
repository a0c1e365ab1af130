import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A free TCP port on loopback (bound and released; the caller binds it right away). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** A broker server process of our own (redis-server, nats-server) on a port of its own. */
export interface TestServer {
  readonly url: string;
  readonly port: number;
  /** Kills the process (SIGKILL) and waits for it to be gone. */
  kill(): Promise<void>;
  /** Starts it again on the same port. */
  start(): Promise<void>;
  stop(): Promise<void>;
}

function launch(command: string, args: string[], ready: RegExp, label: string): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (ready.test(output)) {
        child.stdout?.off('data', onData);
        child.stderr?.off('data', onData);
        child.stdout?.resume();
        child.stderr?.resume();
        resolve(child);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`${label} exited with ${code} before it was ready:\n${output}`)));
  });
}

async function managed(port: number, url: string, run: () => Promise<ChildProcess>, cleanup: () => void = () => {}): Promise<TestServer> {
  let child: ChildProcess | undefined = await run();
  const kill = async () => {
    const current = child;
    child = undefined;
    if (current === undefined || current.exitCode !== null || current.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      current.once('exit', () => resolve());
      current.kill('SIGKILL');
    });
  };
  return {
    url,
    port,
    kill,
    start: async () => {
      child = await run();
    },
    stop: async () => {
      await kill();
      cleanup();
    },
  };
}

export async function startRedis(): Promise<TestServer> {
  const port = await freePort();
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
  return managed(port, `redis://127.0.0.1:${port}`, () => launch('redis-server', args, /Ready to accept connections/, 'redis-server'));
}

export async function startNats(): Promise<TestServer> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'fleetgate-nats-'));
  const args = ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', dir];
  return managed(
    port,
    `nats://127.0.0.1:${port}`,
    () => launch('nats-server', args, /Server is ready/, 'nats-server'),
    () => rmSync(dir, { recursive: true, force: true }),
  );
}
