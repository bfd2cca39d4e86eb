/**
 * Baseline server for the benchmark: plain `node:http` with its default keep-alive settings.
 * Listens on 127.0.0.1:$PORT and prints `listening` once it accepts connections.
 */
import { createServer } from 'node:http';
import { handleRequest } from './node-http-handler.ts';

const port = Number(process.env.PORT);

const server = createServer(handleRequest);

server.listen(port, '127.0.0.1', () => {
  console.log('listening');
});
