/**
 * The `sirv` package's static file server over $STATIC_DIR (production mode, ETags on), on node:http:
 * a baseline of the benchmark's static section. Listens on 127.0.0.1:$PORT, prints `listening` once it
 * accepts connections, and exits on SIGTERM.
 */
import { createServer } from 'node:http';
import sirv from 'sirv';

const dir = process.env.STATIC_DIR;
if (dir === undefined || dir === '') {
  console.error('sirv-static: STATIC_DIR is not set');
  process.exit(1);
}
const files = sirv(dir, { dev: false, etag: true });

const server = createServer((req, res) => {
  files(req, res, () => {
    res.statusCode = 404;
    res.end();
  });
});

server.listen(Number(process.env.PORT), '127.0.0.1', () => console.log('listening'));

process.once('SIGTERM', () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
});
