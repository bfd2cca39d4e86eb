/**
 * The http2 section's `node:http2` baseline, written as a user would: `http2.createSecureServer` with
 * the certificate and key read from their files ($TLS_CERT, $TLS_KEY) and the compatibility API's
 * `(req, res) => …` handler — the same handler as the node:http baseline, whose `res.setHeader` and
 * `res.end` node:http2's compatibility objects implement — every other setting Node's default (HTTP/2
 * only, no HTTP/1.1 fallback). Listens on 127.0.0.1:$PORT and prints `listening` once it accepts
 * connections.
 */
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createSecureServer } from 'node:http2';
import { handleRequest } from './node-http-handler.ts';

const server = createSecureServer(
  { cert: readFileSync(process.env.TLS_CERT ?? ''), key: readFileSync(process.env.TLS_KEY ?? '') },
  // Http2ServerRequest/Http2ServerResponse have the members the handler uses (method, url, on('data'),
  // setHeader, end); their types are not node:http's.
  (req, res) => handleRequest(req as unknown as IncomingMessage, res as unknown as ServerResponse),
);

server.listen(Number(process.env.PORT), '127.0.0.1', () => {
  console.log('listening');
});
