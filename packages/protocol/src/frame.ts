import { type Command, decodeCommand } from './command.js';
import { ProtocolError } from './errors.js';
import { decodeServerMessage, type ServerMessage } from './server-message.js';

/**
 * A frame is one WebSocket text message: JSON objects joined by "\n". Writers put "\n"
 * only between objects; readers also accept a trailing one and skip blank lines.
 */
export function joinFrame(messages: readonly string[]): string {
  return messages.join('\n');
}

export function splitFrame(frame: string): string[] {
  return frame.split('\n').filter((line) => line.trim().length > 0);
}

function parseLine(line: string, index: number): unknown {
  try {
    return JSON.parse(line);
  } catch (cause) {
    throw new ProtocolError(`frame[${index}]`, 'invalid JSON', { cause });
  }
}

export function decodeCommands(frame: string): Command[] {
  return splitFrame(frame).map((line, i) => decodeCommand(parseLine(line, i)));
}

export function decodeServerMessages(frame: string): ServerMessage[] {
  return splitFrame(frame).map((line, i) => decodeServerMessage(parseLine(line, i)));
}
