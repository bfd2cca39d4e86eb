import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { type ClientHttp2Session, connect, constants, type IncomingHttpHeaders } from 'node:http2';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { promisify } from 'node:util';
import { type Handler, HttpError, type Server, type ServerOptions, serve } from '../../src/index.ts';
import { DirServer } from '../../src/static/dir-server.ts';
import { exchange } from '../helpers.ts';
import { TestCa } from '../tls/certs.ts';

const ca = new TestCa();
after(() => ca.remove());
const localhost = ca.issue(['localhost', '127.0.0.1']);

function start(handler: Handler, options: ServerOptions = {}): Promise<Server> {
  return serve(handler, {
    port: 0,
    host: '127.0.0.1',
    workers: 1,
    log: false,
    handleSignals: false,
    tls: localhost,
    ...options,
  });
}

function client(server: Server, cleartext = false): ClientHttp2Session {
  const session = cleartext
    ? connect(`http://127.0.0.1:${server.port}`)
    : connect(`https://localhost:${server.port}`, { ca: ca.cert });
  session.on('error', () => {});
  return session;
}

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  text: string;
}

/** One request on an HTTP/2 session; rejects if the stream is reset. */
function request(
  session: ClientHttp2Session,
  headers: Record<string, string | string[]>,
  body?: string | Buffer,
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ':path': '/', ...headers }, { endStream: body === undefined });
    const chunks: Buffer[] = [];
    let replyHeaders: IncomingHttpHeaders = {};
    stream.on('response', (h) => {
      replyHeaders = h;
    });
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', () => {
      const data = Buffer.concat(chunks);
      resolve({
        status: Number(replyHeaders[':status']),
        headers: replyHeaders,
        body: data,
        text: data.toString(),
      });
    });
    stream.on('error', reject);
    if (body !== undefined) stream.end(body);
  });
}

const echo: Handler = {
  async handleRequest(req, res) {
    switch (req.path) {
      case '/echo': {
        const body = req.hasBody ? await req.text() : '';
        res.setHeader('Content-Type', 'text/plain; charset=utf-8');
        res.end(
          JSON.stringify({
            method: req.method,
            version: req.version,
            target: req.target,
            path: req.path,
            query: req.query.get('q'),
            host: req.header('host'),
            cookie: req.header('cookie'),
            headers: [...req.headers()].filter(([name]) => name.startsWith('x-')),
            length: req.contentLength,
            body,
          }),
        );
        return;
      }
      case '/json':
        res.json({ ok: true });
        return;
      case '/cookies':
        res.appendHeader('Set-Cookie', 'a=1').appendHeader('Set-Cookie', 'b=2');
        res.setHeader('Connection', 'close'); // HTTP/1 only: dropped on HTTP/2, not a protocol error
        res.end('two cookies');
        return;
      case '/stream': {
        res.setHeader('Content-Type', 'text/plain');
        for (let i = 0; i < 64; i++)
          if (!res.write(`${'x'.repeat(16 * 1024 - 1)}\n`)) await res.waitForDrain();
        res.end('done');
        return;
      }
      case '/no-content':
        res.status = 204;
        res.end();
        return;
      case '/throw':
        throw new Error('boom');
      case '/teapot':
        throw new HttpError(418, 'short and stout');
      case '/te':
        res.setHeader('Transfer-Encoding', 'chunked');
        res.end('never');
        return;
      case '/short':
        res.setHeader('Content-Length', 10);
        res.write('12345');
        res.end();
        return;
      case '/ws':
        res.upgrade();
        return;
      case '/upload': {
        let total = 0;
        for await (const chunk of req.stream()) {
          total += chunk.length;
          await delay(1); // a slow consumer: the client is held back by flow control
        }
        res.end(String(total));
        return;
      }
      default:
        res.end(`hello ${req.path}`);
    }
  },
};

test('HTTP/2 over TLS: method, target, query, :authority as Host, fields in order, bodies, JSON', {
  timeout: 20_000,
}, async (t) => {
  const server = await start(echo);
  t.after(() => server.shutdown());
  const session = client(server);
  t.after(() => session.close());
  const reply = await request(session, {
    ':path': '/echo?q=a%20b',
    'x-one': '1',
    'x-two': '2',
    cookie: ['c=1', 'd=2'],
  });
  assert.equal(reply.status, 200);
  const seen = JSON.parse(reply.text);
  assert.deepEqual(seen, {
    method: 'GET',
    version: '2.0',
    target: '/echo?q=a%20b',
    path: '/echo',
    query: 'a b',
    host: `localhost:${server.port}`,
    cookie: 'c=1; d=2',
    headers: [
      ['x-one', '1'],
      ['x-two', '2'],
    ],
    body: '',
  });
  const posted = JSON.parse(
    (await request(session, { ':path': '/echo', ':method': 'POST', 'content-length': '5' }, 'hello')).text,
  );
  assert.equal(posted.body, 'hello');
  assert.equal(posted.length, 5);
  const json = await request(session, { ':path': '/json' });
  assert.equal(json.headers['content-type'], 'application/json; charset=utf-8');
  assert.equal(json.headers['content-length'], '11');
  assert.deepEqual(JSON.parse(json.text), { ok: true });
  const cookies = await request(session, { ':path': '/cookies' });
  assert.deepEqual(cookies.headers['set-cookie'], ['a=1', 'b=2']);
  assert.equal(cookies.headers.connection, undefined);
  const head = await request(session, { ':path': '/json', ':method': 'HEAD' });
  assert.equal(head.headers['content-length'], '11');
  assert.equal(head.body.length, 0);
  const none = await request(session, { ':path': '/no-content' });
  assert.equal(none.status, 204);
  assert.equal(none.headers['content-length'], undefined);
});

test('HTTP/2: many streams at once on one connection, streamed responses with backpressure, uploads read slowly', {
  timeout: 20_000,
}, async (t) => {
  const server = await start(echo);
  t.after(() => server.shutdown());
  const session = client(server);
  t.after(() => session.close());
  const replies = await Promise.all(
    Array.from({ length: 60 }, (_, i) => request(session, { ':path': `/p${i}` })),
  );
  assert.deepEqual(
    replies.map((r) => r.text),
    Array.from({ length: 60 }, (_, i) => `hello /p${i}`),
  );
  const streamed = await request(session, { ':path': '/stream' });
  assert.equal(streamed.body.length, 64 * 16 * 1024 + 4);
  const upload = await request(
    session,
    { ':path': '/upload', ':method': 'POST' },
    Buffer.alloc(900 * 1024, 1),
  );
  assert.equal(upload.text, String(900 * 1024));
});

test('HTTP/2: handler errors are 500 (or the HttpError status), misuse fails the stream, WebSockets are refused', {
  timeout: 20_000,
}, async (t) => {
  const errors: unknown[] = [];
  const server = await start(echo, { onError: (error) => errors.push(error) });
  t.after(() => server.shutdown());
  const session = client(server);
  t.after(() => session.close());
  const thrown = await request(session, { ':path': '/throw' });
  assert.equal(thrown.status, 500);
  assert.equal(thrown.text, '500 Internal Server Error\n');
  assert.equal((await request(session, { ':path': '/teapot' })).status, 418);
  assert.equal((await request(session, { ':path': '/te' })).status, 500);
  await assert.rejects(request(session, { ':path': '/short' })); // fewer bytes than promised: reset
  assert.equal((await request(session, { ':path': '/ws' })).status, 400);
  assert.equal(errors.length, 3); // boom, the Transfer-Encoding misuse, the short body
  assert.equal((await request(session, { ':path': '/still' })).text, 'hello /still');
});

test('HTTP/2 limits: a body over maxBodyBytes is a 413 (declared or not), the SETTINGS announce the stream limit', {
  timeout: 20_000,
}, async (t) => {
  const server = await start(echo, { maxBodyBytes: 1000, http2MaxConcurrentStreams: 7 });
  t.after(() => server.shutdown());
  const session = client(server);
  t.after(() => session.close());
  await new Promise((resolve) => session.once('remoteSettings', resolve));
  assert.equal(session.remoteSettings.maxConcurrentStreams, 7);
  assert.equal(session.remoteSettings.enablePush, false);
  const declared = await request(
    session,
    { ':path': '/echo', ':method': 'POST', 'content-length': '2000' },
    'x'.repeat(2000),
  );
  assert.equal(declared.status, 413);
  const streamed = await request(session, { ':path': '/echo', ':method': 'POST' }, 'x'.repeat(5000));
  assert.equal(streamed.status, 413);
  assert.equal((await request(session, { ':path': '/after' })).text, 'hello /after');
});

test('HTTP/2 timeouts: a stuck handler gets 503, a stalled body 408, an idle connection is closed with GOAWAY', {
  timeout: 10_000,
}, async (t) => {
  const server = await start(
    {
      async handleRequest(req, res) {
        if (req.path === '/stuck') return new Promise(() => {});
        const body = await req.text();
        res.end(body);
      },
    },
    { handlerTimeout: 200, requestTimeout: 300, keepAliveTimeout: 400, onError: () => {} },
  );
  t.after(() => server.shutdown());
  const session = client(server);
  assert.equal((await request(session, { ':path': '/stuck' })).status, 503);
  const stalled = await new Promise<number>((resolve, reject) => {
    const stream = session.request({ ':path': '/body', ':method': 'POST' });
    stream.write('part of a body that never ends');
    stream.on('response', (h) => resolve(Number(h[':status'])));
    stream.on('error', reject);
  });
  assert.equal(stalled, 408);
  const goaway = await new Promise<number>((resolve) => session.once('goaway', (code) => resolve(code)));
  assert.equal(goaway, constants.NGHTTP2_NO_ERROR);
  // The server closes the connection (Node 22's client may not report it while its stream is open).
  while (server.connections > 0) await delay(20);
  session.destroy();
});

test('HTTP/2 graceful shutdown: GOAWAY, the stream in flight finishes, then the connection closes', {
  timeout: 20_000,
}, async (t) => {
  let release = () => {};
  const server = await start({
    async handleRequest(_req, res) {
      await new Promise<void>((resolve) => {
        release = resolve;
      });
      res.end('finished');
    },
  });
  const session = client(server);
  t.after(() => session.destroy());
  const inFlight = request(session, { ':path': '/slow' });
  await delay(50);
  const stopped = server.shutdown();
  await new Promise((resolve) => session.once('goaway', resolve));
  release();
  assert.equal((await inFlight).text, 'finished');
  await stopped;
});

test('HTTP/2: a client that resets its stream aborts req.signal; the connection serves on', {
  timeout: 20_000,
}, async (t) => {
  let aborted: Promise<unknown> | null = null;
  const server = await start({
    handleRequest(req, res) {
      if (req.path === '/wait') {
        aborted = new Promise((resolve) =>
          req.signal.addEventListener('abort', () => resolve(req.signal.reason)),
        );
        return;
      }
      res.end('ok');
    },
  });
  t.after(() => server.shutdown());
  const session = client(server);
  t.after(() => session.close());
  const stream = session.request({ ':path': '/wait' });
  stream.on('error', () => {});
  await delay(50);
  stream.close(constants.NGHTTP2_CANCEL);
  await delay(50);
  assert.ok(aborted !== null);
  assert.match(String(await aborted), /cancelled/);
  // A burst of streams opened and reset at once (the "rapid reset" pattern) leaves the server well.
  for (let i = 0; i < 200; i++) {
    const s = session.request({ ':path': '/wait' });
    s.on('error', () => {});
    s.close(constants.NGHTTP2_CANCEL);
  }
  await delay(100);
  const fresh = client(server);
  t.after(() => fresh.close());
  assert.equal((await request(fresh, { ':path': '/ok' })).text, 'ok');
});

test('fetch mode and DirServer run unchanged on HTTP/2', { timeout: 20_000 }, async (t) => {
  const app = await serve({
    port: 0,
    hostname: '127.0.0.1',
    workers: 1,
    log: false,
    handleSignals: false,
    tls: localhost,
    async fetch(request) {
      const url = new URL(request.url);
      if (request.method === 'POST') return Response.json({ got: await request.text() });
      return new Response(
        new ReadableStream({
          start(controller) {
            controller.enqueue(new TextEncoder().encode(`${url.protocol}//${url.host}${url.pathname} `));
            controller.enqueue(new TextEncoder().encode('streamed'));
            controller.close();
          },
        }),
      );
    },
  });
  t.after(() => app.shutdown());
  const session = client(app);
  t.after(() => session.close());
  assert.equal((await request(session, { ':path': '/f' })).text, `https://localhost:${app.port}/f streamed`);
  const posted = await request(session, { ':path': '/f', ':method': 'POST' }, 'body');
  assert.deepEqual(JSON.parse(posted.text), { got: 'body' });

  const dir = join(ca.dir, 'site');
  await import('node:fs/promises').then((fs) => fs.mkdir(dir, { recursive: true }));
  writeFileSync(join(dir, 'index.html'), '<h1>hi</h1>');
  writeFileSync(join(dir, 'big.bin'), Buffer.alloc(3 * 1024 * 1024, 7));
  const files = await start(new DirServer(dir));
  t.after(() => files.shutdown());
  const fileSession = client(files);
  t.after(() => fileSession.close());
  const page = await request(fileSession, { ':path': '/' });
  assert.equal(page.text, '<h1>hi</h1>');
  const again = await request(fileSession, { ':path': '/', 'if-none-match': String(page.headers.etag) });
  assert.equal(again.status, 304);
  const big = await request(fileSession, { ':path': '/big.bin' });
  assert.equal(big.body.length, 3 * 1024 * 1024);
  const range = await request(fileSession, { ':path': '/big.bin', range: 'bytes=10-19' });
  assert.equal(range.status, 206);
  assert.equal(range.body.length, 10);
});

test('h2c with prior knowledge, beside HTTP/1.1 on the same port; off by default', {
  timeout: 20_000,
}, async (t) => {
  const server = await start(echo, { tls: undefined, h2c: true });
  t.after(() => server.shutdown());
  const session = client(server, true);
  t.after(() => session.close());
  const reply = await request(session, { ':path': '/echo', ':method': 'POST' }, 'over h2c');
  assert.equal(JSON.parse(reply.text).version, '2.0');
  assert.equal(JSON.parse(reply.text).body, 'over h2c');
  const http1 = await exchange(server.port, 'GET /plain HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  assert.match(http1, /^HTTP\/1\.1 200 OK[\s\S]*hello \/plain$/);
  // The preface sent in pieces is still recognised.
  const pieces = await new Promise<string>((resolve, reject) => {
    import('node:net').then(({ connect: netConnect }) => {
      const socket = netConnect(server.port, '127.0.0.1', async () => {
        for (const part of ['PRI * HT', 'TP/2.0\r\n\r\nSM', '\r\n\r\n']) {
          socket.write(part);
          await delay(20);
        }
        socket.write(Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0])); // an empty SETTINGS frame
      });
      let got = Buffer.alloc(0);
      socket.on('data', (chunk) => {
        got = Buffer.concat([got, chunk]);
        if (got.length >= 9) {
          socket.destroy();
          resolve(got.subarray(0, 9).toString('hex'));
        }
      });
      socket.on('error', reject);
    });
  });
  assert.match(pieces, /^[0-9a-f]{6}04/); // the server's SETTINGS frame: it speaks HTTP/2

  const off = await start(echo, { tls: undefined });
  t.after(() => off.shutdown());
  const refused = await exchange(off.port, 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
  assert.match(refused, /^HTTP\/1\.1 (400|505) /);
});

test('curl speaks HTTP/2 to it (ALPN), and HTTP/1.1 when asked', { timeout: 20_000 }, async (t) => {
  const run = promisify(execFile);
  const version = await run('curl', ['--version']).catch(() => null);
  if (version === null || !/HTTP2/.test(version.stdout)) {
    t.skip('curl with HTTP/2 support is not installed');
    return;
  }
  const server = await start(echo);
  t.after(() => server.shutdown());
  const caFile = join(ca.dir, 'ca-for-curl.pem');
  writeFileSync(caFile, ca.cert);
  const url = `https://localhost:${server.port}/echo?q=curl`;
  const args = [
    '-s',
    '--cacert',
    caFile,
    '--resolve',
    `localhost:${server.port}:127.0.0.1`,
    '-w',
    '\n%{http_version}',
  ];
  const h2 = await run('curl', [...args, '--http2', url]);
  assert.match(h2.stdout, /"version":"2\.0"[\s\S]*\n2$/);
  const h1 = await run('curl', [...args, '--http1.1', url]);
  assert.match(h1.stdout, /"version":"1\.1"[\s\S]*\n1\.1$/);
});

test('HTTP/2 sendTimeout: a client that stops reading a response is disconnected; one that reads slowly is not', {
  timeout: 20_000,
}, async (t) => {
  const server = await start(
    {
      async handleRequest(_req, res) {
        for (let i = 0; i < 400; i++) if (!res.write(Buffer.alloc(64 * 1024, 1))) await res.waitForDrain();
        res.end();
      },
    },
    { sendTimeout: 300, handlerTimeout: 0 },
  );
  t.after(() => server.shutdown());
  // Never reads: flow control stops the server, and sendTimeout ends the connection.
  const stuck = client(server);
  const stream = stuck.request({ ':path': '/big' });
  stream.on('error', () => {});
  stream.pause();
  const started = Date.now();
  await new Promise((resolve) => stuck.once('close', resolve));
  assert.ok(Date.now() - started < 5000, `closed after ${Date.now() - started} ms`);
  // Reads slowly but steadily: gets everything.
  const slow = client(server);
  t.after(() => slow.close());
  const total = await new Promise<number>((resolve, reject) => {
    const s = slow.request({ ':path': '/big' });
    let bytes = 0;
    s.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      s.pause();
      setTimeout(() => s.resume(), 1);
    });
    s.on('end', () => resolve(bytes));
    s.on('error', reject);
  });
  assert.equal(total, 400 * 64 * 1024);
});

test('HTTP/2 header limits: a header list over maxHeaderBytes or with more than maxHeaderCount fields is refused; the connection serves on', {
  timeout: 20_000,
}, async (t) => {
  let handled = 0;
  const server = await start(
    {
      handleRequest(_req, res) {
        handled++;
        res.end('ok');
      },
    },
    { maxHeaderBytes: 4096, maxHeaderCount: 20 },
  );
  t.after(() => server.shutdown());
  const refused = async (headers: Record<string, string>) => {
    const session = client(server);
    try {
      const reply = await request(session, { ':path': '/', ...headers }).catch((error: Error) => error);
      return reply instanceof Error || reply.status === 431;
    } finally {
      session.destroy();
    }
  };
  assert.ok(await refused({ 'x-big': 'v'.repeat(8000) }), 'a header list over maxHeaderBytes');
  const many: Record<string, string> = {};
  for (let i = 0; i < 40; i++) many[`x-h${i}`] = 'v';
  assert.ok(await refused(many), 'more fields than maxHeaderCount');
  assert.equal(handled, 0);
  const session = client(server);
  t.after(() => session.close());
  assert.equal((await request(session, { ':path': '/fine', 'x-small': 'v' })).text, 'ok');
});

/** node:http2 keeps a session's real socket under an internal symbol (its `socket` is a guard). */
function socketSymbol(session: object): symbol {
  const found = Object.getOwnPropertySymbols(session).find((s) => String(s) === 'Symbol(socket)');
  if (found === undefined) throw new Error('no socket symbol on the session');
  return found;
}

test('HTTP/2: a client that goes away while its stream waits on flow control is let go at once', {
  timeout: 20_000,
}, async (t) => {
  const server = await start(
    {
      async handleRequest(req, res) {
        while (!req.signal.aborted) if (!res.write(Buffer.alloc(64 * 1024))) await res.waitForDrain();
        res.end();
      },
    },
    { sendTimeout: 0, handlerTimeout: 0 }, // only the client's FIN can end it
  );
  t.after(() => server.shutdown());
  const sessions = Array.from({ length: 20 }, () => client(server));
  for (const session of sessions) {
    const stream = session.request({ ':path': '/endless' });
    stream.on('error', () => {});
    stream.pause();
  }
  while (server.pendingRequests < 20) await delay(20);
  // A FIN, as a client process that exits sends (a session's socket can't be ended directly).
  for (const session of sessions)
    (session as unknown as { [key: symbol]: { end(): void } })[socketSymbol(session)]!.end();
  const started = Date.now();
  while (server.connections > 0) await delay(20);
  assert.ok(Date.now() - started < 5000, `let go after ${Date.now() - started} ms`);
  assert.equal(server.pendingRequests, 0);
  for (const session of sessions) session.destroy();
});
