/**
 * Peregrine server for the benchmark, answering the routes of bodies.ts with the same bytes as the other
 * servers. Listens on 127.0.0.1:$PORT with $WORKERS workers (default 1) and prints `listening` once every
 * worker accepts connections. $KEEP_ALIVE_MS, if set, is the keep-alive timeout (idle-connection run).
 * $BENCH_METRICS=1 turns metrics on; $BENCH_ACCESS_LOG names a file for the access log (the observe
 * section: peregrine-metrics.ts and peregrine-access-log.ts set them). $IDLE_WEBSOCKET=1 (the idle
 * section's WebSocket run) makes it a WebSocket server instead: every request is upgraded, and each
 * WebSocket subscribes to one topic on open; nothing is ever published.
 */
import { type Handler, isPrimary, type Request, type Response, serve } from '../../src/index.ts';
import { bodyFor, JSON_MESSAGE } from './bodies.ts';

async function upload(req: Request, res: Response): Promise<void> {
  const body = await req.bytes();
  res.setHeader('Content-Type', 'text/plain');
  res.end(String(body.length));
}

/** The idle-WebSocket run's handler ($IDLE_WEBSOCKET=1). */
const idleWebSockets: Handler = {
  handleRequest(_req, res) {
    res.upgrade();
  },
  handleWSOpen(ws) {
    ws.subscribe('room');
  },
};

await serve(
  process.env.IDLE_WEBSOCKET === '1'
    ? idleWebSockets
    : {
        // Synchronous for the GET routes: only the upload waits for its body.
        handleRequest(req, res) {
          if (req.method === 'POST') return upload(req, res);
          if (req.path === '/json') {
            res.json(JSON_MESSAGE);
          } else {
            res.setHeader('Content-Type', 'text/plain');
            res.end(bodyFor(req.path));
          }
          return undefined;
        },
      },
  {
    port: Number(process.env.PORT),
    host: '127.0.0.1',
    handleSignals: true,
    workers: Number(process.env.WORKERS ?? 1),
    log: false,
    ...(process.env.BENCH_METRICS === '1' ? { metrics: true } : {}),
    ...(process.env.BENCH_ACCESS_LOG ? { accessLog: true, accessLogTo: process.env.BENCH_ACCESS_LOG } : {}),
    // The idle-connection run keeps 10,000 connections open and quiet for a while.
    ...(process.env.KEEP_ALIVE_MS
      ? { keepAliveTimeout: Number(process.env.KEEP_ALIVE_MS), maxConnections: 65536 }
      : {}),
  },
);

if (isPrimary()) console.log('listening');
