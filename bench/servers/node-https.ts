/**
 * The https section's `node:https` baseline, written as a user would: `https.createServer` with the
 * certificate and key read from their files ($TLS_CERT, $TLS_KEY), default TLS and keep-alive settings,
 * and the same request handler as the node:http baseline. Listens on 127.0.0.1:$PORT and prints
 * `listening` once it accepts connections.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';
import { handleRequest } from './node-http-handler.ts';

const server = createServer(
  { cert: readFileSync(process.env.TLS_CERT ?? ''), key: readFileSync(process.env.TLS_KEY ?? '') },
  handleRequest,
);

server.listen(Number(process.env.PORT), '127.0.0.1', () => {
  console.log('listening');
});
