import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import type { CallKind, WorkerCalls, WorkerReply } from '../ipc.js';

const workerEntry = fileURLToPath(new URL('../../dist/worker/main.js', import.meta.url));

/** A load-generator process and its request/reply channel. */
export class WorkerHandle {
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (value: unknown) => void; reject: (err: Error) => void }>();
  private readonly child: ChildProcess;
  private exitError: Error | undefined;

  constructor(
    readonly name: string,
    core: number | undefined,
    nodeFlags: readonly string[] = [],
  ) {
    // fork runs `execPath ...execArgv entry`; with taskset as execPath that is `taskset -c N node entry`.
    const pin = core === undefined ? { execArgv: [...nodeFlags] } : { execPath: 'taskset', execArgv: ['-c', String(core), process.execPath, ...nodeFlags] };
    this.child = fork(workerEntry, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], ...pin });
    this.child.on('message', (reply: WorkerReply) => {
      const waiter = this.waiting.get(reply.id);
      if (waiter === undefined) return;
      this.waiting.delete(reply.id);
      if (reply.ok) waiter.resolve(reply.value);
      else waiter.reject(new Error(`${this.name}: ${reply.error}`));
    });
    this.child.on('exit', (code, signal) => {
      this.exitError = new Error(`${this.name} exited (${signal ?? code ?? 'unknown'})`);
      for (const waiter of this.waiting.values()) waiter.reject(this.exitError);
      this.waiting.clear();
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  call<K extends CallKind>(kind: K, body: WorkerCalls[K]['req']): Promise<WorkerCalls[K]['res']> {
    if (this.exitError !== undefined) return Promise.reject(this.exitError);
    const id = this.nextId++;
    return new Promise<WorkerCalls[K]['res']>((resolve, reject) => {
      // The worker answers `kind` with WorkerCalls[K]['res'] (ipc.ts); IPC carries it untyped.
      this.waiting.set(id, { resolve: (value) => resolve(value as WorkerCalls[K]['res']), reject });
      this.child.send({ id, kind, body });
    });
  }

  async shutdown(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = once(this.child, 'exit');
    await this.call('shutdown', {}).catch(() => undefined);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(timer);
  }

  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }
}
