import { readdir, readFile, readlink } from 'node:fs/promises';
import { connect } from 'node:net';
import type { BrokerKind } from '../types.js';

/**
 * Finds the pid of a broker given by URL, so its CPU can be read from /proc. Only a
 * broker on this machine (loopback host) can be found; any doubt gives no pid and the
 * report says "not found" rather than counting the wrong process.
 */

const loopback = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

function hostPort(url: string, fallbackPort: number): { host: string; port: number } | undefined {
  try {
    const parsed = new URL(url);
    return { host: parsed.hostname, port: parsed.port === '' ? fallbackPort : Number(parsed.port) };
  } catch {
    return undefined;
  }
}

/** The process name must match, so a recycled or misreported pid is never counted. */
async function isBroker(pid: number, kind: BrokerKind): Promise<boolean> {
  const comm = await readFile(`/proc/${pid}/comm`, 'utf8').catch(() => '');
  return comm.trim().startsWith(kind === 'redis' ? 'redis-server' : 'nats-server');
}

/** Inodes of sockets listening on `port` (IPv4 and IPv6 tables of /proc/net). */
async function listeningInodes(port: number): Promise<Set<string>> {
  const inodes = new Set<string>();
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    const text = await readFile(table, 'utf8').catch(() => '');
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      // local_address is HEXIP:HEXPORT, st 0A is LISTEN, field 9 is the inode.
      if (fields[1]?.endsWith(`:${hexPort}`) === true && fields[3] === '0A' && fields[9] !== undefined) inodes.add(fields[9]);
    }
  }
  return inodes;
}

/** Pids holding one of `inodes` open (only processes whose fds we may read: ours, or all as root). */
async function socketOwners(inodes: Set<string>): Promise<number[]> {
  if (inodes.size === 0) return [];
  const owners: number[] = [];
  for (const entry of await readdir('/proc').catch(() => [])) {
    if (!/^\d+$/.test(entry)) continue;
    const fds = await readdir(`/proc/${entry}/fd`).catch(() => []);
    for (const fd of fds) {
      const target = await readlink(`/proc/${entry}/fd/${fd}`).catch(() => '');
      const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
      if (inode !== undefined && inodes.has(inode)) {
        owners.push(Number(entry));
        break;
      }
    }
  }
  return owners;
}

/** Redis tells its own pid (INFO server, process_id): works for a redis-server of another user. */
function redisInfoPid(host: string, port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const socket = connect({ host: host.replace(/^\[|\]$/g, ''), port });
    let text = '';
    const done = (pid: number | undefined) => {
      socket.destroy();
      resolve(pid);
    };
    socket.setTimeout(2000, () => done(undefined));
    socket.on('error', () => done(undefined));
    socket.on('connect', () => socket.write('INFO server\r\n'));
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('utf8');
      const match = /process_id:(\d+)/.exec(text);
      if (match?.[1] !== undefined) done(Number(match[1]));
      else if (text.startsWith('-')) done(undefined); // an error reply (e.g. NOAUTH)
    });
  });
}

/** Pids of the broker processes behind `urls` (comma-separated), [] when none can be found. */
export async function findBrokerPids(kind: BrokerKind, urls: string): Promise<number[]> {
  if (kind === 'memory') return [];
  const pids = new Set<number>();
  for (const url of urls.split(',').map((u) => u.trim())) {
    const at = hostPort(url, kind === 'redis' ? 6379 : 4222);
    if (at === undefined || !loopback.has(at.host)) continue;
    const candidates = await socketOwners(await listeningInodes(at.port));
    if (candidates.length === 0 && kind === 'redis') {
      const pid = await redisInfoPid(at.host, at.port);
      if (pid !== undefined) candidates.push(pid);
    }
    for (const pid of candidates) if (await isBroker(pid, kind)) pids.add(pid);
  }
  return [...pids];
}
