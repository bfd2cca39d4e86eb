// A small chat (examples/shared/chat.ts): GET / serves a page that opens a WebSocket to /chat; every
// message a browser sends is published to everyone in the room, across all workers.
import cluster from 'node:cluster';
import { threadId } from 'node:worker_threads';
import { serve } from '../src/index.ts';
import { chatHandler } from './shared/chat.ts';

// Every worker runs this file: names carry the worker's id (a thread's, or a cluster process's), so
// that guests on different workers never share one.
const worker = cluster.worker?.id ?? threadId;
let nextGuest = 1;

await serve(
  chatHandler(() => `guest-${worker}-${nextGuest++}`),
  {
    port: Number(process.env.PORT ?? 3000),
    workers: process.env.WORKERS === undefined ? undefined : Number(process.env.WORKERS),
  },
);
