/**
 * Fastify with `@fastify/compress` for the compression section, set up as its README says: the plugin
 * registered with gzip only at level 1 (`zlibOptions`), its defaults otherwise (global hook, 1 KiB
 * threshold, small bodies compressed synchronously), and one catch-all GET route answering the static
 * section's 6150-byte text file ($STATIC_DIR/6150.txt, read once at start) as `text/plain`. Logging
 * off. Listens on 127.0.0.1:$PORT and prints `listening` once it accepts connections.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import compress from '@fastify/compress';
import Fastify from 'fastify';

const body = readFileSync(join(process.env.STATIC_DIR ?? '', '6150.txt'), 'latin1');

const app = Fastify({ logger: false });
await app.register(compress, { encodings: ['gzip'], zlibOptions: { level: 1 } });

app.get('/*', (_request, reply) => {
  reply.header('Content-Type', 'text/plain');
  reply.send(body);
});

await app.listen({ port: Number(process.env.PORT), host: '127.0.0.1' });
console.log('listening');
