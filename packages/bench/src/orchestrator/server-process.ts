import { type ChildProcess, spawn } from 'node:child_process';
import { request } from 'node:http';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { DROP_PATH, LAG_PATH, type LoopLag, type ReadyLine, STATS_PATH } from '../targets/harness.js';
import type { ServerStats, TargetName } from '../types.js';
import { pinnedCommand } from './pinning.js';

/** Built target entry points; this file is dist/orchestrator/*.js (or src/… under vitest). */
function targetEntry(target: TargetName): string {
  return fileURLToPath(new URL(`../../dist/targets/${target}.js`, import.meta.url));
}

function httpCall<T>(port: number, method: 'GET' | 'POST', path: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, agent: false, timeout: 30_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        try {
          resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')) as T);
        } catch (err) {
          reject(err instanceof Error ? err : new Error(String(err)));
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

/** The server under test, in its own (pinned) process. */
export class ServerProcess {
  private constructor(
    readonly target: TargetName,
    private readonly child: ChildProcess,
    readonly port: number,
    readonly pid: number,
  ) {}

  /** `targetArgs` go to the target itself (fleetgate: --broker, --name, --history-size, --config-json). */
  static async start(target: TargetName, core: number | undefined, nodeFlags: readonly string[] = [], targetArgs: readonly string[] = []): Promise<ServerProcess> {
    const { command, args } = pinnedCommand(core, ['--expose-gc', ...nodeFlags, targetEntry(target), ...targetArgs]);
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'inherit'] });
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    const exited = once(child, 'exit').then(([code]) => {
      throw new Error(`${target} target exited with ${String(code)} before it was ready`);
    });
    const ready = (async () => {
      for await (const line of lines) {
        const parsed = JSON.parse(line) as Partial<ReadyLine>;
        if (typeof parsed.port === 'number' && typeof parsed.pid === 'number') return parsed as ReadyLine;
      }
      throw new Error(`${target} target ended before it was ready (its stderr is above)`);
    })();
    const line = await Promise.race([ready, exited]);
    lines.close();
    // Keep draining stdout so a chatty target never blocks on a full pipe.
    child.stdout?.resume();
    return new ServerProcess(target, child, line.port, line.pid);
  }

  get url(): string {
    return `ws://127.0.0.1:${this.port}`;
  }

  /** Memory and CPU as the target sees them; with `gc`, after a full collection. */
  stats(gc: boolean): Promise<ServerStats> {
    return httpCall<ServerStats>(this.port, 'GET', `${STATS_PATH}${gc ? '?gc=1' : ''}`);
  }

  /** Destroys every client TCP connection at once (the server side of the storm), but those from `keepPrefix`. */
  async drop(keepPrefix?: string): Promise<number> {
    const query = keepPrefix === undefined ? '' : `?keep=${encodeURIComponent(keepPrefix)}`;
    const reply = await httpCall<{ dropped: number }>(this.port, 'POST', `${DROP_PATH}${query}`);
    return reply.dropped;
  }

  /** Starts watching the server's event-loop delay (the wrapper's monitorEventLoopDelay). */
  async lagStart(): Promise<void> {
    await httpCall<unknown>(this.port, 'POST', LAG_PATH);
  }

  /** Event-loop delay since lagStart(), and stops watching. */
  lagRead(): Promise<LoopLag> {
    return httpCall<LoopLag>(this.port, 'GET', LAG_PATH);
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = once(this.child, 'exit');
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }

  /** Synchronous last resort when the orchestrator itself exits. */
  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }
}
