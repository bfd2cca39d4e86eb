import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { connect as http2Connect } from 'node:http2';
import { test } from 'node:test';
import { connect as tlsConnect } from 'node:tls';
import type { Request, Response } from '../../src/index.ts';
import { parseResponses, RawClient } from '../helpers.ts';
import { TestCa } from '../tls/certs.ts';
import { delay, get, isClosed, serverClosed, setup } from './util.ts';

/** A promise that handlers wait on until the test calls `release()`. */
function gate(): { release: () => void; released: Promise<void> } {
  let release = (): void => {};
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  return { release, released };
}

// headersTimeout 200 makes the worker's clock tick every 50 ms, so that connections that went idle
// 120 ms apart have different idle times.
const TICKING = { headersTimeout: 200, keepAliveTimeout: 10_000 };

test('maxConnections: past the limit, the connection idle longest is closed to make room', async (t) => {
  const h = await setup(t, (req, res) => res.end(req.path), { ...TICKING, maxConnections: 3 });
  const a = await h.client();
  const b = await h.client();
  const c = await h.client();
  // Idle since: c first, then a, then b (not the order they connected in).
  for (const [client, path] of [
    [c, '/c'],
    [a, '/a'],
    [b, '/b'],
  ] as const) {
    client.send(get(path));
    assert.equal((await client.responses(1))[0]!.body, path);
    await delay(120);
  }
  const d = await h.client();
  d.send(get('/d'));
  assert.equal((await d.responses(1))[0]!.body, '/d');
  await serverClosed(c);
  assert.equal(c.text.split('HTTP/1.1').length - 1, 1, 'c got nothing more than its one response');
  // The others still work.
  for (const [client, path] of [
    [a, '/a2'],
    [b, '/b2'],
  ] as const) {
    client.send(get(path));
    assert.equal((await client.responses(2))[1]!.body, path);
  }
  assert.equal(h.server.connections, 3);
});

test('maxConnections: a connection that has not sent its first request yet counts as idle', async (t) => {
  const h = await setup(t, (req, res) => res.end(req.path), { ...TICKING, maxConnections: 2 });
  const silent = await h.client();
  await delay(120);
  const a = await h.client();
  a.send(get('/a'));
  await a.responses(1);
  // a went idle after silent connected: silent is the one idle longest.
  await delay(120);
  const b = await h.client();
  b.send(get('/b'));
  assert.equal((await b.responses(1))[0]!.body, '/b');
  await serverClosed(silent);
  assert.equal(silent.text, '');
  assert.equal(isClosed(a), false);
});

test('maxConnections: with nothing idle, a new connection gets 503 with Retry-After; the busy ones finish', async (t) => {
  const { release, released } = gate();
  const h = await setup(
    t,
    async (req, res) => {
      if (req.path === '/slow') await released;
      res.end(req.path);
    },
    { maxConnections: 2, metrics: true },
  );
  const a = await h.client();
  const b = await h.client();
  a.send(get('/slow'));
  b.send(get('/slow'));
  await delay(50); // both requests are in the handler
  const c = await h.client();
  c.send(get('/c'));
  await serverClosed(c);
  const [refusal] = parseResponses(c.text);
  assert.ok(refusal !== undefined, `no response; received ${JSON.stringify(c.text)}`);
  assert.equal(refusal.status, 503);
  assert.equal(refusal.headers.get('retry-after'), '1');
  assert.equal(refusal.headers.get('connection'), 'close');
  assert.equal(Number(refusal.headers.get('content-length')), Buffer.byteLength(refusal.body));
  assert.ok(refusal.headers.has('date'));
  assert.equal(parseResponses(c.text).length, 1, 'its request was not served');
  release();
  assert.equal((await a.responses(1))[0]!.body, '/slow');
  assert.equal((await b.responses(1))[0]!.body, '/slow');
  // Idle again: the next connection takes the place of one of them (once the 10 ms the listener
  // waits before looking for idle connections again, after finding none, have passed).
  await delay(20);
  const d = await h.client();
  d.send(get('/d'));
  assert.equal((await d.responses(1))[0]!.body, '/d');
  // Both are counted for operators.
  const metrics = await h.server.metrics();
  assert.equal(metrics.connectionsRefused, 1);
  assert.equal(metrics.connectionsEvicted, 1);
});

test('maxConnections: a partly received request is not idle, and is not closed to make room', async (t) => {
  const h = await setup(t, (req, res) => res.end(req.path), { maxConnections: 1 });
  const a = await h.client();
  a.send('GET /a HTTP/1.1\r\nHost: x\r\n'); // the head is not complete
  await delay(50);
  const b = await h.client();
  b.send(get('/b'));
  await serverClosed(b);
  assert.equal(parseResponses(b.text)[0]?.status, 503);
  a.send('\r\n');
  assert.equal((await a.responses(1))[0]!.body, '/a');
});

test('maxConnections: a WebSocket is never closed to make room', async (t) => {
  const h = await setup(
    t,
    {
      handleRequest(req: Request, res: Response) {
        if (req.path === '/ws') res.upgrade();
        else res.end(req.path);
      },
    },
    { ...TICKING, maxConnections: 2 },
  );
  const ws = await h.client();
  ws.send(
    `GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  );
  await ws.until((text) => text.includes('\r\n\r\n'));
  assert.match(ws.text, /^HTTP\/1\.1 101 /);
  await delay(120); // the WebSocket has been quiet longer than the keep-alive connection below
  const a = await h.client();
  a.send(get('/a'));
  await a.responses(1);
  await delay(120);
  const b = await h.client();
  b.send(get('/b'));
  assert.equal((await b.responses(1))[0]!.body, '/b');
  await serverClosed(a);
  // The WebSocket is still open: a ping is answered with a pong.
  const before = ws.received.length;
  const mask = Buffer.from([1, 2, 3, 4]);
  ws.send(Buffer.from([0x89, 0x80, ...mask]));
  await ws.until(() => ws.received.length >= before + 2);
  assert.equal(ws.received[before], 0x8a);
  assert.equal(isClosed(ws), false);
});

test('maxConnections over TLS: a connection past the limit with nothing idle is closed before its handshake', async (t) => {
  const leaf = new TestCa().issue(['127.0.0.1']);
  const { release, released } = gate();
  const h = await setup(
    t,
    async (req, res) => {
      await released;
      res.end(req.path);
    },
    { maxConnections: 1, tls: leaf },
  );
  t.after(() => release());
  const first = tlsConnect({ port: h.port, host: '127.0.0.1', rejectUnauthorized: false });
  t.after(() => first.destroy());
  await new Promise<void>((resolve) => first.once('secureConnect', () => resolve()));
  first.write(get('/first'));
  await delay(50);
  const second = tlsConnect({ port: h.port, host: '127.0.0.1', rejectUnauthorized: false });
  const outcome = await new Promise<string>((resolve) => {
    second.once('secureConnect', () => resolve('handshake completed'));
    second.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
    second.once('close', () => resolve('closed'));
  });
  second.destroy();
  assert.notEqual(outcome, 'handshake completed');
  release();
  const answer = await new Promise<string>((resolve) => {
    let text = '';
    first.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1');
      if (text.endsWith('/first')) resolve(text);
    });
  });
  assert.match(answer, /^HTTP\/1\.1 200 /);
});

test('the open-file limit: idle connections are closed before the process runs out of descriptors', async (t) => {
  // A server in its own process with a descriptor limit low enough to reach (`ulimit -n` in a shell),
  // and maxConnections far above it. Past the limit accept() would fail with EMFILE, and libuv would
  // reset the waiting connections without a word; the server must stay below it.
  const child = spawn(
    'bash',
    ['-c', `ulimit -n 128 && exec "${process.execPath}" test/fixtures/fd-limit-server.ts`],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  t.after(() => child.kill('SIGKILL'));
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const match = /^listening (\d+)$/m.exec(out);
      if (match) resolve(Number(match[1]));
    });
    child.once('exit', (code) => reject(new Error(`server exited (${code}): ${stderr}`)));
  });
  const budget = Number(/room for about (\d+) connections/.exec(stderr)?.[1]);
  assert.ok(budget > 0 && budget < 128, `no warning about the limit at start-up: ${stderr}`);
  // Twice as many keep-alive clients as there is room for, one after the other, each left idle.
  const clients: RawClient[] = [];
  t.after(() => {
    for (const c of clients) c.close();
  });
  for (let i = 0; i < budget * 2; i++) {
    const client = await RawClient.open(port);
    clients.push(client);
    client.send(get(`/${i}`));
    const [response] = await client.responses(1);
    assert.equal(response?.body, `/${i}`, `client ${i} was not served`);
  }
  // The oldest were closed to make room, the newest are open.
  await delay(50);
  const open = clients.map((c) => !isClosed(c));
  assert.ok(open.filter(Boolean).length <= budget, 'more connections open than the limit leaves room for');
  assert.equal(open[0], false, 'the oldest idle connection is still open');
  assert.equal(open.at(-1), true, 'the newest connection was closed');
  assert.equal(child.exitCode, null, 'the server is still running');
});

test('maxConnections: an HTTP/2 connection with no stream open is idle; one with a stream in flight is not', async (t) => {
  const { release, released } = gate();
  const h = await setup(
    t,
    async (req, res) => {
      if (req.path === '/slow') await released;
      res.end(req.path);
    },
    { ...TICKING, maxConnections: 1, h2c: true },
  );
  t.after(() => release());
  const session = http2Connect(`http://127.0.0.1:${h.port}`);
  t.after(() => session.destroy());
  session.on('error', () => {});
  const request = (path: string) =>
    new Promise<string>((resolve, reject) => {
      const stream = session.request({ ':path': path });
      let body = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => {
        body += chunk;
      });
      stream.on('end', () => resolve(body));
      stream.on('error', reject);
    });
  // A stream in flight: the connection is busy, a new one is refused.
  const slow = request('/slow');
  await delay(50);
  const refusedClient = await h.client();
  refusedClient.send(get('/x'));
  await serverClosed(refusedClient);
  assert.equal(parseResponses(refusedClient.text)[0]?.status, 503);
  release();
  assert.equal(await slow, '/slow');
  // No stream open: the HTTP/2 connection is closed to make room.
  await delay(120);
  const closed = new Promise<void>((resolve) => session.once('close', () => resolve()));
  const next = await h.client();
  next.send(get('/next'));
  assert.equal((await next.responses(1))[0]!.body, '/next');
  await closed;
});
