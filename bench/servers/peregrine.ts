/**
 * Peregrine server for the benchmark, answering the same routes with the same bytes as node-http.ts.
 * Listens on 127.0.0.1:$PORT with $WORKERS workers (default 1) and prints `listening` once every
 * worker accepts connections. $KEEP_ALIVE_MS, if set, is the keep-alive timeout (idle-connection run).
 */
import { isPrimary, serve } from '../../src/index.ts';
import { bodyFor } from './bodies.ts';

await serve(
  {
    handleRequest(req, res) {
      res.setHeader('Content-Type', 'text/plain');
      res.end(bodyFor(req.path));
    },
  },
  {
    port: Number(process.env.PORT),
    host: '127.0.0.1',
    handleSignals: true,
    workers: Number(process.env.WORKERS ?? 1),
    log: false,
    // The idle-connection run keeps 10,000 connections open and quiet for a while.
    ...(process.env.KEEP_ALIVE_MS
      ? { keepAliveTimeout: Number(process.env.KEEP_ALIVE_MS), maxConnections: 65536 }
      : {}),
  },
);

if (isPrimary()) console.log('listening');
