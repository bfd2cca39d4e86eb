/** Hono on srvx (its Node adapter), 127.0.0.1:$PORT; prints `listening`. */
import { serve } from 'srvx';
import { app } from './hono-app.ts';

const server = serve({
  fetch: app.fetch,
  port: Number(process.env.PORT),
  hostname: '127.0.0.1',
  silent: true,
  gracefulShutdown: false,
});
await server.ready();
process.on('SIGTERM', () => process.exit(0));
console.log('listening');
