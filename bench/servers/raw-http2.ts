/**
 * The ceiling for any server built on node:http2, as raw-net.ts and raw-tls.ts are for HTTP/1.1:
 * `http2.createSecureServer` with the https section's certificate ($TLS_CERT, $TLS_KEY) and Node's
 * defaults, answering every stream through the core API (`stream.respond()` and `stream.end()`) with
 * the `GET /` response, whatever the request; no request object, no routing, no limits. It measures what
 * node:http2 and its nghttp2 session cost per request. Listens on 127.0.0.1:$PORT and prints `listening`.
 */
import { readFileSync } from 'node:fs';
import { createSecureServer } from 'node:http2';
import { SMALL_BODY } from './bodies.ts';

const HEADERS = { ':status': 200, 'content-type': 'text/plain', 'content-length': SMALL_BODY.length };

const server = createSecureServer({
  cert: readFileSync(process.env.TLS_CERT ?? ''),
  key: readFileSync(process.env.TLS_KEY ?? ''),
});
server.on('stream', (stream) => {
  stream.on('error', () => {});
  stream.respond(HEADERS);
  stream.end(SMALL_BODY);
});

server.listen(Number(process.env.PORT), '127.0.0.1', () => console.log('listening'));
