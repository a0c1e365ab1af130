import { execFileSync } from 'node:child_process';
import { availableParallelism } from 'node:os';

/** Where processes run: the server on core 0, everything that makes load on core 1. */
export interface Pinning {
  readonly pinned: boolean;
  readonly serverCore: number | undefined;
  readonly generatorCore: number | undefined;
}

export const unpinned: Pinning = { pinned: false, serverCore: undefined, generatorCore: undefined };

function hasTaskset(): boolean {
  try {
    execFileSync('taskset', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export function choosePinning(wanted: boolean, warn: (message: string) => void): Pinning {
  if (!wanted) return unpinned;
  if (!hasTaskset()) {
    warn('taskset not found: server and generators are not pinned (numbers are less reliable)');
    return unpinned;
  }
  if (availableParallelism() < 2) {
    warn('fewer than 2 cores: server and generators are not pinned');
    return unpinned;
  }
  return { pinned: true, serverCore: 0, generatorCore: 1 };
}

/** Command and arguments that run `node args…` on `core` (or unpinned). */
export function pinnedCommand(core: number | undefined, args: readonly string[]): { command: string; args: string[] } {
  if (core === undefined) return { command: process.execPath, args: [...args] };
  return { command: 'taskset', args: ['-c', String(core), process.execPath, ...args] };
}
