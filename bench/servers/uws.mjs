/**
 * uWebSockets.js peer for the benchmark (plain JavaScript: it runs on Node 20, the newest Node its
 * prebuilt binaries support on this Debian; see bench/README.md). One catch-all GET route answering with
 * the same bytes as the other servers: `text/plain`, `Hello, World!` for every path but `/6150`, which
 * gets the 6150-byte body read from $LARGE_BODY_FILE. The package comes from $UWS_MODULE (installed by
 * the runner outside node_modules). Listens on 127.0.0.1:$PORT and prints `listening`.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const uWS = createRequire(import.meta.url)(process.env.UWS_MODULE);
const small = 'Hello, World!';
const large = readFileSync(process.env.LARGE_BODY_FILE, 'latin1');

uWS
  .App()
  .get('/*', (res, req) => {
    const body = req.getUrl() === '/6150' ? large : small;
    res.cork(() => res.writeHeader('Content-Type', 'text/plain').end(body));
  })
  .listen('127.0.0.1', Number(process.env.PORT), (socket) => {
    if (!socket) {
      console.error('uws: could not listen');
      process.exit(1);
    }
    console.log('listening');
  });

process.on('SIGTERM', () => process.exit(0));
