/**
 * The ceiling for WebSocket fan-out on node:net: the least a server must do, and nothing more. A
 * fixed 101 answers any request for `/sub` or `/pub` (no validation, no options, no limits); the
 * publisher's frames are unmasked (assumed whole, unfragmented, under 64 KiB) and each becomes one
 * unmasked frame written to every subscriber with `socket.write`, corked for the rest of the tick as
 * Peregrine does, so that frames of one tick leave in one writev. Not a server: a measure of what
 * Node's socket layer costs per delivery (the pubsub section's local row).
 */
import { createHash } from 'node:crypto';
import { createServer, type Socket } from 'node:net';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const subscribers = new Set<Socket>();
const corked = new Set<Socket>();

function uncorkAll(): void {
  for (const socket of corked) socket.uncork();
  corked.clear();
}

function fanOut(frame: Buffer): void {
  if (corked.size === 0) process.nextTick(uncorkAll);
  for (const socket of subscribers) {
    if (!corked.has(socket)) {
      socket.cork();
      corked.add(socket);
    }
    socket.write(frame);
  }
}

/** Publisher frames: FIN text/binary, masked, lengths up to 65535. Returns the bytes left over. */
function readFrames(data: Buffer): Buffer {
  let at = 0;
  while (data.length - at >= 6) {
    const opcode = data[at]! & 0x0f;
    let length = data[at + 1]! & 0x7f;
    let header = 2;
    if (length === 126) {
      if (data.length - at < 8) break;
      length = data.readUInt16BE(at + 2);
      header = 4;
    }
    if (data.length - at < header + 4 + length) break;
    const mask = data.subarray(at + header, at + header + 4);
    const payload = Buffer.allocUnsafe(length);
    for (let i = 0; i < length; i++) payload[i] = data[at + header + 4 + i]! ^ mask[i & 3]!;
    at += header + 4 + length;
    if (opcode !== 1 && opcode !== 2) continue;
    const head =
      length < 126
        ? Buffer.from([0x80 | opcode, length])
        : Buffer.from([0x80 | opcode, 126, length >> 8, length & 0xff]);
    fanOut(Buffer.concat([head, payload]));
  }
  return data.subarray(at);
}

const server = createServer((socket) => {
  socket.setNoDelay(true);
  let head: Buffer = Buffer.alloc(0);
  let publisher = false;
  let upgraded = false;
  socket.on('error', () => {});
  socket.on('close', () => subscribers.delete(socket));
  socket.on('data', (chunk: Buffer) => {
    head = head.length === 0 ? chunk : Buffer.concat([head, chunk]);
    if (!upgraded) {
      const end = head.indexOf('\r\n\r\n');
      if (end === -1) return;
      const text = head.subarray(0, end).toString('latin1');
      const key = /sec-websocket-key:\s*(\S+)/i.exec(text)?.[1] ?? '';
      const accept = createHash('sha1')
        .update(key + GUID)
        .digest('base64');
      socket.write(
        `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`,
      );
      upgraded = true;
      publisher = text.startsWith('GET /pub');
      if (!publisher) subscribers.add(socket);
      head = head.subarray(end + 4);
    }
    if (publisher) head = readFrames(head);
    else head = Buffer.alloc(0);
  });
});
server.listen(Number(process.env.PORT), '127.0.0.1', () => console.log('listening'));
