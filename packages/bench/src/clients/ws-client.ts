import type { Payload } from '../payload.js';
import { LeanClient } from './lean-client.js';

interface JoinedReply {
  readonly joined?: unknown;
}

/** The raw `ws` target's wire: {"join":room} / {"joined":room}; {"room","data"} publishes; pushes are the bare data. */
export class WsClient extends LeanClient {
  protected readonly path = '/';

  protected override onOpen(): void {
    this.settle('ready');
  }

  protected isPublication(text: string): boolean {
    return text.startsWith('{"t":');
  }

  protected onControl(text: string): void {
    const reply = JSON.parse(text) as JoinedReply;
    if (typeof reply.joined === 'string') this.settle(`sub:${reply.joined}`);
  }

  protected sendSubscribe(channel: string): void {
    this.send(JSON.stringify({ join: channel }));
  }

  publish(channel: string, payloads: readonly Payload[]): void {
    for (const data of payloads) this.send(JSON.stringify({ room: channel, data }));
  }
}
