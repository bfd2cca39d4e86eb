// The chat page of the websocket and chat-cluster examples: it opens a WebSocket to /chat, shows
// every message that arrives, and sends what is typed.
export const CHAT_PAGE = `<!doctype html>
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
