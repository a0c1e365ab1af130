import type { ClientInfo } from '@fleetgate/protocol';
import { headers, type Msg, type MsgHdrs } from '@nats-io/transport-node';

/**
 * How presence queries and answers travel between nodes (see presence.ts).
 *
 * A query is JSON on `<prefix>.pq` with a reply subject. Each node answers with one or
 * more messages (parts), so that an answer larger than the server's max_payload is split
 * instead of refused: every part names its node and `i/n` in headers, so parts may be
 * reassembled in any order. Stats parts carry the node's counts in headers and the
 * hashes of its distinct users as little-endian float64s; list parts carry a JSON array
 * of ClientInfo.
 */

export type Query = { readonly kind: 'stats'; readonly channel: string; readonly seed: number } | { readonly kind: 'list'; readonly channel: string; readonly limit: number };

/** One node's share of a channel's stats. */
export interface NodeStats {
  readonly clients: number;
  readonly users: number;
  /** Hashes of its distinct users (with the query's seed), to count users across nodes. */
  readonly hashes: () => Iterable<number>;
}

/** One node's share of a channel's member list. */
export interface NodeList {
  readonly total: number;
  readonly clients: ClientInfo[];
}

export interface Part {
  readonly payload: Uint8Array | string;
  readonly headers: MsgHdrs;
}

const h = { node: 'Fg-Node', part: 'Fg-Part', clients: 'Fg-Clients', users: 'Fg-Users', total: 'Fg-Total' } as const;
/** Room left in a part for its headers and the protocol line. */
const headroom = 4_096;

export function encodeQuery(query: Query): string {
  return JSON.stringify(query);
}

/** The query in a message, or undefined when it is not one (another version, another client). */
export function decodeQuery(text: string): Query | undefined {
  let q: unknown;
  try {
    q = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof q !== 'object' || q === null) return undefined;
  const { kind, channel, seed, limit } = q as Record<string, unknown>;
  if (typeof channel !== 'string') return undefined;
  if (kind === 'stats' && typeof seed === 'number') return { kind, channel, seed };
  if (kind === 'list' && typeof limit === 'number' && limit >= 0) return { kind, channel, limit };
  return undefined;
}

/**
 * A 53-bit hash of a user id (cyrb53), exact as a float64. Seeded per query, so ids
 * crafted to collide (and undercount users) cannot be prepared in advance. Two distinct
 * users collide with probability ~n²/2⁵⁴ (5·10⁻⁹ for 10,000 users).
 */
export function userHash(user: string, seed: number): number {
  let h1 = 0xdeadbeef ^ seed;
  let h2 = 0x41c6ce57 ^ seed;
  for (let i = 0; i < user.length; i++) {
    const ch = user.charCodeAt(i);
    h1 = Math.imul(h1 ^ ch, 2654435761);
    h2 = Math.imul(h2 ^ ch, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507);
  h1 ^= Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507);
  h2 ^= Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return 4294967296 * (2097151 & h2) + (h1 >>> 0);
}

export function statsParts(node: string, stats: NodeStats, maxPayload: number): Part[] {
  const hashes = [...stats.hashes()];
  const perPart = Math.max(1, Math.floor((maxPayload - headroom) / 8));
  const count = Math.max(1, Math.ceil(hashes.length / perPart));
  const parts: Part[] = [];
  for (let p = 0; p < count; p++) {
    const slice = hashes.slice(p * perPart, (p + 1) * perPart);
    const bytes = new Uint8Array(slice.length * 8);
    const view = new DataView(bytes.buffer);
    for (const [i, hash] of slice.entries()) view.setFloat64(i * 8, hash, true);
    const hdrs = partHeaders(node, p, count);
    hdrs.set(h.clients, String(stats.clients));
    hdrs.set(h.users, String(stats.users));
    parts.push({ payload: bytes, headers: hdrs });
  }
  return parts;
}

export function decodeStats(parts: readonly Msg[]): NodeStats {
  const first = parts[0]?.headers;
  const hashes: number[] = [];
  for (const { data } of parts) {
    const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    for (let at = 0; at + 8 <= data.byteLength; at += 8) hashes.push(view.getFloat64(at, true));
  }
  return { clients: Number(first?.get(h.clients) ?? 0), users: Number(first?.get(h.users) ?? 0), hashes: () => hashes };
}

/**
 * A node's list in parts of at most max_payload. An entry that alone exceeds it (a
 * megabyte of conn info) cannot travel and is left out of `clients`, not of `total`.
 */
export function listParts(node: string, list: NodeList, maxPayload: number): Part[] {
  const room = maxPayload - headroom;
  const chunks: string[][] = [[]];
  let size = 2;
  for (const info of list.clients) {
    const json = JSON.stringify(info);
    const bytes = Buffer.byteLength(json) + 1;
    if (bytes + 2 > room) continue;
    if (size + bytes > room) {
      chunks.push([]);
      size = 2;
    }
    (chunks.at(-1) as string[]).push(json);
    size += bytes;
  }
  return chunks.map((chunk, p) => {
    const hdrs = partHeaders(node, p, chunks.length);
    hdrs.set(h.total, String(list.total));
    return { payload: `[${chunk.join(',')}]`, headers: hdrs };
  });
}

export function decodeList(parts: readonly Msg[]): NodeList {
  const clients: ClientInfo[] = [];
  for (const part of parts) clients.push(...(JSON.parse(part.string()) as ClientInfo[]));
  return { total: Number(parts[0]?.headers?.get(h.total) ?? 0), clients };
}

/** Which node a part is from, its index and how many parts the answer has; undefined if it is no part. */
export function partOf(msg: Msg): { node: string; index: number; count: number } | undefined {
  const node = msg.headers?.get(h.node) ?? '';
  const [index, count] = (msg.headers?.get(h.part) ?? '').split('/').map(Number);
  if (node === '' || index === undefined || count === undefined || !(index >= 0 && index < count)) return undefined;
  return { node, index, count };
}

function partHeaders(node: string, index: number, count: number): MsgHdrs {
  const hdrs = headers();
  hdrs.set(h.node, node);
  hdrs.set(h.part, `${index}/${count}`);
  return hdrs;
}
