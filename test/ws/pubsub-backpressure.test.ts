import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { connect } from 'node:net';
import { test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import WebSocketClient from 'ws';
import { publish, type Server, type WebSocket } from '../../src/index.ts';
import { start } from '../helpers.ts';

// Pub/sub backpressure that is fair to fast readers: a burst of publications larger than
// wsMaxBufferedBytes is shared, not copied per socket, and cuts off only a reader that stops
// making progress — never one that works through it.

const MiB = 1024 * 1024;

interface Subscriber {
  client: WebSocketClient;
  received: number;
  bytes: number;
  closeCode: number | null;
  closed: Promise<void>;
}

async function subscriber(server: Server, options: WebSocketClient.ClientOptions = {}): Promise<Subscriber> {
  const client = new WebSocketClient(`ws://127.0.0.1:${server.port}/`, options);
  const sub: Subscriber = { client, received: 0, bytes: 0, closeCode: null, closed: Promise.resolve() };
  sub.closed = new Promise((resolve) => {
    client.on('close', (code) => {
      sub.closeCode = code;
      resolve();
    });
  });
  client.on('error', () => {});
  client.on('message', (data: Buffer) => {
    sub.received++;
    sub.bytes += data.length;
  });
  await once(client, 'open');
  return sub;
}

function startPubSub(options: Parameters<typeof start>[1] = {}): Promise<Server> {
  return start(
    {
      handleRequest: (_req, res) => void res.upgrade(),
      handleWSOpen: (ws: WebSocket) => ws.subscribe('news'),
    },
    options,
  );
}

async function until(condition: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await delay(10);
  }
}

/** Waits for the server to count `n` subscribers (handleWSOpen runs after the client's 'open'). */
async function subscribed(n: number): Promise<void> {
  await until(() => subscriberCountOf('news') === n);
}

import { subscriberCount as subscriberCountOf } from '../../src/index.ts';

test('a 48 MiB burst of publications reaches readers that keep up, past a 1 MiB wsMaxBufferedBytes', async () => {
  const server = await startPubSub({ wsMaxBufferedBytes: MiB });
  try {
    const fast = [await subscriber(server), await subscriber(server)];
    await subscribed(2);
    const message = Buffer.alloc(64 * 1024, 7);
    const count = 768; // 48 MiB, published in one tick
    let taken = 0;
    for (let i = 0; i < count; i++) taken += publish('news', message);
    assert.equal(taken, 2 * count, 'every publication was taken by both subscribers');
    await until(() => fast.every((s) => s.received === count), 30_000);
    for (const s of fast) {
      assert.equal(s.closeCode, null, 'a reader that keeps up is not cut off');
      assert.equal(s.bytes, count * message.length);
    }
  } finally {
    await server.shutdown();
  }
});

test('a subscriber that stops reading is cut off once it makes no progress for a second; the others get everything', async () => {
  const server = await startPubSub({ wsMaxBufferedBytes: MiB });
  try {
    const fast = await subscriber(server);
    const stalled = await subscriber(server);
    await subscribed(2);
    // The stalled client's socket stops reading: the kernel buffers fill, then the server's.
    (stalled.client as unknown as { _socket: import('node:net').Socket })._socket.pause();
    const message = Buffer.alloc(16 * 1024, 1);
    let sent = 0;
    const startedAt = Date.now();
    // Publications keep coming for 2.5 s, 4 MiB/s: the stalled reader falls further behind.
    while (Date.now() - startedAt < 2500) {
      for (let i = 0; i < 16; i++) {
        publish('news', message);
        sent++;
      }
      await delay(50);
    }
    await until(() => subscriberCountOf('news') === 1, 5000);
    await until(() => fast.received === sent, 10_000);
    assert.equal(fast.closeCode, null);
    (stalled.client as unknown as { _socket: import('node:net').Socket })._socket.resume();
    await stalled.closed;
    // Cut without a closing handshake (a Close can't get through a full buffer).
    assert.equal(stalled.closeCode, 1006);
    assert.ok(stalled.received < sent, 'the stalled reader missed publications');
  } finally {
    await server.shutdown();
  }
});

test('with wsCloseOnBackpressureLimit false a stalled subscriber misses publications but stays connected', async () => {
  const server = await startPubSub({ wsMaxBufferedBytes: MiB, wsCloseOnBackpressureLimit: false });
  try {
    const fast = await subscriber(server);
    const stalled = await subscriber(server);
    await subscribed(2);
    const socket = (stalled.client as unknown as { _socket: import('node:net').Socket })._socket;
    socket.pause();
    const message = Buffer.alloc(16 * 1024, 2);
    let sent = 0;
    let lastTaken = 2;
    const startedAt = Date.now();
    while (Date.now() - startedAt < 2500) {
      for (let i = 0; i < 16; i++) {
        lastTaken = publish('news', message);
        sent++;
      }
      await delay(50);
    }
    assert.equal(lastTaken, 1, 'publish counts only the subscriber that took the message');
    await until(() => fast.received === sent, 10_000);
    socket.resume();
    // It catches up with what it was given, then takes publications again.
    await delay(500);
    const before = stalled.received;
    assert.ok(before > 0 && before < sent);
    assert.equal(publish('news', 'again'), 2);
    await until(() => stalled.received === before + 1);
    assert.equal(stalled.closeCode, null);
    stalled.client.close();
  } finally {
    await server.shutdown();
  }
});

test('a direct send still counts against wsMaxBufferedBytes at once: it is memory for that socket alone', async () => {
  let socket: WebSocket | null = null;
  const server = await start(
    {
      handleRequest: (_req, res) => void res.upgrade(),
      handleWSOpen: (ws: WebSocket) => {
        socket = ws;
      },
    },
    { wsMaxBufferedBytes: MiB },
  );
  try {
    const client = await subscriber(server);
    (client.client as unknown as { _socket: import('node:net').Socket })._socket.pause();
    await until(() => socket !== null);
    const ws = socket as unknown as WebSocket;
    const results: string[] = [];
    for (let i = 0; i < 200 && results.at(-1) !== 'dropped'; i++)
      results.push(ws.send(Buffer.alloc(64 * 1024)));
    assert.equal(results.at(-1), 'dropped');
    assert.ok(results.length < 200, 'the limit was reached within a few MiB');
  } finally {
    await server.shutdown();
  }
});

test('publications are shared: compressed once for sockets with server_no_context_takeover, per socket otherwise, all readable', async () => {
  const sockets: WebSocket[] = [];
  const server = await start(
    {
      handleRequest: (_req, res) => void res.upgrade(),
      handleWSOpen: (ws: WebSocket) => {
        ws.subscribe('news');
        sockets.push(ws);
      },
    },
    { wsPerMessageDeflate: { threshold: 0 } },
  );
  try {
    const fresh = await subscriber(server, { perMessageDeflate: { serverNoContextTakeover: true } });
    const carried = await subscriber(server, { perMessageDeflate: true });
    const plain = await subscriber(server, { perMessageDeflate: false });
    const texts: string[][] = [[], [], []];
    for (const [i, s] of [fresh, carried, plain].entries()) {
      s.client.on('message', (data) => texts[i]!.push(String(data)));
    }
    await subscribed(3);
    const sent: string[] = [];
    for (let i = 0; i < 50; i++) {
      const text = `message ${i} ${'abc'.repeat(i * 40)}`;
      sent.push(text);
      assert.equal(publish('news', text), 3);
      // Messages of each socket's own, compressed with its own context, between the publications:
      // a shared frame must not leave that context out of step with the client's.
      const own = `direct ${i} ${'abc'.repeat(i * 30)}`;
      sent.push(own);
      for (const ws of sockets) ws.send(own);
    }
    await until(() => texts.every((t) => t.length === sent.length));
    for (const t of texts) assert.deepEqual(t, sent, 'in order and intact');
    for (const s of [fresh, carried, plain]) assert.equal(s.closeCode, null);
    fresh.client.close();
    carried.client.close();
    plain.client.close();
  } finally {
    await server.shutdown();
  }
});

test('a client that pings without reading gets one waiting pong, with the latest payload, not one per ping', async () => {
  let socket: WebSocket | null = null;
  const server = await start({
    handleRequest: (_req, res) => void res.upgrade(),
    handleWSOpen: (ws: WebSocket) => {
      socket = ws;
    },
  });
  try {
    // A raw client, so that nothing reads behind the test's back.
    const raw = connect(server.port, '127.0.0.1');
    raw.write(
      'GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    );
    await once(raw, 'data'); // the 101
    raw.pause();
    await until(() => socket !== null);
    const ws = socket as unknown as WebSocket;
    // Back the socket up: more than the kernel buffers hold, while the client reads nothing.
    while (ws.bufferedAmount < 4 * MiB) ws.send(Buffer.alloc(64 * 1024));
    await delay(100);
    const before = ws.bufferedAmount;
    const mask = Buffer.from([1, 2, 3, 4]);
    const ping = (i: number) => {
      const payload = Buffer.from(`ping ${i}`.padEnd(100, '.'));
      const masked = Buffer.from(payload.map((b, j) => b ^ mask[j & 3]!));
      return Buffer.concat([Buffer.from([0x89, 0x80 | payload.length]), mask, masked]);
    };
    raw.write(Buffer.concat(Array.from({ length: 2000 }, (_, i) => ping(i))));
    await until(() => ws.bufferedAmount > before); // the pings have arrived
    await delay(200);
    assert.ok(
      ws.bufferedAmount - before <= 2 + 125,
      `2000 pings queued ${ws.bufferedAmount - before} bytes of pongs, not one pong's worth`,
    );
    // Now read everything: exactly one pong, the latest ping's.
    const chunks: Buffer[] = [];
    raw.on('data', (chunk: Buffer) => chunks.push(chunk));
    raw.resume();
    await until(() => ws.bufferedAmount === 0);
    await delay(100);
    const pongs: string[] = [];
    const all = Buffer.concat(chunks);
    for (let at = 0; at < all.length; ) {
      let length = all[at + 1]! & 0x7f;
      let header = 2;
      if (length === 126) {
        length = all.readUInt16BE(at + 2);
        header = 4;
      } else if (length === 127) {
        length = Number(all.readBigUInt64BE(at + 2));
        header = 10;
      }
      if ((all[at]! & 0x0f) === 0x0a) pongs.push(all.subarray(at + header, at + header + length).toString());
      at += header + length;
    }
    assert.equal(pongs.length, 1);
    assert.match(pongs[0]!, /^ping 1999\.+$/, 'the latest ping is answered');
    raw.destroy();
    await until(() => ws.readyState === 3);
  } finally {
    await server.shutdown();
  }
});
