/**
 * Socket.IO 4 pub/sub server for the benchmark's pubsub section: the websocket transport only (no
 * polling, no client bundle), permessage-deflate off (its default). A socket connecting with
 * `?role=pub` is the publisher: each of its `p` events is re-emitted as `m` to the room `room`
 * (`socket.to('room').emit('m', message)`); every other socket joins `room` on connection.
 * Listens on 127.0.0.1:$PORT and prints `listening`.
 *
 * With $REDIS_URL set it uses @socket.io/redis-adapter over two node-redis clients (publish and
 * subscribe), so that instances on the same Redis reach each other's rooms (the cross-instance row).
 */
import { createServer } from 'node:http';
import { createAdapter } from '@socket.io/redis-adapter';
import { createClient } from 'redis';
import { Server } from 'socket.io';

const http = createServer();
const io = new Server(http, { transports: ['websocket'], serveClient: false });

const url = process.env.REDIS_URL;
if (url !== undefined && url !== '') {
  const pubClient = createClient({ url });
  const subClient = pubClient.duplicate();
  for (const client of [pubClient, subClient]) {
    client.on('error', (error: Error) => console.error(`socketio-pubsub: redis: ${error.message}`));
  }
  await Promise.all([pubClient.connect(), subClient.connect()]);
  io.adapter(createAdapter(pubClient, subClient));
}

io.on('connection', (socket) => {
  if (socket.handshake.query.role === 'pub') {
    socket.on('p', (message: string) => {
      socket.to('room').emit('m', message);
    });
  } else {
    socket.join('room');
  }
});

http.listen(Number(process.env.PORT), '127.0.0.1', () => console.log('listening'));

process.on('SIGTERM', () => process.exit(0));
