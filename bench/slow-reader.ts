/**
 * Memory under clients that pipeline many requests and never read the responses (issue 12, item 4).
 *
 * Each client sends PIPELINED `GET`s in one write (about 1,400 fit in one 64 KiB read) to a handler that
 * builds a fresh 1 MiB body per request, then reads nothing. The server's RSS is sampled every 50 ms
 * for SECONDS; the peak is reported for Peregrine and for node:http running the same handler, in the
 * same run, with 1 and 4 such clients. The server is pinned to core 0, the clients to core 1.
 *
 *   node bench/slow-reader.ts            # both servers, 1 and 4 clients
 *   CLIENTS=4 SERVERS=peregrine node bench/slow-reader.ts
 */
import { spawn } from 'node:child_process';
import { createServer as createHttpServer } from 'node:http';
import { connect, type Socket } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { freePort } from './net.ts';
import { rssMiB } from './proc.ts';

const MiB = 1024 * 1024;
const PIPELINED = 1400;
const SECONDS = Number(process.env.SECONDS ?? 6);

if (process.argv[2] === 'serve') {
  // The server process: `serve NAME PORT`.
  const [, , , name, port] = process.argv;
  const body = () => Buffer.alloc(MiB, 0x61); // fresh each time, as a rendered page would be
  if (name === 'peregrine') {
    const { serve } = await import('../src/index.ts');
    await serve(
      { handleRequest: (_req, res) => res.end(body()) },
      { port: Number(port), host: '127.0.0.1', workers: 1, log: false },
    );
  } else {
    createHttpServer((_req, res) => res.end(body())).listen(Number(port), '127.0.0.1');
  }
  console.log('listening');
} else {
  await main();
}

async function measure(name: string, clients: number): Promise<{ peak: number; end: number; idle: number }> {
  const port = await freePort();
  const server = spawn(
    'taskset',
    ['-c', '0', process.execPath, fileURLToPath(import.meta.url), 'serve', name, String(port)],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  await new Promise<void>((resolve) => server.stdout!.once('data', () => resolve()));
  const pid = server.pid!;
  await delay(300);
  const idle = rssMiB(pid);
  let pipelined = '';
  for (let i = 0; i < PIPELINED; i++) pipelined += `GET /${i} HTTP/1.1\r\nHost: x\r\n\r\n`;
  const sockets: Socket[] = [];
  for (let c = 0; c < clients; c++) {
    const socket = connect({ port, host: '127.0.0.1' });
    socket.on('error', () => {});
    socket.pause(); // never reads
    socket.write(pipelined);
    sockets.push(socket);
  }
  let peak = idle;
  const until = Date.now() + SECONDS * 1000;
  while (Date.now() < until) {
    await delay(50);
    peak = Math.max(peak, rssMiB(pid));
  }
  const end = rssMiB(pid);
  for (const s of sockets) s.destroy();
  server.kill('SIGKILL');
  await new Promise((resolve) => server.once('exit', resolve));
  return { peak, end, idle };
}

async function main(): Promise<void> {
  const servers = (process.env.SERVERS ?? 'peregrine,node-http').split(',');
  const clientCounts = (process.env.CLIENTS ?? '1,4').split(',').map(Number);
  console.log(`| server | clients | idle RSS MiB | peak RSS MiB | RSS after ${SECONDS} s MiB |`);
  console.log('|---|---:|---:|---:|---:|');
  for (const clients of clientCounts) {
    for (const name of servers) {
      const r = await measure(name, clients);
      console.log(
        `| ${name} | ${clients} | ${r.idle.toFixed(0)} | ${r.peak.toFixed(0)} | ${r.end.toFixed(0)} |`,
      );
    }
  }
}
