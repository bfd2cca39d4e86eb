/**
 * The ceiling for any Node HTTP server: `node:net` with the socket's `onread` into one reused buffer,
 * answering every request with a canned response and no parsing beyond finding where each request ends,
 * which route of bodies.ts its request line names, and (for `POST`) how many body bytes to skip. It is not
 * an HTTP server (no validation, no chunked bodies, no limits); it measures what Node itself costs per
 * request on this machine. Listens on 127.0.0.1:$PORT and prints `listening`.
 */
import { createServer, Socket } from 'node:net';
import { JSON_BODY, LARGE_BODY, SMALL_BODY, UPLOAD_BYTES } from './bodies.ts';

function canned(body: string, type = 'text/plain'): Buffer {
  return Buffer.from(
    `HTTP/1.1 200 OK\r\nContent-Type: ${type}\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
    'latin1',
  );
}

const SMALL = canned(SMALL_BODY);
const LARGE = canned(LARGE_BODY);
const JSON_RESPONSE = canned(JSON_BODY, 'application/json');
const UPLOADED = canned(String(UPLOAD_BYTES));
const END = Buffer.from('\r\n\r\n');
const LARGE_TARGET = Buffer.from('GET /6150 ');
const JSON_TARGET = Buffer.from('GET /json ');
const POST = Buffer.from('POST ');
const CONTENT_LENGTH = Buffer.from('\r\nContent-Length: ');
const readBuffer = Buffer.allocUnsafe(64 * 1024);

interface State {
  /** The start of a request whose head has not fully arrived, copied out of the shared buffer. */
  carry: Buffer | null;
  /** Body bytes of the last POST still to come. */
  skip: number;
}

function startsWith(buf: Buffer, at: number, prefix: Buffer): boolean {
  return buf.subarray(at, at + prefix.length).equals(prefix);
}

/** The response to the request whose head is `buf[start..end)`; sets `state.skip` for a POST body. */
function responseFor(state: State, buf: Buffer, start: number, end: number): Buffer {
  if (startsWith(buf, start, LARGE_TARGET)) return LARGE;
  if (startsWith(buf, start, JSON_TARGET)) return JSON_RESPONSE;
  if (!startsWith(buf, start, POST)) return SMALL;
  const at = buf.indexOf(CONTENT_LENGTH, start);
  const length = at === -1 || at > end ? 0 : Number.parseInt(buf.toString('latin1', at + 18, end + 2), 10);
  state.skip = length;
  return length === UPLOAD_BYTES ? UPLOADED : canned(String(length));
}

/** Answers the complete requests in `buf[0..n)`; a head split across reads is answered when it ends. */
function answer(socket: Socket, state: State, input: Buffer, n: number): void {
  let buf = input;
  let size = n;
  if (state.carry !== null) {
    buf = Buffer.concat([state.carry, input.subarray(0, n)]);
    size = buf.length;
    state.carry = null;
  }
  const out: Buffer[] = [];
  let start = 0;
  while (start < size) {
    if (state.skip > 0) {
      const skipped = Math.min(state.skip, size - start);
      state.skip -= skipped;
      start += skipped;
      continue;
    }
    const end = buf.indexOf(END, start);
    if (end === -1 || end + 4 > size) {
      state.carry = Buffer.from(buf.subarray(start, size));
      break;
    }
    out.push(responseFor(state, buf, start, end));
    start = end + 4;
  }
  if (out.length === 1) socket.write(out[0]!);
  else if (out.length > 1) socket.write(Buffer.concat(out));
}

const server = createServer({ pauseOnConnect: true, noDelay: true }, (accepted) => {
  const internal = accepted as unknown as { _handle: unknown };
  const handle = internal._handle;
  internal._handle = null;
  const state: State = { carry: null, skip: 0 };
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
