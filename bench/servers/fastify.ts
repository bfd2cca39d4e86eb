/**
 * Fastify peer for the benchmark: one catch-all GET route answering with the same bytes as node-http.ts
 * (`text/plain`, the body for the path), logging off, otherwise Fastify's defaults. Listens on
 * 127.0.0.1:$PORT and prints `listening` once it accepts connections.
 */
import Fastify from 'fastify';
import { bodyFor } from './bodies.ts';

// $KEEP_ALIVE_MS, if set, is the keep-alive timeout (the idle-connection run keeps connections quiet).
const app = Fastify({
  logger: false,
  ...(process.env.KEEP_ALIVE_MS ? { keepAliveTimeout: Number(process.env.KEEP_ALIVE_MS) } : {}),
});

app.get('/*', (request, reply) => {
  const url = request.url;
  const query = url.indexOf('?');
  reply.header('Content-Type', 'text/plain');
  reply.send(bodyFor(query === -1 ? url : url.slice(0, query)));
});

await app.listen({ port: Number(process.env.PORT), host: '127.0.0.1' });
console.log('listening');
