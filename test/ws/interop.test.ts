import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import WebSocketClient from 'ws';
import {
  type Handler,
  PeregrineError,
  type Request,
  type Response,
  UsageError,
  type WebSocket,
} from '../../src/index.ts';
import { parseResponses, RawClient, start } from '../helpers.ts';

/** An echo server over real sockets; records the server-side events. */
async function echoServer(extra: Partial<Handler> = {}, options = {}) {
  const events: string[] = [];
  const handler: Handler = {
    handleRequest(req: Request, res: Response) {
      if (req.path === '/ws') {
        const offered = req.header('sec-websocket-protocol');
        res.upgrade({ protocol: offered?.includes('chat') ? 'chat' : undefined, data: { path: req.path } });
        return;
      }
      res.end('not a socket');
    },
    handleWSOpen(ws: WebSocket) {
      events.push(`open ${(ws.data as { path: string }).path}`);
    },
    handleWSMessage(ws: WebSocket, message: string | Buffer, isBinary: boolean) {
      ws.send(message, isBinary);
    },
    handleWSClose(_ws: WebSocket, code: number, reason: string) {
      events.push(`close ${code} ${reason}`);
    },
    ...extra,
  };
  const server = await start(handler, { wsMaxMessageBytes: 32 * 1024 * 1024, ...options });
  return { server, events, url: `ws://127.0.0.1:${server.port}/ws` };
}

function connect(
  url: string,
  options: WebSocketClient.ClientOptions & { protocols?: string[] } = {},
): Promise<WebSocketClient> {
  return new Promise((resolve, reject) => {
    const client = new WebSocketClient(url, options.protocols ?? [], options);
    client.once('open', () => resolve(client));
    client.once('error', reject);
  });
}

function nextMessage(client: WebSocketClient): Promise<{ data: Buffer; isBinary: boolean }> {
  return new Promise((resolve) =>
    client.once('message', (data: Buffer, isBinary: boolean) => resolve({ data, isBinary })),
  );
}

function closed(client: WebSocketClient): Promise<{ code: number; reason: string }> {
  return new Promise((resolve) =>
    client.once('close', (code: number, reason: Buffer) => resolve({ code, reason: reason.toString() })),
  );
}

test('text, binary, empty and 16 MiB messages echo back unchanged, text as text and binary as binary', async (t) => {
  const { server, events, url } = await echoServer();
  t.after(() => server.shutdown());
  const client = await connect(url);
  for (const [payload, binary] of [
    ['hello', false],
    ['héllo wörld 👋', false],
    ['', false],
    [Buffer.from([0, 1, 2, 255]), true],
    [Buffer.alloc(0), true],
    [randomBytes(16 * 1024 * 1024), true],
  ] as const) {
    const reply = nextMessage(client);
    client.send(payload, { binary });
    const { data, isBinary } = await reply;
    assert.equal(isBinary, binary);
    assert.deepEqual(data, Buffer.from(payload as string | Buffer));
  }
  const done = closed(client);
  client.close(1000, 'bye');
  assert.deepEqual(await done, { code: 1000, reason: '' });
  await delay(20);
  assert.deepEqual(events, ['open /ws', 'close 1000 bye']);
});

test('fragmented messages with a ping between the fragments', async (t) => {
  const { server, url } = await echoServer();
  t.after(() => server.shutdown());
  const client = await connect(url);
  const pong = new Promise<Buffer>((resolve) => client.once('pong', resolve));
  const reply = nextMessage(client);
  client.send('frag', { fin: false });
  client.ping('between');
  client.send('ment', { fin: false });
  client.send('ed', { fin: true });
  assert.equal((await pong).toString(), 'between');
  assert.equal((await reply).data.toString(), 'fragmented');
  client.close();
});

test('a 4 MiB text message in 64-byte fragments echoes intact, in linear time', async (t) => {
  let growths = -1;
  const { server, url } = await echoServer({
    handleWSMessage(ws: WebSocket, message: string | Buffer, isBinary: boolean) {
      growths = (ws as unknown as { receiver: { bufferGrowths: number } }).receiver.bufferGrowths;
      ws.send(message, isBinary);
    },
  });
  t.after(() => server.shutdown());
  const client = await connect(url, { maxPayload: 64 << 20 });
  const size = 4 << 20;
  const text = Buffer.alloc(size);
  for (let i = 0; i < size; i++) text[i] = 0x20 + ((i * 13) % 95);
  const started = performance.now();
  const reply = nextMessage(client);
  for (let at = 0; at < size; at += 64)
    client.send(text.subarray(at, at + 64), { binary: false, fin: at + 64 >= size });
  const { data, isBinary } = await reply;
  const ms = performance.now() - started;
  assert.equal(isBinary, false);
  assert.ok(data.equals(text), 'echoed unchanged');
  // 4 KiB doubled to 4 MiB; growing to each fragment's end instead took 65,536 copies (45 s here).
  assert.ok(growths >= 1 && growths <= 11, `${growths} buffer growths`);
  assert.ok(ms < 10_000, `took ${ms.toFixed(0)} ms`);
  client.close();
});

test('subprotocol negotiation: the server picks one the client offered', async (t) => {
  const { server, url } = await echoServer();
  t.after(() => server.shutdown());
  const client = await connect(url, { protocols: ['superchat', 'chat'] });
  assert.equal(client.protocol, 'chat');
  client.close();
});

test('close codes: the server echoes the client code and reports it', async (t) => {
  const { server, events, url } = await echoServer();
  t.after(() => server.shutdown());
  for (const code of [1000, 1001, 3000, 4999]) {
    const client = await connect(url);
    const done = closed(client);
    client.close(code, 'why');
    assert.equal((await done).code, code);
  }
  await delay(20);
  assert.deepEqual(
    events.filter((e) => e.startsWith('close')),
    ['close 1000 why', 'close 1001 why', 'close 3000 why', 'close 4999 why'],
  );
});

test('server-initiated close with a code and reason', async (t) => {
  const { server, url } = await echoServer({
    handleWSMessage(ws: WebSocket, message: string | Buffer) {
      if (message === 'kick') ws.close(4000, 'kicked');
    },
  });
  t.after(() => server.shutdown());
  const client = await connect(url);
  const done = closed(client);
  client.send('kick');
  assert.deepEqual(await done, { code: 4000, reason: 'kicked' });
});

test('a message over wsMaxMessageBytes closes with 1009', async (t) => {
  const { server, url } = await echoServer({}, { wsMaxMessageBytes: 1000 });
  t.after(() => server.shutdown());
  const client = await connect(url);
  const done = closed(client);
  client.send(Buffer.alloc(1001));
  assert.equal((await done).code, 1009);
});

test('invalid UTF-8 in a text message closes with 1007', async (t) => {
  const { server, events } = await echoServer();
  t.after(() => server.shutdown());
  const raw = await RawClient.open(server.port);
  const key = randomBytes(16).toString('base64');
  raw.send(
    `GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  );
  await raw.until((text) => text.includes('\r\n\r\n'));
  assert.match(raw.text, /^HTTP\/1\.1 101 Switching Protocols\r\n/);
  const expected = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
  assert.ok(raw.text.includes(`Sec-WebSocket-Accept: ${expected}\r\n`));
  const headEnd = raw.text.indexOf('\r\n\r\n') + 4;
  // A masked text frame carrying 0xff (never valid UTF-8).
  const mask = Buffer.from([1, 2, 3, 4]);
  raw.send(Buffer.from([0x81, 0x81, ...mask, 0xff ^ mask[0]!]));
  await raw.until((text) => text.length >= headEnd + 4);
  const frame = raw.received.subarray(headEnd);
  assert.equal(frame[0], 0x88); // Close
  assert.equal(frame.readUInt16BE(2), 1007);
  await raw.closedByServer();
  assert.ok(
    events.includes('close 1007 invalid UTF-8 in a text message') ||
      events.some((e) => e.startsWith('close 1007')),
  );
  raw.close();
});

test('an unmasked client frame closes with 1002', async (t) => {
  const { server } = await echoServer();
  t.after(() => server.shutdown());
  const raw = await RawClient.open(server.port);
  raw.send(
    `GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  );
  await raw.until((text) => text.includes('\r\n\r\n'));
  const headEnd = raw.text.indexOf('\r\n\r\n') + 4;
  raw.send(Buffer.from([0x81, 0x02, 0x68, 0x69])); // "hi", not masked
  await raw.until((text) => text.length >= headEnd + 4);
  assert.equal(raw.received.readUInt16BE(headEnd + 2), 1002);
  raw.close();
});

test('invalid handshakes get 400, a wrong version 426 with Sec-WebSocket-Version: 13', async (t) => {
  const { server } = await echoServer();
  t.after(() => server.shutdown());
  const key = randomBytes(16).toString('base64');
  const base = `Host: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n`;
  const cases: [string, number][] = [
    [`GET /ws HTTP/1.1\r\n${base}Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 8\r\n\r\n`, 426],
    [`GET /ws HTTP/1.1\r\n${base}Sec-WebSocket-Key: short\r\nSec-WebSocket-Version: 13\r\n\r\n`, 400],
    [
      `GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      400,
    ],
    [
      `GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      400,
    ],
    [
      `POST /ws HTTP/1.1\r\n${base}Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\nContent-Length: 0\r\n\r\n`,
      400,
    ],
  ];
  for (const [request, status] of cases) {
    const raw = await RawClient.open(server.port);
    raw.send(request);
    const [response] = await raw.responses(1);
    assert.equal(response!.status, status, request);
    if (status === 426) assert.equal(response!.headers.get('sec-websocket-version'), '13');
    raw.close();
  }
  void parseResponses;
});

test('server shutdown closes every WebSocket with 1001 and waits for the handshake', async () => {
  const { server, events, url } = await echoServer();
  const clients = await Promise.all([connect(url), connect(url)]);
  const codes = Promise.all(clients.map(closed));
  await server.shutdown();
  assert.deepEqual(
    (await codes).map((c) => c.code),
    [1001, 1001],
  );
  assert.equal(events.filter((e) => e.startsWith('close 1001')).length, 2);
});

test('pub/sub: a published message reaches every subscriber', async (t) => {
  const { server, url } = await echoServer({
    handleWSMessage(ws: WebSocket, message: string | Buffer) {
      const text = String(message);
      if (text.startsWith('sub ')) {
        ws.subscribe(text.slice(4));
        ws.send('subscribed');
      } else if (text.startsWith('pub ')) {
        const [, topic, ...rest] = text.split(' ');
        ws.publish(topic!, rest.join(' '));
      }
    },
  });
  t.after(() => server.shutdown());
  const [a, b, c] = await Promise.all([connect(url), connect(url), connect(url)]);
  for (const client of [a!, b!]) {
    const ok = nextMessage(client);
    client.send('sub news');
    assert.equal((await ok).data.toString(), 'subscribed');
  }
  const gotA = nextMessage(a!);
  const gotB = nextMessage(b!);
  c!.send('pub news extra extra');
  assert.equal((await gotA).data.toString(), 'extra extra');
  assert.equal((await gotB).data.toString(), 'extra extra');
  for (const client of [a!, b!, c!]) client.close();
});

test('send() reports backpressure and the drain hook fires', async (t) => {
  const results: string[] = [];
  let drained = 0;
  const { server, url } = await echoServer(
    {
      handleWSMessage(ws: WebSocket) {
        // More than loopback's kernel buffers take at once, so some of it must wait in the socket.
        const chunk = Buffer.alloc(1024 * 1024);
        for (let i = 0; i < 24; i++) results.push(ws.send(chunk));
      },
      handleWSDrain() {
        drained++;
      },
    },
    { wsMaxBufferedBytes: 64 * 1024 * 1024 },
  );
  t.after(() => server.shutdown());
  const client = await connect(url);
  let received = 0;
  const all = new Promise<void>((resolve) =>
    client.on('message', () => {
      if (++received === 24) resolve();
    }),
  );
  client.send('go');
  await all;
  assert.ok(results.includes('buffered'), `results: ${results.join(',')}`);
  for (let i = 0; i < 50 && drained === 0; i++) await delay(10);
  assert.equal(drained, 1);
  client.close();
});

test('a peer that reads too slowly is disconnected once wsMaxBufferedBytes would be exceeded', async (t) => {
  const results: string[] = [];
  const { server, events, url } = await echoServer(
    {
      handleWSMessage(ws: WebSocket) {
        const chunk = Buffer.alloc(1024 * 1024);
        for (let i = 0; i < 64 && ws.send(chunk) !== 'dropped'; i++) results.push('ok');
        results.push('dropped');
      },
    },
    { wsMaxBufferedBytes: 4 * 1024 * 1024 },
  );
  t.after(() => server.shutdown());
  const client = await connect(url);
  client.pause(); // a client that stopped reading
  const done = closed(client);
  client.send('go');
  for (let i = 0; i < 100 && !results.includes('dropped'); i++) await delay(10);
  assert.equal(results.at(-1), 'dropped');
  assert.ok(results.length < 64, 'the buffer cap stopped the flood');
  client.resume();
  assert.equal((await done).code, 1006); // cut without a Close: none could get through the full buffer
  await delay(20);
  assert.ok(
    events.some((e) => e.startsWith('close 1008')),
    events.join(', '),
  );
});

test('permessage-deflate: negotiated with a real client, messages round-trip compressed', async (t) => {
  const { server, url } = await echoServer({}, { wsPerMessageDeflate: true });
  t.after(() => server.shutdown());
  const client = await connect(url, { perMessageDeflate: { threshold: 0 } });
  assert.match(client.extensions, /permessage-deflate/);
  for (const payload of ['small', 'x'.repeat(100_000), randomBytes(50_000), 'ünïcødé '.repeat(1000)]) {
    const reply = nextMessage(client);
    client.send(payload);
    const { data, isBinary } = await reply;
    assert.equal(isBinary, typeof payload !== 'string');
    assert.deepEqual(data, Buffer.from(payload));
  }
  client.close();
});

test('permessage-deflate parameters: no context takeover and smaller windows are negotiated', async (t) => {
  const { server, url } = await echoServer(
    {},
    { wsPerMessageDeflate: { serverNoContextTakeover: true, serverMaxWindowBits: 10, threshold: 0 } },
  );
  t.after(() => server.shutdown());
  const client = new WebSocketClient(url, { perMessageDeflate: { threshold: 0 } });
  const upgraded = new Promise<string>((resolve) =>
    client.once('upgrade', (response) => resolve(String(response.headers['sec-websocket-extensions']))),
  );
  const opened = new Promise((resolve) => client.once('open', resolve));
  const agreed = await upgraded;
  await opened;
  assert.match(agreed, /^permessage-deflate; /);
  assert.match(agreed, /server_no_context_takeover/);
  assert.match(agreed, /server_max_window_bits=10/);
  for (let i = 0; i < 3; i++) {
    const reply = nextMessage(client);
    client.send('repeat '.repeat(500));
    assert.equal((await reply).data.toString(), 'repeat '.repeat(500));
  }
  client.close();
});

test('permessage-deflate: a message that inflates past wsMaxMessageBytes closes with 1009 (no zip bombs)', async (t) => {
  const { server, url } = await echoServer({}, { wsPerMessageDeflate: true, wsMaxMessageBytes: 1024 * 1024 });
  t.after(() => server.shutdown());
  const client = await connect(url, { perMessageDeflate: { threshold: 0 } });
  const done = closed(client);
  client.send(Buffer.alloc(8 * 1024 * 1024)); // ~8 KB on the wire, 8 MiB inflated
  assert.equal((await done).code, 1009);
});

/** Opens a raw TCP client and completes a WebSocket handshake on `/ws`; returns it and where frames start. */
async function rawWebSocket(port: number): Promise<{ raw: RawClient; frames: () => Buffer }> {
  const raw = await RawClient.open(port);
  raw.send(
    `GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  );
  await raw.until((text) => text.includes('\r\n\r\n'));
  const headEnd = raw.text.indexOf('\r\n\r\n') + 4;
  return { raw, frames: () => raw.received.subarray(headEnd) };
}

test('heartbeat: a silent peer is pinged at half wsIdleTimeout and disconnected at the full timeout', async (t) => {
  const { server, events } = await echoServer({}, { wsIdleTimeout: 400 });
  t.after(() => server.shutdown());
  const { raw, frames } = await rawWebSocket(server.port);
  const started = Date.now();
  await raw.until(() => frames().length >= 2); // a ping arrives…
  assert.equal(frames()[0], 0x89);
  assert.ok(Date.now() - started >= 150);
  await raw.closedByServer(3000); // …and, unanswered, the connection is cut
  assert.ok(Date.now() - started >= 350);
  await delay(20);
  assert.ok(events.includes('close 1006 idle timeout'), events.join(', '));
  raw.close();
});

test('heartbeat: a peer that answers pings stays connected past wsIdleTimeout', async (t) => {
  const { server, url } = await echoServer({}, { wsIdleTimeout: 300 });
  t.after(() => server.shutdown());
  const client = await connect(url); // the ws client answers pings by itself
  let pings = 0;
  client.on('ping', () => pings++);
  await delay(900);
  assert.equal(client.readyState, WebSocketClient.OPEN);
  assert.ok(pings >= 2, `pings: ${pings}`);
  const reply = nextMessage(client);
  client.send('still here');
  assert.equal((await reply).data.toString(), 'still here');
  client.close();
});

test('closing handshake: a peer that never answers our Close is cut after wsCloseTimeout', async (t) => {
  const { server, events } = await echoServer(
    {
      handleWSOpen(ws: WebSocket) {
        ws.close(4001, 'go');
      },
    },
    { wsCloseTimeout: 300 },
  );
  t.after(() => server.shutdown());
  const { raw, frames } = await rawWebSocket(server.port);
  await raw.until(() => frames().length >= 4);
  assert.equal(frames()[0], 0x88);
  assert.equal(frames().readUInt16BE(2), 4001);
  const started = Date.now();
  await raw.closedByServer(3000);
  assert.ok(Date.now() - started >= 200, 'the server waited for our Close first');
  await delay(20);
  assert.ok(events.includes('close 1006 '), events.join(', '));
  raw.close();
});

test('a Close with an invalid code is answered with 1002', async (t) => {
  const { server } = await echoServer();
  t.after(() => server.shutdown());
  const { raw, frames } = await rawWebSocket(server.port);
  const mask = [9, 8, 7, 6];
  const payload = [0x03, 0xed]; // 1005 may never be sent on the wire
  raw.send(Buffer.from([0x88, 0x80 | payload.length, ...mask, ...payload.map((b, i) => b ^ mask[i % 4]!)]));
  await raw.until(() => frames().length >= 4);
  assert.equal(frames()[0], 0x88);
  assert.equal(frames().readUInt16BE(2), 1002);
  raw.close();
});

test('a hook that throws is reported and closes that socket with 1011; the server keeps serving', async (t) => {
  const errors: unknown[] = [];
  const { server, url } = await echoServer(
    {
      handleWSMessage(ws: WebSocket, message: string | Buffer) {
        if (message === 'throw') throw new Error('hook bug');
        ws.send(message);
      },
    },
    { onError: (error: unknown) => errors.push(error) },
  );
  t.after(() => server.shutdown());
  const bad = await connect(url);
  const done = closed(bad);
  bad.send('throw');
  assert.equal((await done).code, 1011);
  assert.equal((errors[0] as Error).message, 'hook bug');
  const good = await connect(url);
  const reply = nextMessage(good);
  good.send('fine');
  assert.equal((await reply).data.toString(), 'fine');
  good.close();
});

test('messages the handler keeps stay intact while later reads arrive, small and fragmented', async (t) => {
  const received: Buffer[] = [];
  const { server } = await echoServer({
    handleWSMessage(ws: WebSocket, message: string | Buffer) {
      received.push(message as Buffer); // kept as given, not copied
      ws.send(
        createHash('sha256')
          .update(message as Buffer)
          .digest('hex'),
      );
    },
  });
  t.after(() => server.shutdown());
  // A masked binary frame with a 16-bit length.
  const frame = (fin: boolean, opcode: number, data: Buffer) => {
    const mask = randomBytes(4);
    const head = Buffer.from([(fin ? 0x80 : 0) | opcode, 0x80 | 126, 0, 0]);
    head.writeUInt16BE(data.length, 2);
    const out = Buffer.from(data);
    for (let i = 0; i < out.length; i++) out[i]! ^= mask[i % 4]!;
    return Buffer.concat([head, mask, out]);
  };
  const small = randomBytes(1000);
  const second = randomBytes(1000);
  const large = randomBytes(20_000);
  const raw = await RawClient.open(server.port);
  t.after(() => raw.close());
  // The handshake and the small message in one read (the bytes after the handshake are handed
  // over), a second small message in a read of its own, then the large one in two fragments, in
  // pieces that each arrive as a read of their own.
  const key = randomBytes(16).toString('base64');
  raw.send(
    Buffer.concat([
      Buffer.from(
        `GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      ),
      frame(true, 2, small),
    ]),
  );
  await raw.until((text) => text.includes(createHash('sha256').update(small).digest('hex')));
  raw.send(frame(true, 2, second));
  await raw.until((text) => text.includes(createHash('sha256').update(second).digest('hex')));
  const rest = Buffer.concat([
    frame(false, 2, large.subarray(0, 12_000)),
    frame(true, 0, large.subarray(12_000)),
  ]);
  for (let at = 0; at < rest.length; at += 4000) {
    await delay(15);
    raw.send(rest.subarray(at, at + 4000));
  }
  await raw.until((text) => text.includes(createHash('sha256').update(large).digest('hex')));
  assert.equal(received.length, 3);
  assert.ok(received[0]!.equals(small), 'the first message was overwritten by a later read');
  assert.ok(received[1]!.equals(second), 'the second message was overwritten by a later read');
  assert.ok(received[2]!.equals(large));
});

test('misusing a WebSocket throws a UsageError and leaves it open: a ping over 125 bytes, an invalid close code', async (t) => {
  const thrown: unknown[] = [];
  const { server, url } = await echoServer({
    handleWSMessage(ws: WebSocket, message: string | Buffer) {
      for (const misuse of [
        () => ws.ping('x'.repeat(126)),
        () => ws.pong('x'.repeat(126)),
        () => ws.close(1004),
      ]) {
        try {
          misuse();
        } catch (error) {
          thrown.push(error);
        }
      }
      ws.send(message);
    },
  });
  t.after(() => server.shutdown());
  const client = await connect(url);
  const reply = nextMessage(client);
  client.send('still open?');
  assert.equal(String((await reply).data), 'still open?');
  assert.equal(thrown.length, 3);
  for (const error of thrown) {
    assert.ok(error instanceof UsageError);
    assert.ok(error instanceof PeregrineError);
    assert.equal(error.code, 'ERR_PEREGRINE_INVALID_ARGUMENT');
  }
  client.close();
});

test('upgrading with a subprotocol the client did not offer is a UsageError: the handler fails with 500', async (t) => {
  const errors: unknown[] = [];
  const server = await start((_req, res) => void res.upgrade({ protocol: 'nope' }), {
    onError: (error: unknown) => errors.push(error),
  });
  t.after(() => server.shutdown());
  const client = new WebSocketClient(`ws://127.0.0.1:${server.port}/`, ['chat']);
  const status = await new Promise<number>((resolve) =>
    client.once('unexpected-response', (_request, response) => resolve(response.statusCode ?? 0)),
  );
  assert.equal(status, 500);
  assert.equal(errors.length, 1);
  assert.ok(errors[0] instanceof UsageError);
  assert.equal(errors[0].code, 'ERR_PEREGRINE_PROTOCOL_NOT_OFFERED');
  client.on('error', () => {}); // terminating before the handshake completed is reported as an error
  client.terminate();
});
