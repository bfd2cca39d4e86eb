import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { test } from 'node:test';
import { descriptorLimit, openDescriptors } from '../../src/transport/descriptors.ts';
import { start } from '../helpers.ts';

// A burst of connections while the server's event loop is busy: the kernel completes their handshakes
// and holds them in the listen backlog until they are accepted. Past the backlog it drops the SYNs,
// and each of those clients retries a second later (Linux's initial RTO). With Node's default of 511,
// 700 connections in one burst saw one-second connects; the default backlog has room for them.
const BURST = 700;
const room = descriptorLimit() - openDescriptors() - 100;

test('the default listen backlog holds a burst of connections made while the server is busy', {
  skip: room < BURST * 2 ? `needs ${BURST * 2} free file descriptors (ulimit -n), has ${room}` : false,
}, async (t) => {
  const server = await start((_req, res) => res.end('ok'));
  const sockets: Socket[] = [];
  t.after(async () => {
    for (const s of sockets) s.destroy();
    await server.shutdown();
  });
  const started = performance.now();
  const connected: Promise<number>[] = [];
  for (let i = 0; i < BURST; i++) {
    const socket = connect({ port: server.port, host: '127.0.0.1' });
    socket.on('error', () => {});
    sockets.push(socket);
    connected.push(
      new Promise<number>((resolve) => socket.once('connect', () => resolve(performance.now() - started))),
    );
  }
  // The server accepts nothing for 300 ms (nor does anything else in this thread).
  const busyUntil = performance.now() + 300;
  while (performance.now() < busyUntil) {}
  const times = await Promise.all(connected);
  const slowest = Math.max(...times);
  assert.ok(slowest < 900, `a connection took ${slowest.toFixed(0)} ms: its SYN was dropped and retried`);
  assert.equal(server.options.backlog, 4096);
});
