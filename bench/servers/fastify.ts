/**
 * Fastify peer for the benchmark: the routes of bodies.ts with the same bytes as node-http.ts, logging off,
 * otherwise Fastify's defaults (`/json` returns the object and Fastify serializes it). Listens on
 * 127.0.0.1:$PORT and prints `listening` once it accepts connections.
 */
import Fastify from 'fastify';
import { bodyFor, JSON_MESSAGE } from './bodies.ts';

// $KEEP_ALIVE_MS, if set, is the keep-alive timeout (the idle-connection run keeps connections quiet).
const app = Fastify({
  logger: false,
  ...(process.env.KEEP_ALIVE_MS ? { keepAliveTimeout: Number(process.env.KEEP_ALIVE_MS) } : {}),
});

// The upload is application/octet-stream, which Fastify only accepts with a parser for it.
app.addContentTypeParser('application/octet-stream', { parseAs: 'buffer' }, (_request, body, done) =>
  done(null, body),
);

app.get('/json', () => JSON_MESSAGE);

app.get('/*', (request, reply) => {
  const url = request.url;
  const query = url.indexOf('?');
  reply.header('Content-Type', 'text/plain');
  reply.send(bodyFor(query === -1 ? url : url.slice(0, query)));
});

app.post('/upload', (request, reply) => {
  reply.header('Content-Type', 'text/plain');
  reply.send(String((request.body as Buffer).length));
});

await app.listen({ port: Number(process.env.PORT), host: '127.0.0.1' });
console.log('listening');
