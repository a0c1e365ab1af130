import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A redis-server or nats-server (JetStream on) of the bench's own, on a free loopback
 * port, so a run never shares state with the machine's services on 6379 / 4222 nor with
 * another run. Pinned like the servers under test: its CPU competes with theirs on
 * core 0, as a broker on a gateway host would, and stays off the generators' core.
 */

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no free port'))));
    });
  });
}

type Kind = 'redis' | 'nats';

function commandFor(kind: Kind, port: number, dir: string): { command: string; args: string[]; ready: RegExp } {
  if (kind === 'redis') {
    // No persistence: snapshots or AOF fsyncs would land in the measured window at random.
    return { command: 'redis-server', args: ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], ready: /Ready to accept connections/ };
  }
  return { command: 'nats-server', args: ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', dir], ready: /Server is ready/ };
}

export class BrokerProcess {
  private constructor(
    readonly kind: Kind,
    readonly url: string,
    private readonly child: ChildProcess,
    private readonly dir: string,
  ) {}

  /** The broker's own pid (taskset execs it, so the child's pid is the broker's). */
  get pid(): number {
    return this.child.pid ?? 0;
  }

  static async start(kind: Kind, core: number | undefined): Promise<BrokerProcess> {
    const port = await freePort();
    const dir = await mkdtemp(join(tmpdir(), `fleetgate-bench-${kind}-`));
    const { command, args, ready } = commandFor(kind, port, dir);
    const [cmd, argv] = core === undefined ? [command, args] : ['taskset', ['-c', String(core), command, ...args]];
    const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'], cwd: dir });
    try {
      await new Promise<void>((resolve, reject) => {
        let output = '';
        const onData = (chunk: Buffer) => {
          output += chunk.toString();
          if (ready.test(output)) resolve();
        };
        child.stdout?.on('data', onData);
        child.stderr?.on('data', onData);
        child.once('error', (err) => reject(new Error(`cannot start ${command} (is it installed?): ${err.message}`)));
        child.once('exit', (code) => reject(new Error(`${command} exited with ${String(code)} before it was ready:\n${output.slice(-2000)}`)));
        setTimeout(() => reject(new Error(`${command} not ready after 15 s:\n${output.slice(-2000)}`)), 15_000).unref();
      });
    } catch (err) {
      child.kill('SIGKILL');
      await rm(dir, { recursive: true, force: true });
      throw err;
    }
    // Keep draining its output so a chatty broker never blocks on a full pipe.
    child.stdout?.resume();
    child.stderr?.resume();
    live.add(child);
    return new BrokerProcess(kind, `${kind}://127.0.0.1:${port}`, child, dir);
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      const exited = once(this.child, 'exit');
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
    live.delete(this.child);
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** Brokers still running; killed if the orchestrator exits abruptly. */
const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of live) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});
