import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = fileURLToPath(new URL('../../../', import.meta.url));
export const bin = join(root, 'packages/server/bin/fleetgate.js');

/** The parent's env without FLEETGATE_* variables, plus `extra`. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('FLEETGATE_')) env[k] = v;
  return { ...env, ...extra };
}

/** A long-running `fleetgate serve` process of the built CLI. */
export class GatewayProcess {
  readonly child: ChildProcessWithoutNullStreams;
  stdout = '';
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly watchers: (() => void)[] = [];

  constructor(args: string[], env: Record<string, string>) {
    this.child = spawn(process.execPath, [bin, 'serve', ...args], { cwd: root, env: cleanEnv(env) });
    this.exited = new Promise((resolve) => this.child.once('exit', (code, signal) => resolve({ code, signal })));
    const onData = () => this.watchers.forEach((w) => w());
    this.child.stdout.on('data', (d: Buffer) => {
      this.stdout += d.toString();
      onData();
    });
    this.child.stderr.on('data', (d: Buffer) => {
      this.stderr += d.toString();
      onData();
    });
    void this.exited.then(() => onData());
  }

  /** JSON log lines printed so far. */
  logs(): Record<string, unknown>[] {
    return this.stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  }

  /** Resolves once `predicate` holds for the output; rejects if the process exits first or `ms` pass. */
  waitFor<T>(label: string, predicate: () => T | undefined, ms = 10_000): Promise<T> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => done(new Error(`timed out waiting for ${label}\nstdout: ${this.stdout}\nstderr: ${this.stderr}`)), ms);
      const check = () => {
        const value = predicate();
        if (value !== undefined) return done(undefined, value);
        if (this.child.exitCode !== null || this.child.signalCode !== null) {
          done(new Error(`exited (${this.child.exitCode ?? this.child.signalCode}) before ${label}\nstdout: ${this.stdout}\nstderr: ${this.stderr}`));
        }
      };
      const done = (err: Error | undefined, value?: T) => {
        clearTimeout(timer);
        const i = this.watchers.indexOf(check);
        if (i !== -1) this.watchers.splice(i, 1);
        if (err) reject(err);
        else resolve(value as T);
      };
      this.watchers.push(check);
      check();
    });
  }

  /** The port from the `fleetgate listening` log line. */
  port(): Promise<number> {
    return this.waitFor('the "fleetgate listening" log line', () => {
      const line = this.logs().find((l) => l['msg'] === 'fleetgate listening');
      return typeof line?.['port'] === 'number' ? line['port'] : undefined;
    });
  }

  exitWithin(ms: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`fleetgate serve did not exit within ${ms} ms\nstdout: ${this.stdout}\nstderr: ${this.stderr}`)), ms);
    });
    return Promise.race([this.exited, timeout]).finally(() => clearTimeout(timer));
  }
}
