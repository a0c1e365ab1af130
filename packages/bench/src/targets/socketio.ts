import { Server as SocketIOServer, type Socket } from 'socket.io';
import { runTarget } from './harness.js';

/**
 * Socket.IO 4 with the same rooms semantics, websocket transport only:
 * 'join' (acknowledged) puts the socket in a room; 'pub' {room, data} is emitted to the room.
 */
interface PubEvent {
  readonly room: string;
  readonly data: unknown;
}

await runTarget((server) => {
  const io = new SocketIOServer(server, { transports: ['websocket'], perMessageDeflate: false, serveClient: false });
  io.on('connection', (socket: Socket) => {
    socket.on('join', (room: unknown, ack: unknown) => {
      if (typeof room !== 'string') return;
      void socket.join(room);
      if (typeof ack === 'function') ack(room);
    });
    socket.on('pub', (event: PubEvent) => {
      if (typeof event?.room === 'string') io.to(event.room).emit('pub', event.data);
    });
  });
});
