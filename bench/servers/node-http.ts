/**
 * Baseline server for the benchmark: plain `node:http` with its default keep-alive settings.
 * Listens on 127.0.0.1:$PORT and prints `listening` once it accepts connections. $KEEP_ALIVE_MS, if
 * set, is the keep-alive timeout (idle-connection run).
 */
import { createServer } from 'node:http';
import { handleRequest } from './node-http-handler.ts';

const port = Number(process.env.PORT);

const server = createServer(handleRequest);
// The idle-connection run keeps 10,000 connections open and quiet for a while.
if (process.env.KEEP_ALIVE_MS) server.keepAliveTimeout = Number(process.env.KEEP_ALIVE_MS);

server.listen(port, '127.0.0.1', () => {
  console.log('listening');
});
