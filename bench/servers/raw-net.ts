/**
 * The ceiling for any Node HTTP server: `node:net` with the socket's `onread` into one reused buffer,
 * answering every request with a canned response and no parsing beyond finding where each request ends
 * and whether its target is `/6150`. It is not an HTTP server (no validation, no bodies, no limits); it
 * measures what Node itself costs per request on this machine. Listens on 127.0.0.1:$PORT and prints
 * `listening`.
 */
import { createServer, Socket } from 'node:net';
import { bodyFor } from './bodies.ts';

function canned(path: string): Buffer {
  const body = bodyFor(path);
  return Buffer.from(
    `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
    'latin1',
  );
}

const SMALL = canned('/');
const LARGE = canned('/6150');
const END = Buffer.from('\r\n\r\n');
const LARGE_TARGET = Buffer.from('GET /6150 ');
const readBuffer = Buffer.allocUnsafe(64 * 1024);

/** Answers the complete requests in `buf[0..n)`; a request split across reads is answered when it ends. */
function answer(socket: Socket, state: { partial: boolean }, buf: Buffer, n: number): void {
  const out: Buffer[] = [];
  let start = 0;
  for (let end = buf.indexOf(END, 0); end !== -1 && end + 4 <= n; end = buf.indexOf(END, start)) {
    const large = !state.partial && buf.subarray(start, start + LARGE_TARGET.length).equals(LARGE_TARGET);
    out.push(large ? LARGE : SMALL);
    state.partial = false;
    start = end + 4;
  }
  if (start < n) state.partial = true;
  if (out.length === 1) socket.write(out[0]!);
  else if (out.length > 1) socket.write(Buffer.concat(out));
}

const server = createServer({ pauseOnConnect: true, noDelay: true }, (accepted) => {
  const internal = accepted as unknown as { _handle: unknown };
  const handle = internal._handle;
  internal._handle = null;
  const state = { partial: false };
  const socket: Socket = new Socket({
    handle,
    onread: {
      buffer: readBuffer,
      callback(n: number, buf: Uint8Array) {
        answer(socket, state, buf as Buffer, n);
        return true;
      },
    },
  } as unknown as ConstructorParameters<typeof Socket>[0]);
  socket.on('error', () => {});
});

server.listen(Number(process.env.PORT), '127.0.0.1', () => console.log('listening'));
