/**
 * Peregrine with response compression for the compression section: the handler API answering every
 * GET with the static section's 6150-byte text file ($STATIC_DIR/6150.txt, read once at start) as
 * `text/plain`, and `compression: { encodings: ['gzip'], level: 1 }`, so a client that accepts gzip
 * gets it gzipped at level 1. One worker; listens on 127.0.0.1:$PORT and prints `listening` once it
 * accepts connections.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { serve } from '../../src/index.ts';

const body = readFileSync(join(process.env.STATIC_DIR ?? '', '6150.txt'), 'latin1');

await serve(
  {
    handleRequest(_req, res) {
      res.setHeader('Content-Type', 'text/plain');
      res.end(body);
    },
  },
  {
    port: Number(process.env.PORT),
    host: '127.0.0.1',
    handleSignals: true,
    workers: 1,
    log: false,
    compression: { encodings: ['gzip'], level: 1 },
  },
);

console.log('listening');
