import { decodeServerMessage, encodeCommand, PING, splitFrame } from '@fleetgate/protocol';
import type { Payload } from '../payload.js';
import { scanStamps } from '../payload.js';
import { LeanClient } from './lean-client.js';

const CONNECT_ID = 1;
const pushPrefix = '{"push":';

/**
 * Fleetgate's wire: the Centrifugo JSON protocol. Frames may carry several messages
 * (replies, pushes, pings) joined by "\n"; pushes are only scanned for stamps.
 */
export class CentrifugeClient extends LeanClient {
  protected readonly path = '/connection/websocket';
  private nextId = CONNECT_ID + 1;
  private readonly subscribeIds = new Map<number, string>();
  /** Replies to publishes that were errors (the publisher ignores successes). */
  publishErrors = 0;

  protected override onOpen(): void {
    this.send(encodeCommand({ id: CONNECT_ID, method: 'connect', params: {} }));
  }

  protected isPublication(text: string): boolean {
    // A single push; a frame with several messages goes through onControl line by line.
    return text.startsWith(pushPrefix) && !text.includes('\n');
  }

  protected onControl(text: string): void {
    for (const line of text.includes('\n') ? splitFrame(text) : [text]) {
      if (line.startsWith(pushPrefix)) scanStamps(line, this.events.onStamp);
      else if (line === PING) this.send(PING);
      else this.onReply(line);
    }
  }

  private onReply(line: string): void {
    const message = decodeServerMessage(JSON.parse(line));
    if (message.kind !== 'result' && message.kind !== 'error') return;
    const error = message.kind === 'error' ? new Error(`error ${message.error.code}: ${message.error.message}`) : undefined;
    if (message.id === CONNECT_ID) return this.settle('ready', error);
    const channel = this.subscribeIds.get(message.id);
    if (channel !== undefined) {
      this.subscribeIds.delete(message.id);
      return this.settle(`sub:${channel}`, error);
    }
    if (error !== undefined) this.publishErrors++;
  }

  protected sendSubscribe(channel: string): void {
    const id = this.nextId++;
    this.subscribeIds.set(id, channel);
    this.send(encodeCommand({ id, method: 'subscribe', params: { channel } }));
  }

  /** All due publications in one frame, as the SDK batches commands of one tick. */
  publish(channel: string, payloads: readonly Payload[]): void {
    const commands = payloads.map((data) => encodeCommand({ id: this.nextId++, method: 'publish', params: { channel, data } }));
    this.send(commands.join('\n'));
  }
}
