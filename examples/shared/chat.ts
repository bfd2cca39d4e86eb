// The chat of the websocket and chat-cluster examples: GET / serves a page that opens a WebSocket to
// /chat; every message a browser sends is published to everyone in the room (every worker, and with
// pubsub.redis every instance).
import { type Handler, publish } from '../../src/index.ts';

const CHAT_PAGE = `<!doctype html>
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

/** The chat handler; `guestName()` names each new guest (unique across workers, and instances). */
export function chatHandler(guestName: () => string): Handler<{ name: string }> {
  // Handler<T> types `ws.data` in every hook: here, what res.upgrade({ data }) is given.
  return {
    handleRequest(req, res): void {
      if (req.path === '/chat') {
        res.upgrade({ data: { name: guestName() } });
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
      if (!isBinary) publish('room', `${ws.data.name}: ${message}`);
    },
    handleWSClose(ws): void {
      publish('room', `${ws.data.name} left`);
    },
  };
}
