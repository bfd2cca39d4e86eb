/**
 * Baseline server for the benchmark: plain `node:http` with its default keep-alive settings.
 * Listens on 127.0.0.1:$PORT and prints `listening` once it accepts connections.
 */
import { createServer } from 'node:http';
import { bodyFor } from './bodies.ts';

const port = Number(process.env.PORT);

/** The request target without its query string, like Peregrine's `req.path`. */
function pathOf(url: string | undefined): string {
  if (url === undefined) return '/';
  const query = url.indexOf('?');
  return query === -1 ? url : url.slice(0, query);
}

const server = createServer((req, res) => {
  res.setHeader('Content-Type', 'text/plain');
  res.end(bodyFor(pathOf(req.url)));
});

server.listen(port, '127.0.0.1', () => {
  console.log('listening');
});
