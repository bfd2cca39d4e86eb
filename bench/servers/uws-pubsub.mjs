/**
 * uWebSockets.js pub/sub peer for the benchmark's pubsub section (plain JavaScript, run on Node 20 like
 * uws.mjs; see bench/uws.ts). `/sub` WebSockets subscribe to the topic `room` when they open; every
 * message of the `/pub` WebSocket is published to `room` with `app.publish()` (the publisher is not
 * subscribed, so it gets nothing back), text as text. Compression off (uWS's default), an idle timeout
 * of 120 s and 16 MiB of backpressure per socket, as Peregrine's defaults. The package comes from
 * $UWS_MODULE. Listens on 127.0.0.1:$PORT and prints `listening`.
 */
import { createRequire } from 'node:module';

const uWS = createRequire(import.meta.url)(process.env.UWS_MODULE);

const app = uWS.App();
app
  .ws('/*', {
    compression: uWS.DISABLED,
    idleTimeout: 120,
    maxBackpressure: 16 * 1024 * 1024,
    upgrade: (res, req, context) => {
      res.upgrade(
        { publisher: req.getUrl() === '/pub' },
        req.getHeader('sec-websocket-key'),
        req.getHeader('sec-websocket-protocol'),
        req.getHeader('sec-websocket-extensions'),
        context,
      );
    },
    open: (ws) => {
      if (!ws.getUserData().publisher) ws.subscribe('room');
    },
    message: (ws, message, isBinary) => {
      if (ws.getUserData().publisher) app.publish('room', message, isBinary);
    },
  })
  .listen('127.0.0.1', Number(process.env.PORT), (socket) => {
    if (!socket) {
      console.error('uws-pubsub: could not listen');
      process.exit(1);
    }
    console.log('listening');
  });

process.on('SIGTERM', () => process.exit(0));
