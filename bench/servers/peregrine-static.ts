/**
 * Peregrine static file server for the benchmark's static section: a DirServer over $STATIC_DIR used as
 * the handler itself (404 for anything it does not serve). Listens on 127.0.0.1:$PORT with one worker
 * and prints `listening` once it accepts connections.
 */
import { DirServer, serve } from '../../src/index.ts';

const dir = process.env.STATIC_DIR;
if (dir === undefined || dir === '') {
  console.error('peregrine-static: STATIC_DIR is not set');
  process.exit(1);
}

await serve(new DirServer(dir), {
  port: Number(process.env.PORT),
  host: '127.0.0.1',
  handleSignals: true,
  workers: 1,
  log: false,
});

console.log('listening');
