/** Hono on Peregrine (fetch mode, $WORKERS workers, default 1) on 127.0.0.1:$PORT; prints `listening`. */
import { isPrimary, serve } from '../../src/index.ts';
import { app } from './hono-app.ts';

await serve({
  fetch: app.fetch,
  port: Number(process.env.PORT),
  hostname: '127.0.0.1',
  workers: Number(process.env.WORKERS ?? 1),
  log: false,
});

if (isPrimary()) console.log('listening');
