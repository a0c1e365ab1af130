import type { TargetName } from '../types.js';
import { CentrifugeClient } from './centrifuge-client.js';
import type { ClientEvents, LeanClient } from './lean-client.js';
import { SocketIoClient } from './socketio-client.js';
import { WsClient } from './ws-client.js';

export type { ClientEvents, LeanClient } from './lean-client.js';

/** The lean client that speaks `target`'s wire format. `url` is ws://host:port without a path. */
export function createClient(target: TargetName, url: string, localAddress: string | undefined, events?: ClientEvents): LeanClient {
  switch (target) {
    case 'fleetgate':
      return new CentrifugeClient(url, localAddress, events);
    case 'ws':
      return new WsClient(url, localAddress, events);
    case 'socketio':
      return new SocketIoClient(url, localAddress, events);
  }
}
