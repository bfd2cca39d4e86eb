/**
 * Opens `--connections` keep-alive connections to 127.0.0.1:`--port`, sends one `GET /` on each and
 * waits for its response, then prints `ready <n>` and keeps every connection open and idle until it is
 * sent SIGTERM (or its stdin closes). The benchmark reads the server's memory meanwhile: what an idle
 * keep-alive connection costs. With `--websocket` each `GET /` is a WebSocket opening handshake
 * (RFC 6455 §4.1, no extension offered) and the connection is ready once the server's
 * `101 Switching Protocols` has come: what an idle WebSocket costs. Exits with code 1 and a message
 * on stderr if a connection fails.
 */
import { connect, type Socket } from 'node:net';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    port: { type: 'string' },
    connections: { type: 'string', default: '10000' },
    websocket: { type: 'boolean', default: false },
  },
});
const port = Number(values.port);
const total = Number(values.connections);
if (!Number.isInteger(port) || port <= 0 || !Number.isInteger(total) || total <= 0) {
  console.error('usage: idle-load.ts --port N [--connections N] [--websocket]');
  process.exit(2);
}

const websocket = values.websocket === true;
// Any 16 bytes in base64 make a valid key: the client does not check the server's accept value.
const REQUEST = websocket
  ? 'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
    'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n'
  : 'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n';
/** Connections being opened at once: enough to be quick, few enough not to overflow the listen backlog. */
const BATCH = 200;
const sockets: Socket[] = [];

function failed(message: string): never {
  console.error(`idle-load: ${message}`);
  process.exit(1);
}

/**
 * Opens one connection and resolves once the response to its request has fully arrived (for a
 * WebSocket, the 101's head: no frame follows it, as the server sends none).
 */
function open(): Promise<void> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    sockets.push(socket);
    let text = '';
    socket.setEncoding('latin1');
    socket.on('connect', () => socket.write(REQUEST));
    const onData = (chunk: string): void => {
      text += chunk;
      const headEnd = text.indexOf('\r\n\r\n');
      if (headEnd === -1) return;
      if (websocket) {
        if (!text.startsWith('HTTP/1.1 101 '))
          failed(`a handshake was not accepted: ${JSON.stringify(text.slice(0, 200))}`);
        socket.off('data', onData);
        resolve();
        return;
      }
      const length = /\r\ncontent-length: *(\d+)/i.exec(text.slice(0, headEnd));
      if (length === null) failed(`a response without Content-Length: ${JSON.stringify(text.slice(0, 200))}`);
      if (text.length < headEnd + 4 + Number(length[1])) return;
      socket.off('data', onData);
      resolve();
    };
    socket.on('data', onData);
    socket.on('error', (error) => failed(`connection ${sockets.length}: ${error.message}`));
    socket.on('close', () => failed('the server closed an idle connection'));
  });
}

for (let opened = 0; opened < total; opened += BATCH) {
  await Promise.all(Array.from({ length: Math.min(BATCH, total - opened) }, open));
}
console.log(`ready ${sockets.length}`);

const stop = (): void => {
  for (const socket of sockets) {
    socket.removeAllListeners('close');
    socket.destroy();
  }
  process.exit(0);
};
process.on('SIGTERM', stop);
process.stdin.on('end', stop);
process.stdin.resume();
