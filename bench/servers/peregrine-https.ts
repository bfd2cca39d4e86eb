/**
 * Peregrine over TLS for the https section: the GET routes of bodies.ts with the same bytes as the
 * other servers, one worker, the certificate and key given as the paths of PEM files ($TLS_CERT,
 * $TLS_KEY). Listens on 127.0.0.1:$PORT and prints `listening` once it accepts connections.
 * HTTP/2 is on by default with `tls`, so the http2 section runs this same program as `peregrine-h2`:
 * ALPN picks h2 for h2load, HTTP/1.1 for wrk.
 */
import { serve } from '../../src/index.ts';
import { bodyFor, JSON_MESSAGE } from './bodies.ts';

await serve(
  {
    handleRequest(req, res) {
      if (req.path === '/json') {
        res.json(JSON_MESSAGE);
      } else {
        res.setHeader('Content-Type', 'text/plain');
        res.end(bodyFor(req.path));
      }
    },
  },
  {
    port: Number(process.env.PORT),
    host: '127.0.0.1',
    handleSignals: true,
    workers: 1,
    log: false,
    tls: { cert: process.env.TLS_CERT ?? '', key: process.env.TLS_KEY ?? '' },
  },
);

console.log('listening');
