/**
 * Peregrine server for the benchmark, answering the same routes with the same bytes as node-http.ts.
 * Listens on 127.0.0.1:$PORT with $WORKERS workers (default 1) and prints `listening` once every
 * worker accepts connections.
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
  },
);

if (isPrimary()) console.log('listening');
