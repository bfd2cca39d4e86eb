/**
 * Peregrine in fetch mode for the benchmark: the Bun.serve-style app of fetch-app.ts. Listens on
 * 127.0.0.1:$PORT with $WORKERS workers (default 1) and prints `listening` once every worker accepts.
 */
import { isPrimary, serve } from '../../src/index.ts';
import { fetchApp } from './fetch-app.ts';

await serve({
  fetch: fetchApp,
  port: Number(process.env.PORT),
  hostname: '127.0.0.1',
  workers: Number(process.env.WORKERS ?? 1),
  log: false,
});

if (isPrimary()) console.log('listening');
