/**
 * uWebSockets.js peer for the benchmark (plain JavaScript: it runs on Node 20, the newest Node its
 * prebuilt binaries support on this Debian; see bench/README.md). The routes of bodies.ts with the same
 * bytes as the other servers: `text/plain` `Hello, World!` for every GET path but `/6150`, which gets the
 * 6150-byte body read from $LARGE_BODY_FILE, and `/json`; `POST /upload` reads the whole body and answers
 * with its length. The package comes from $UWS_MODULE (installed by the runner outside node_modules).
 * Listens on 127.0.0.1:$PORT and prints `listening`.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const uWS = createRequire(import.meta.url)(process.env.UWS_MODULE);
const small = 'Hello, World!';
const large = readFileSync(process.env.LARGE_BODY_FILE, 'latin1');
const message = { message: 'Hello, World!' };

uWS
  .App()
  .get('/json', (res) => {
    res.cork(() => res.writeHeader('Content-Type', 'application/json').end(JSON.stringify(message)));
  })
  .get('/*', (res, req) => {
    const body = req.getUrl() === '/6150' ? large : small;
    res.cork(() => res.writeHeader('Content-Type', 'text/plain').end(body));
  })
  .post('/upload', (res) => {
    // uWS lends each chunk only for the callback: copy it, then answer once the last one came.
    const chunks = [];
    let aborted = false;
    res.onAborted(() => {
      aborted = true;
    });
    res.onData((chunk, isLast) => {
      chunks.push(Buffer.from(chunk.slice(0)));
      if (!isLast || aborted) return;
      const length = Buffer.concat(chunks).length;
      res.cork(() => res.writeHeader('Content-Type', 'text/plain').end(String(length)));
    });
  })
  .listen('127.0.0.1', Number(process.env.PORT), (socket) => {
    if (!socket) {
      console.error('uws: could not listen');
      process.exit(1);
    }
    console.log('listening');
  });

process.on('SIGTERM', () => process.exit(0));
