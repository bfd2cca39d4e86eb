/**
 * The ceiling for any Node HTTPS server, as raw-net.ts is for plain HTTP: `node:tls` with the https
 * section's certificate ($TLS_CERT, $TLS_KEY) and Node's TLS defaults, answering every request head with
 * the canned `GET /` response and no parsing beyond finding where each head ends and whether it asks for
 * `Connection: close` (the handshake workload), after which the connection is ended. It is not an HTTP
 * server; it measures what Node's TLS layer itself costs per request. (A TLS socket's reads cannot go
 * into a caller's buffer as raw-net.ts's do: each arrives as a new Buffer.) Listens on 127.0.0.1:$PORT
 * and prints `listening`.
 */
import { readFileSync } from 'node:fs';
import { createServer, type TLSSocket } from 'node:tls';
import { SMALL_BODY } from './bodies.ts';

function canned(extraHeaders: string): Buffer {
  return Buffer.from(
    `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${SMALL_BODY.length}\r\n` +
      `${extraHeaders}\r\n${SMALL_BODY}`,
    'latin1',
  );
}

const RESPONSE = canned('');
/** The last response on a connection says so, or wrk takes the end of the connection for an error. */
const LAST_RESPONSE = canned('Connection: close\r\n');
const END = Buffer.from('\r\n\r\n');
const CLOSE = '\r\nconnection: close\r\n';

/** Whether the head `buf[start..end)` (ending before its blank line) asks to close: wrk's exact header. */
function asksToClose(buf: Buffer, start: number, end: number): boolean {
  return buf
    .toString('latin1', start, end + 2)
    .toLowerCase()
    .includes(CLOSE);
}

function serveConnection(socket: TLSSocket): void {
  let carry: Buffer | null = null;
  socket.on('data', (chunk: Buffer) => {
    const buf: Buffer = carry === null ? chunk : Buffer.concat([carry, chunk]);
    carry = null;
    let start = 0;
    let answers = 0;
    let close = false;
    while (start < buf.length) {
      const end = buf.indexOf(END, start);
      if (end === -1) {
        carry = Buffer.from(buf.subarray(start));
        break;
      }
      answers++;
      close = asksToClose(buf, start, end);
      start = end + 4;
      if (close) break;
    }
    if (answers === 0) return;
    const last = close ? LAST_RESPONSE : RESPONSE;
    const out =
      answers === 1 ? last : Buffer.concat([...new Array<Buffer>(answers - 1).fill(RESPONSE), last]);
    if (close) socket.end(out);
    else socket.write(out);
  });
  socket.on('error', () => {});
}

const server = createServer(
  { cert: readFileSync(process.env.TLS_CERT ?? ''), key: readFileSync(process.env.TLS_KEY ?? '') },
  serveConnection,
);

server.listen(Number(process.env.PORT), '127.0.0.1', () => console.log('listening'));
