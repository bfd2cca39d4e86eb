// A small chat: GET / serves a page that opens a WebSocket to /chat; every message a browser sends
// is published to everyone in the room, across all workers.
import cluster from 'node:cluster';
import { threadId } from 'node:worker_threads';
import { type Handler, publish, serve } from '../src/index.ts';
import { CHAT_PAGE } from './shared/chat-page.ts';

// Every worker runs this file: names carry the worker's id (a thread's, or a cluster process's), so
// that guests on different workers never share one.
const worker = cluster.worker?.id ?? threadId;
let nextGuest = 1;

// Handler<T> types `ws.data` in every hook: here, what res.upgrade({ data }) is given.
const chat: Handler<{ name: string }> = {
  handleRequest(req, res): void {
    if (req.path === '/chat') {
      res.upgrade({ data: { name: `guest-${worker}-${nextGuest++}` } });
      return;
    }
    if (req.path !== '/') {
      res.status = 404;
      res.end('not found\n');
      return;
    }
    res.setHeader('Content-Type', 'text/html; charset=utf-8');
    res.end(CHAT_PAGE);
  },
  handleWSOpen(ws): void {
    ws.subscribe('room');
    publish('room', `${ws.data.name} joined`);
  },
  handleWSMessage(ws, message, isBinary): void {
    if (isBinary) return;
    publish('room', `${ws.data.name}: ${message}`);
  },
  handleWSClose(ws): void {
    publish('room', `${ws.data.name} left`);
  },
};

await serve(chat, {
  port: Number(process.env.PORT ?? 3000),
  workers: process.env.WORKERS === undefined ? undefined : Number(process.env.WORKERS),
});
