// A small chat: GET / serves a page that opens a WebSocket to /chat; every message a browser sends
// is published to everyone in the room, across all workers.
import { publish, type Request, type Response, serve, type WebSocket } from '../src/index.ts';

const PAGE = `<!doctype html>
<html lang="en">
<meta charset="utf-8">
<title>Peregrine chat</title>
<style>
  body { font: 16px system-ui, sans-serif; max-width: 40rem; margin: 2rem auto; }
  #log { border: 1px solid #ccc; height: 20rem; overflow-y: auto; padding: .5rem; }
  form { display: flex; gap: .5rem; margin-top: .5rem; } input { flex: 1; }
</style>
<h1>Peregrine chat</h1>
<p id="status">connecting…</p>
<div id="log"></div>
<form id="form"><input id="text" autocomplete="off" placeholder="Say something"><button>Send</button></form>
<script>
  const log = document.getElementById('log');
  const status = document.getElementById('status');
  const socket = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/chat');
  function show(text) {
    const line = document.createElement('div');
    line.textContent = text;
    log.append(line);
    log.scrollTop = log.scrollHeight;
  }
  socket.onopen = () => { status.textContent = 'connected'; };
  socket.onclose = (event) => { status.textContent = 'closed (' + event.code + ')'; };
  socket.onmessage = (event) => show(event.data);
  document.getElementById('form').onsubmit = (event) => {
    event.preventDefault();
    const input = document.getElementById('text');
    if (input.value !== '') socket.send(input.value);
    input.value = '';
  };
</script>
</html>
`;

let nextGuest = 1;

const chat = {
  handleRequest(req: Request, res: Response): void {
    if (req.path === '/chat') {
      res.upgrade({ data: { name: `guest-${process.pid}-${nextGuest++}` } });
      return;
    }
    if (req.path !== '/') {
      res.status = 404;
      res.end('not found\n');
      return;
    }
    res.setHeader('Content-Type', 'text/html; charset=utf-8');
    res.end(PAGE);
  },
  handleWSOpen(ws: WebSocket): void {
    ws.subscribe('room');
    publish('room', `${(ws.data as { name: string }).name} joined`);
  },
  handleWSMessage(ws: WebSocket, message: string | Buffer, isBinary: boolean): void {
    if (isBinary) return;
    publish('room', `${(ws.data as { name: string }).name}: ${message}`);
  },
  handleWSClose(ws: WebSocket): void {
    publish('room', `${(ws.data as { name: string }).name} left`);
  },
};

await serve(chat, {
  port: Number(process.env.PORT ?? 3000),
  workers: process.env.WORKERS === undefined ? undefined : Number(process.env.WORKERS),
});
