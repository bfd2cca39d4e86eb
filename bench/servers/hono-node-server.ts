/**
 * Hono on @hono/node-server, as its README sets it up (it replaces the global Request and Response
 * with its own lighter classes: its fast path). 127.0.0.1:$PORT; prints `listening`.
 */
import { serve } from '@hono/node-server';
import { app } from './hono-app.ts';

const server = serve({ fetch: app.fetch, port: Number(process.env.PORT), hostname: '127.0.0.1' }, () =>
  console.log('listening'),
);
process.on('SIGTERM', () => server.close(() => process.exit(0)));
