import { describe, expect, it } from 'vitest';
import {
  DisconnectCode,
  disconnectCodes,
  disconnectReconnects,
  ErrorCode,
  errorCodes,
  ProtocolError,
  UnsubscribeCode,
  unsubscribeCodes,
} from '../src/index.js';

/** A WebSocket close reason must fit in 123 bytes of UTF-8. */
const MAX_CLOSE_REASON_BYTES = 123;

function numericKeys(table: object): number[] {
  return Object.keys(table)
    .map(Number)
    .sort((a, b) => a - b);
}

function sortedValues(table: Record<string, number>): number[] {
  return Object.values(table).sort((a, b) => a - b);
}

describe('error codes', () => {
  const range = Array.from({ length: 13 }, (_, i) => 100 + i);

  it('has exactly the codes 100–112, in the table and in the ErrorCode constants', () => {
    expect(numericKeys(errorCodes)).toEqual(range);
    expect(sortedValues(ErrorCode)).toEqual(range);
  });

  it.each(Object.entries(errorCodes))('%s has a non-empty message and meaning', (_code, info) => {
    expect(info.message.trim()).not.toBe('');
    expect(info.meaning.trim()).not.toBe('');
  });

  it('is temporary only for 100 (internal) and 111 (too many requests)', () => {
    const temporary = Object.entries(errorCodes)
      .filter(([, info]) => info.temporary)
      .map(([code]) => Number(code))
      .sort((a, b) => a - b);
    expect(temporary).toEqual([ErrorCode.Internal, ErrorCode.TooManyRequests]);
    expect(temporary).toEqual([100, 111]);
  });

  it('has distinct messages', () => {
    const messages = Object.values(errorCodes).map((info) => info.message);
    expect(new Set(messages).size).toBe(messages.length);
  });
});

describe('disconnect codes', () => {
  const entries = Object.entries(disconnectCodes).map(([code, info]) => [Number(code), info] as const);

  it('has a table entry for every DisconnectCode constant and no other', () => {
    expect(numericKeys(disconnectCodes)).toEqual(sortedValues(DisconnectCode));
  });

  it('keeps every code inside 3000–4999', () => {
    for (const [code] of entries) {
      expect(code).toBeGreaterThanOrEqual(3000);
      expect(code).toBeLessThan(5000);
    }
  });

  it.each(entries)('%i: reconnect flag equals disconnectReconnects(code)', (code, info) => {
    expect(info.reconnect).toBe(disconnectReconnects(code));
  });

  it.each(entries)('%i: reason is non-empty and shorter than 123 bytes of UTF-8', (_code, info) => {
    expect(info.reason.length).toBeGreaterThan(0);
    expect(info.reason.trim()).toBe(info.reason);
    expect(Buffer.byteLength(info.reason, 'utf8')).toBeLessThan(MAX_CLOSE_REASON_BYTES);
    expect(info.meaning.trim()).not.toBe('');
  });

  it('disconnectReconnects follows the documented ranges at their boundaries', () => {
    for (const code of [3000, 3001, 3499, 4000, 4499]) expect(disconnectReconnects(code)).toBe(true);
    for (const code of [3500, 3501, 3999, 4500, 4999]) expect(disconnectReconnects(code)).toBe(false);
  });

  it('bad request (the ProtocolError code) is 3501 and terminal', () => {
    expect(DisconnectCode.BadRequest).toBe(3501);
    expect(new ProtocolError('x', 'y').code).toBe(DisconnectCode.BadRequest);
    expect(disconnectCodes[DisconnectCode.BadRequest].reconnect).toBe(false);
    expect(disconnectCodes[DisconnectCode.Shutdown].reconnect).toBe(true);
  });
});

describe('unsubscribe codes', () => {
  const entries = Object.entries(unsubscribeCodes).map(([code, info]) => [Number(code), info] as const);

  it('has a table entry for every UnsubscribeCode constant and no other', () => {
    expect(numericKeys(unsubscribeCodes)).toEqual(sortedValues(UnsubscribeCode));
  });

  it.each(entries)('%i: resubscribe iff code >= 2500, inside 2000–2999', (code, info) => {
    expect(code).toBeGreaterThanOrEqual(2000);
    expect(code).toBeLessThan(3000);
    expect(info.resubscribe).toBe(code >= 2500);
  });

  it.each(entries)('%i: reason is non-empty and shorter than 123 bytes of UTF-8', (_code, info) => {
    expect(info.reason.length).toBeGreaterThan(0);
    expect(Buffer.byteLength(info.reason, 'utf8')).toBeLessThan(MAX_CLOSE_REASON_BYTES);
    expect(info.meaning.trim()).not.toBe('');
  });

  it('has both kinds: a terminal one and resubscribing ones', () => {
    expect(unsubscribeCodes[UnsubscribeCode.Server].resubscribe).toBe(false);
    expect(unsubscribeCodes[UnsubscribeCode.InsufficientState].resubscribe).toBe(true);
  });
});
