/**
 * Peregrine WebSocket echo server for the benchmark: every request is upgraded, every message is sent
 * back as it came (binary as binary, text as text). Listens on 127.0.0.1:$PORT with one worker, without
 * permessage-deflate (the default), and prints `listening` once it accepts connections. Peregrine shuts
 * down gracefully on SIGTERM by itself. Messages up to $WS_MAX_MESSAGE_BYTES (1 MiB if unset).
 */
import { serve } from '../../src/index.ts';

await serve(
  {
    handleRequest(_req, res) {
      res.upgrade();
    },
    handleWSMessage(ws, message, isBinary) {
      ws.send(message, isBinary);
    },
  },
  {
    port: Number(process.env.PORT),
    host: '127.0.0.1',
    workers: 1,
    log: false,
    wsMaxMessageBytes: Number(process.env.WS_MAX_MESSAGE_BYTES ?? 1 << 20),
  },
);

console.log('listening');
