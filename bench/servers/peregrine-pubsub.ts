/**
 * Peregrine pub/sub server for the benchmark's pubsub section: `/sub` WebSockets subscribe to the
 * topic `room` when they open, and every message of a `/pub` WebSocket is published to `room` with
 * `ws.publish()` (every subscriber but the publisher), text as text. One worker on 127.0.0.1:$PORT,
 * permessage-deflate off (the default), up to 20,000 connections (the default is 10,000); prints `listening` once it accepts connections.
 *
 * With $REDIS_URL set it passes `pubsub: { redis: $REDIS_URL }`, so that instances started on the same
 * Redis relay publications to each other (the cross-instance row).
 */
import { type ServerOptions, serve } from '../../src/index.ts';

const redis = process.env.REDIS_URL;
const options: ServerOptions = {
  port: Number(process.env.PORT),
  host: '127.0.0.1',
  workers: 1,
  log: false,
  // The local row holds 10,000 subscribers and the publisher: above the default limit of 10,000.
  maxConnections: 20_000,
  pubsub: redis === undefined || redis === '' ? undefined : { redis },
};

await serve<{ publisher: boolean }>(
  {
    handleRequest(req, res) {
      res.upgrade({ data: { publisher: req.path === '/pub' } });
    },
    handleWSOpen(ws) {
      if (!ws.data.publisher) ws.subscribe('room');
    },
    handleWSMessage(ws, message, isBinary) {
      if (ws.data.publisher) ws.publish('room', message, isBinary);
    },
  },
  options,
);

console.log('listening');
