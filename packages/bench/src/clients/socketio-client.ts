import type { Payload } from '../payload.js';
import { LeanClient } from './lean-client.js';

/**
 * Socket.IO v5 over engine.io v4, websocket transport, framed by hand:
 * server `0{…}` (open) -> client `40` (connect to "/") -> server `40{…}`;
 * events `42["event",data]`, with an ack id `42<id>[…]` answered by `43<id>[…]`;
 * server ping `2` -> client pong `3`.
 */
export class SocketIoClient extends LeanClient {
  protected readonly path = '/socket.io/?EIO=4&transport=websocket';
  private nextAck = 1;
  private readonly joinAcks = new Map<number, string>();

  protected isPublication(text: string): boolean {
    return text.startsWith('42["pub",');
  }

  protected onControl(text: string): void {
    if (text === '2') return this.send('3');
    if (text.startsWith('0')) return this.send('40');
    if (text.startsWith('40')) return this.settle('ready');
    if (text.startsWith('44')) return this.settle('ready', new Error(`connect_error ${text.slice(2)}`));
    if (text.startsWith('43')) {
      const ackId = Number.parseInt(text.slice(2), 10);
      const channel = this.joinAcks.get(ackId);
      if (channel === undefined) return;
      this.joinAcks.delete(ackId);
      this.settle(`sub:${channel}`);
    }
  }

  protected sendSubscribe(channel: string): void {
    const ackId = this.nextAck++;
    this.joinAcks.set(ackId, channel);
    this.send(`42${ackId}${JSON.stringify(['join', channel])}`);
  }

  publish(channel: string, payloads: readonly Payload[]): void {
    for (const data of payloads) this.send(`42${JSON.stringify(['pub', { room: channel, data }])}`);
  }
}
