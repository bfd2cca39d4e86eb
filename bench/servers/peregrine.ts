/**
 * Peregrine server for the benchmark, answering the same routes with the same bytes as node-http.ts.
 * Listens on 127.0.0.1:$PORT and prints `listening` once it accepts connections.
 */
import { serve } from '../../src/index.ts';
import { bodyFor } from './bodies.ts';

await serve(
  {
    handleRequest(req, res) {
      res.setHeader('Content-Type', 'text/plain');
      res.end(bodyFor(req.path));
    },
  },
  { port: Number(process.env.PORT), host: '127.0.0.1', handleSignals: true },
);

console.log('listening');
