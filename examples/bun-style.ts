// A Bun.serve program, run by Peregrine unchanged but for its import: `routes` with params, a static
// page, and a WebSocket chat whose rooms reach every worker. `npm run example -- bun-style`, then
// open http://localhost:3000/ in two browser tabs.
import { serve } from '../src/index.ts';

const page = `<!doctype html>
<meta charset="utf-8"><title>Peregrine chat</title>
<ul id="log"></ul>
<form id="say"><input id="text" autocomplete="off" autofocus><button>Send</button></form>
<script>
  const ws = new WebSocket(\`ws://\${location.host}/chat?name=guest-\${Math.floor(Math.random() * 1000)}\`);
  const log = document.getElementById('log');
  ws.onmessage = (event) => log.append(Object.assign(document.createElement('li'), { textContent: event.data }));
  document.getElementById('say').onsubmit = (event) => {
    event.preventDefault();
    ws.send(document.getElementById('text').value);
    document.getElementById('text').value = '';
  };
</script>`;

const server = await serve({
  port: Number(process.env.PORT ?? 3000),
  workers: process.env.WORKERS === undefined ? undefined : Number(process.env.WORKERS),
  routes: {
    // A Response value is read once and sent as the same bytes every time.
    '/': new Response(page, { headers: { 'Content-Type': 'text/html; charset=utf-8' } }),
    '/api/hello/:name': (request) => Response.json({ hello: request.params.name }),
    '/api/status': {
      GET: (_request, server) =>
        Response.json({ pendingRequests: server.pendingRequests, webSockets: server.pendingWebSockets }),
    },
  },
  fetch(request, server) {
    const url = new URL(request.url);
    if (url.pathname === '/chat') {
      const name = (url.searchParams.get('name') ?? 'guest').slice(0, 32);
      if (server.upgrade(request, { data: { name } })) return undefined;
      return new Response('a WebSocket handshake was expected', { status: 400 });
    }
    return new Response('not found', { status: 404 });
  },
  websocket: {
    data: {} as { name: string },
    publishToSelf: true,
    open(ws) {
      ws.subscribe('chat');
      ws.publish('chat', `${ws.data.name} joined`);
    },
    message(ws, message) {
      ws.publish('chat', `${ws.data.name}: ${String(message)}`);
    },
    close(ws) {
      server.publish('chat', `${ws.data.name} left`);
    },
  },
});
