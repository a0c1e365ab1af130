import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** Readers of Linux /proc: a process's CPU time and RSS, and per-core busy time. */

function getconf(name: string, fallback: number): number {
  try {
    const value = Number(execFileSync('getconf', [name], { encoding: 'utf8' }).trim());
    return Number.isFinite(value) && value > 0 ? value : fallback;
  } catch {
    return fallback;
  }
}

const ticksPerSecond = getconf('CLK_TCK', 100);
const pageSize = getconf('PAGESIZE', 4096);

export interface ProcessSample {
  /** utime + stime of the process itself (not its children), µs. */
  readonly cpuUs: number;
  /** stime alone: CPU spent in the kernel for it (syscalls, TCP on loopback), µs. */
  readonly sysUs: number;
  readonly rssBytes: number;
}

/** undefined when the process is gone. */
export function readProcess(pid: number): ProcessSample | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which is in parentheses and may hold spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    const rssPages = Number(fields[21]);
    return { cpuUs: ((utime + stime) * 1e6) / ticksPerSecond, sysUs: (stime * 1e6) / ticksPerSecond, rssBytes: rssPages * pageSize };
  } catch {
    return undefined;
  }
}

export interface CpuTimes {
  readonly busy: number;
  readonly total: number;
}

/** Busy and total jiffies of the whole machine ("cpu") and of each core ("cpu0", "cpu1", …). */
export function readCpuTimes(): Map<string, CpuTimes> {
  const out = new Map<string, CpuTimes>();
  let text = '';
  try {
    text = readFileSync('/proc/stat', 'utf8');
  } catch {
    return out;
  }
  for (const line of text.split('\n')) {
    if (!line.startsWith('cpu')) continue;
    const [name, ...rest] = line.trim().split(/\s+/);
    if (name === undefined) continue;
    const values = rest.map(Number);
    const total = values.reduce((a, b) => a + b, 0);
    // idle + iowait are not busy.
    const idle = (values[3] ?? 0) + (values[4] ?? 0);
    out.set(name, { busy: total - idle, total });
  }
  return out;
}

/** Busy % of `name` between two readings (NaN if it is not there). */
export function busyPercent(before: Map<string, CpuTimes>, after: Map<string, CpuTimes>, name: string): number {
  const a = before.get(name);
  const b = after.get(name);
  if (a === undefined || b === undefined || b.total === a.total) return Number.NaN;
  return (100 * (b.busy - a.busy)) / (b.total - a.total);
}
