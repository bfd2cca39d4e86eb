/**
 * The `ws` package's WebSocket echo server, the baseline of the benchmark's websocket section: every
 * message is sent back as it came (binary as binary, text as text). Listens on 127.0.0.1:$PORT without
 * permessage-deflate and with a 1 MiB message limit (like the Peregrine server; $WS_MAX_MESSAGE_BYTES
 * sets another) and no limit on the number of fragments of a message (Peregrine has none), prints
 * `listening` once it accepts connections, and exits on SIGTERM.
 */
import { WebSocketServer } from 'ws';

const server = new WebSocketServer({
  host: '127.0.0.1',
  port: Number(process.env.PORT),
  perMessageDeflate: false,
  maxPayload: Number(process.env.WS_MAX_MESSAGE_BYTES ?? 1 << 20),
  maxFragments: 0,
});

server.on('connection', (socket) => {
  socket.on('message', (data, isBinary) => {
    socket.send(data, { binary: isBinary });
  });
});

server.once('listening', () => console.log('listening'));

server.on('error', (error) => {
  console.error('ws-echo:', error);
  process.exit(1);
});

process.once('SIGTERM', () => {
  for (const client of server.clients) client.terminate();
  server.close(() => process.exit(0));
});
