import { type RawData, WebSocket, WebSocketServer } from 'ws';
import { runTarget } from './harness.js';

/**
 * The naive floor any Node gateway pays: a raw `ws` server with rooms in a Map, and a
 * fan-out that parses each publication once and calls ws.send(text) for every member.
 * Wire: {"join":"room"} -> {"joined":"room"}; {"room":"r","data":…} -> data to each member.
 */
interface Command {
  readonly join?: unknown;
  readonly room?: unknown;
  readonly data?: unknown;
}

await runTarget((server) => {
  const rooms = new Map<string, Set<WebSocket>>();
  const wss = new WebSocketServer({ server, perMessageDeflate: false, clientTracking: false });
  wss.on('connection', (ws: WebSocket) => {
    const joined = new Set<string>();
    ws.on('message', (raw: RawData) => {
      let command: Command;
      try {
        command = JSON.parse(raw.toString()) as Command;
      } catch {
        ws.close(1007, 'bad json');
        return;
      }
      if (typeof command.join === 'string') {
        const room = command.join;
        let members = rooms.get(room);
        if (members === undefined) rooms.set(room, (members = new Set()));
        members.add(ws);
        joined.add(room);
        ws.send(JSON.stringify({ joined: room }));
      } else if (typeof command.room === 'string') {
        const members = rooms.get(command.room);
        if (members === undefined) return;
        const text = JSON.stringify(command.data);
        for (const member of members) if (member.readyState === WebSocket.OPEN) member.send(text);
      }
    });
    ws.on('error', () => ws.terminate());
    ws.on('close', () => {
      for (const room of joined) {
        const members = rooms.get(room);
        members?.delete(ws);
        if (members?.size === 0) rooms.delete(room);
      }
    });
  });
});
