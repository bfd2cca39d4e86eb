/**
 * Memory under compressed WebSocket messages that inflate far past the message limit (zip bombs).
 *
 * CLIENTS raw clients (200 by default) negotiate permessage-deflate, then each sends one binary message
 * of about 1 MB whose payload inflates to 1 GiB of zeros, all at once. A server must refuse every one
 * with close code 1009 (message too big) without inflating it all. The server's RSS is sampled every
 * 25 ms from the first message until every client has its Close (or TIMEOUT seconds pass); the peak is
 * reported with the RSS two seconds after the last Close and the time until the last 1009, for Peregrine (permessage-deflate on, wsMaxMessageBytes
 * LIMIT_MIB, and its defaults wsInflateConcurrency 4 and wsInflateMaxBytes 32 MiB) and for the `ws`
 * package (perMessageDeflate on, maxPayload LIMIT_MIB, its default zlib concurrency of 10), in the same
 * run. LIMIT_MIB is 16 by default: with a 1 MiB limit every bomb stops after 1 MiB anyway, while a
 * larger limit is what lets 200 inflations at once hold gigabytes. The server is pinned to core 0, the
 * clients to core 1 (when there are two).
 *
 *   node bench/ws-bomb.ts                      # both servers, 200 clients, 3 runs each
 *   CLIENTS=50 RUNS=1 LIMIT_MIB=1 SERVERS=peregrine node bench/ws-bomb.ts
 */
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { availableParallelism } from 'node:os';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { constants, createDeflateRaw } from 'node:zlib';
import { freePort } from './net.ts';
import { rssMiB } from './proc.ts';

const MiB = 1024 * 1024;
const INFLATED_BYTES = 1024 * MiB;
const CLIENTS = Number(process.env.CLIENTS ?? 200);
const RUNS = Number(process.env.RUNS ?? 3);
const TIMEOUT_MS = Number(process.env.TIMEOUT ?? 60) * 1000;
const LIMIT = Number(process.env.LIMIT_MIB ?? 16) * MiB;
const SAMPLE_MS = 25;
const MASK = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);
const TWO_CORES = availableParallelism() >= 2;

if (process.argv[2] === 'serve') {
  // The server process: `serve NAME PORT`.
  const [, , , name, port] = process.argv;
  if (name === 'peregrine') {
    const { serve } = await import('../src/index.ts');
    await serve(
      {
        handleRequest: (_req, res) => {
          res.upgrade();
        },
        handleWSMessage: (ws, message, isBinary) => ws.send(message, isBinary),
      },
      {
        port: Number(port),
        host: '127.0.0.1',
        workers: 1,
        log: false,
        wsPerMessageDeflate: true,
        wsMaxMessageBytes: LIMIT,
      },
    );
  } else {
    const { WebSocketServer } = await import('ws');
    const server = new WebSocketServer({
      port: Number(port),
      host: '127.0.0.1',
      perMessageDeflate: true,
      maxPayload: LIMIT,
    });
    server.on('connection', (socket) => {
      socket.on('error', () => {});
      socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }));
    });
    await new Promise((resolve) => server.once('listening', resolve));
  }
  console.log('listening');
} else {
  await main();
}

/** 1 GiB of zeros, raw-deflated and sync-flushed, without the 00 00 ff ff trailer (RFC 7692 §7.2.1). */
async function bombPayload(): Promise<Buffer> {
  const deflate = createDeflateRaw({ level: 9, memLevel: 9 });
  const chunks: Buffer[] = [];
  deflate.on('data', (chunk: Buffer) => chunks.push(chunk));
  const zeros = Buffer.alloc(4 * MiB);
  for (let written = 0; written < INFLATED_BYTES; written += zeros.length) {
    if (!deflate.write(zeros)) await new Promise((resolve) => deflate.once('drain', resolve));
  }
  await new Promise<void>((resolve) => deflate.flush(constants.Z_SYNC_FLUSH, () => resolve()));
  deflate.close();
  const out = Buffer.concat(chunks);
  return out.subarray(0, out.length - 4);
}

/** A masked final binary frame with RSV1 set (a compressed message). */
function compressedFrame(payload: Buffer): Buffer {
  const head = Buffer.alloc(14);
  head[0] = 0x80 | 0x40 | 0x02;
  head[1] = 0x80 | 127;
  head.writeUInt32BE(Math.floor(payload.length / 2 ** 32), 2);
  head.writeUInt32BE(payload.length >>> 0, 6);
  MASK.copy(head, 10);
  const masked = Buffer.allocUnsafe(payload.length);
  for (let i = 0; i < payload.length; i++) masked[i] = payload[i]! ^ MASK[i & 3]!;
  return Buffer.concat([head, masked]);
}

/** Opens a WebSocket offering permessage-deflate; resolves once the 101 (with the extension) is in. */
function open(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const key = randomBytes(16).toString('base64');
    const accept = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
    const socket = connect({ port, host: '127.0.0.1' });
    socket.on('error', reject);
    socket.write(
      `GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n` +
        'Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n',
    );
    let head = '';
    const onData = (chunk: Buffer): void => {
      head += chunk.toString('latin1');
      const end = head.indexOf('\r\n\r\n');
      if (end === -1) return;
      socket.off('data', onData);
      socket.off('error', reject);
      const text = head.slice(0, end);
      if (!text.startsWith('HTTP/1.1 101') || !text.includes(accept) || !/permessage-deflate/i.test(text)) {
        reject(new Error(`unexpected handshake answer: ${text.split('\r\n')[0]}`));
      } else resolve(socket);
    };
    socket.on('data', onData);
  });
}

/** Resolves with the code of the first Close frame the server sends (or 1006 if the socket just ends). */
function closeCode(socket: Socket): Promise<number> {
  return new Promise((resolve) => {
    let bytes = Buffer.alloc(0);
    let done = false;
    const finish = (code: number) => {
      if (done) return;
      done = true;
      resolve(code);
      socket.destroy();
    };
    socket.on('data', (chunk: Buffer) => {
      bytes = Buffer.concat([bytes, chunk]);
      // Skip whole frames until a Close (server frames are unmasked).
      let at = 0;
      while (bytes.length - at >= 2) {
        const opcode = bytes[at]! & 0x0f;
        const length7 = bytes[at + 1]! & 0x7f;
        const headLength = length7 < 126 ? 2 : length7 === 126 ? 4 : 10;
        if (bytes.length - at < headLength) break;
        const length =
          length7 < 126
            ? length7
            : length7 === 126
              ? bytes.readUInt16BE(at + 2)
              : bytes.readUInt32BE(at + 6) + bytes.readUInt32BE(at + 2) * 2 ** 32;
        if (bytes.length - at < headLength + length) break;
        if (opcode === 0x8) {
          finish(length >= 2 ? bytes.readUInt16BE(at + headLength) : 1005);
          return;
        }
        at += headLength + length;
      }
      bytes = bytes.subarray(at);
    });
    socket.on('error', () => finish(1006));
    socket.on('close', () => finish(1006));
  });
}

interface Result {
  idle: number;
  peak: number;
  /** Seconds from the first write until the last Close arrived. */
  seconds: number;
  /** RSS two seconds after the last Close: what the attack left behind. */
  after: number;
  codes: Map<number, number>;
}

async function measure(name: string, frame: Buffer): Promise<Result> {
  const port = await freePort();
  const server = spawn(
    'taskset',
    ['-c', '0', process.execPath, fileURLToPath(import.meta.url), 'serve', name, String(port)],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  await new Promise<void>((resolve) => server.stdout!.once('data', () => resolve()));
  const pid = server.pid!;
  try {
    const sockets: Socket[] = [];
    for (let i = 0; i < CLIENTS; i++) sockets.push(await open(port));
    await delay(300);
    const idle = rssMiB(pid);
    let peak = idle;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        peak = Math.max(peak, rssMiB(pid));
        await delay(SAMPLE_MS);
      }
    })();
    const started = performance.now();
    const codes = await Promise.race([
      Promise.all(
        sockets.map((socket) => {
          const code = closeCode(socket);
          socket.write(frame);
          return code;
        }),
      ),
      delay(TIMEOUT_MS).then(() => null),
    ]);
    const seconds = (performance.now() - started) / 1000;
    sampling = false;
    await sampler;
    peak = Math.max(peak, rssMiB(pid));
    for (const socket of sockets) socket.destroy();
    await delay(2000);
    const after = rssMiB(pid);
    const counted = new Map<number, number>();
    if (codes === null) counted.set(0, CLIENTS);
    else for (const code of codes) counted.set(code, (counted.get(code) ?? 0) + 1);
    return { idle, peak, seconds, after, codes: counted };
  } finally {
    server.kill('SIGKILL');
    await new Promise((resolve) => server.once('exit', resolve));
  }
}

async function main(): Promise<void> {
  if (TWO_CORES) {
    // The clients on core 1, away from the server.
    try {
      const { execFileSync } = await import('node:child_process');
      execFileSync('taskset', ['-p', '-c', '1', String(process.pid)], { stdio: 'ignore' });
    } catch {
      // taskset missing: run unpinned.
    }
  }
  const servers = (process.env.SERVERS ?? 'peregrine,ws').split(',');
  process.stderr.write('building the bomb (1 GiB of zeros, deflated)… ');
  const payload = await bombPayload();
  const frame = compressedFrame(payload);
  process.stderr.write(`${payload.length} bytes\n`);
  console.log(
    `${CLIENTS} clients, each sending one ${(payload.length / 1e6).toFixed(2)} MB compressed message ` +
      `that inflates to 1 GiB; message limit ${LIMIT / MiB} MiB; RSS sampled every ${SAMPLE_MS} ms.`,
  );
  console.log('');
  console.log(
    '| server | run | idle RSS MiB | peak RSS MiB | RSS 2 s later, MiB | until the last Close, s | close codes |',
  );
  console.log('|---|---:|---:|---:|---:|---:|---|');
  for (let run = 1; run <= RUNS; run++) {
    for (const name of servers) {
      const r = await measure(name, frame);
      const codes = [...r.codes]
        .map(([code, count]) => (code === 0 ? `${count} timed out` : `${count}× ${code}`))
        .join(', ');
      console.log(
        `| ${name} | ${run} | ${r.idle.toFixed(0)} | ${r.peak.toFixed(0)} | ${r.after.toFixed(0)} | ${r.seconds.toFixed(2)} | ${codes} |`,
      );
    }
  }
}
