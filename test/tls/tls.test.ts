import assert from 'node:assert/strict';
import { request as httpsRequest } from 'node:https';
import { connect as netConnect } from 'node:net';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { type ConnectionOptions, type TLSSocket, connect as tlsConnect } from 'node:tls';
import { fileURLToPath } from 'node:url';
import WebSocketClient from 'ws';
import { ConfigError, type Handler, type Server, type ServerOptions, serve } from '../../src/index.ts';
import { resolveOptions } from '../../src/options.ts';
import { DirServer } from '../../src/static/dir-server.ts';
import { freePort } from '../helpers.ts';
import { launchProgram } from '../workers/launch.ts';
import { TestCa } from './certs.ts';

const ca = new TestCa();
after(() => ca.remove());
const localhost = ca.issue(['localhost', '127.0.0.1']);

const hello: Handler = {
  handleRequest(req, res) {
    res.setHeader('Content-Type', 'text/plain');
    res.end(`hello ${req.method} ${req.target}`);
  },
};

function start(options: ServerOptions, handler: Handler = hello): Promise<Server> {
  return serve(handler, {
    port: 0,
    host: '127.0.0.1',
    workers: 1,
    log: false,
    handleSignals: false,
    ...options,
  });
}

/** One HTTPS request; resolves with the status, headers, body and the certificate the server showed. */
function get(
  port: number,
  path: string,
  options: { servername?: string; agent?: false; headers?: Record<string, string> } = {},
): Promise<{ status: number; headers: Record<string, unknown>; body: string; cn: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      {
        host: '127.0.0.1',
        port,
        path,
        ca: ca.cert,
        servername: options.servername ?? 'localhost',
        agent: false,
        headers: options.headers,
      },
      (res) => {
        const cn = String((res.socket as TLSSocket).getPeerCertificate().subject?.CN ?? '');
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          body += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, cn }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** A TLS connection, open; rejects if the handshake fails. */
function handshake(port: number, options: ConnectionOptions = {}): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect(
      { host: '127.0.0.1', port, ca: ca.cert, servername: 'localhost', ...options },
      () => resolve(socket),
    );
    socket.once('error', reject);
  });
}

/** Sends `text` on a TLS socket and collects what comes back until the server has answered (`until`) or closed. */
function exchange(socket: TLSSocket, text: string, until: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = '';
    const onData = (chunk: Buffer) => {
      got += chunk.toString('latin1');
      if (until.test(got)) done();
    };
    const done = () => {
      socket.off('data', onData);
      socket.off('close', done);
      resolve(got);
    };
    socket.on('data', onData);
    socket.on('close', done);
    socket.once('error', reject);
    socket.write(text);
  });
}

/** Everything a plain TCP client gets back for `text`, until the server closes. */
function plainExchange(port: number, text: string | Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = netConnect(port, '127.0.0.1', () => socket.write(text));
    let got = '';
    socket.on('data', (chunk) => {
      got += chunk.toString('latin1');
    });
    socket.on('close', () => resolve(got));
    socket.on('error', reject);
  });
}

test('HTTPS: requests are answered over TLS, keep-alive and pipelining work, and server.url says https', async (t) => {
  const server = await start({ tls: localhost });
  t.after(() => server.shutdown());
  assert.equal(server.url.protocol, 'https:');
  const reply = await get(server.port, '/a?b=1');
  assert.equal(reply.status, 200);
  assert.equal(reply.body, 'hello GET /a?b=1');
  assert.equal(reply.cn, 'localhost');
  // Two pipelined requests on one connection, then a third after them: one TLS session throughout.
  const socket = await handshake(server.port);
  const two = await exchange(
    socket,
    'GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\n',
    /hello GET \/2$/,
  );
  assert.match(two, /hello GET \/1HTTP\/1\.1 200 OK/);
  const third = await exchange(socket, 'GET /3 HTTP/1.1\r\nHost: x\r\n\r\n', /hello GET \/3$/);
  assert.match(third, /^HTTP\/1\.1 200 OK/);
  assert.equal(socket.alpnProtocol, false); // the client offered none
  socket.destroy();
  // ALPN: h2 for a client that offers it, else HTTP/1.1.
  const h2 = await handshake(server.port, { ALPNProtocols: ['h2', 'http/1.1'] });
  assert.equal(h2.alpnProtocol, 'h2');
  h2.destroy();
  const http11 = await handshake(server.port, { ALPNProtocols: ['http/1.1'] });
  assert.equal(http11.alpnProtocol, 'http/1.1');
  http11.destroy();
  const noH2 = await start({ tls: localhost, http2: false });
  t.after(() => noH2.shutdown());
  const only11 = await handshake(noH2.port, { ALPNProtocols: ['h2', 'http/1.1'] });
  assert.equal(only11.alpnProtocol, 'http/1.1');
  only11.destroy();
});

test('cert and key as PEM contents (strings or Buffers), or as file paths', async (t) => {
  const paths = ca.install(localhost, join(ca.dir, 'as-files'));
  for (const tls of [
    localhost,
    { cert: Buffer.from(localhost.cert), key: Buffer.from(localhost.key) },
    paths,
  ]) {
    const server = await start({ tls });
    t.after(() => server.shutdown());
    assert.equal((await get(server.port, '/')).status, 200);
  }
});

test('plain HTTP sent to the TLS port gets a clear 400; anything else that is not TLS is closed', async (t) => {
  const server = await start({ tls: localhost });
  t.after(() => server.shutdown());
  const answer = await plainExchange(server.port, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  assert.match(answer, /^HTTP\/1\.1 400 Bad Request\r\n/);
  assert.match(answer, /Connection: close\r\n/);
  assert.match(answer, /this port speaks HTTPS; use https:\/\/\n$/);
  assert.equal(await plainExchange(server.port, Buffer.from([0, 1, 2, 3])), '');
  // The server is unharmed.
  assert.equal((await get(server.port, '/')).status, 200);
});

test('TLS 1.2 and 1.3 with AEAD ciphers only: TLS 1.1, CBC and RSA key exchange are refused', async (t) => {
  const server = await start({ tls: localhost });
  t.after(() => server.shutdown());
  const tls13 = await handshake(server.port);
  assert.equal(tls13.getProtocol(), 'TLSv1.3');
  tls13.destroy();
  const tls12 = await handshake(server.port, { maxVersion: 'TLSv1.2' });
  assert.equal(tls12.getProtocol(), 'TLSv1.2');
  assert.match(tls12.getCipher().name, /GCM|CHACHA20/);
  tls12.destroy();
  await assert.rejects(
    handshake(server.port, { minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' }),
  );
  await assert.rejects(
    handshake(server.port, {
      maxVersion: 'TLSv1.2',
      ciphers: 'ECDHE-ECDSA-AES128-SHA256:ECDHE-ECDSA-AES128-SHA',
    }),
  );
  await assert.rejects(handshake(server.port, { maxVersion: 'TLSv1.2', ciphers: 'AES128-GCM-SHA256' }));
  assert.equal((await get(server.port, '/')).status, 200);
});

test('SNI: the certificate for the name asked for, from an array or a map (wildcards too); else the first', async (t) => {
  const a = ca.issue(['a.test']);
  const wild = ca.issue(['*.b.test']);
  const fromArray = await start({ tls: [localhost, a, wild] });
  t.after(() => fromArray.shutdown());
  const fromMap = await start({ tls: { localhost, 'a.test': a, '*.b.test': wild } });
  t.after(() => fromMap.shutdown());
  for (const server of [fromArray, fromMap]) {
    assert.equal((await get(server.port, '/', { servername: 'localhost' })).cn, 'localhost');
    assert.equal((await get(server.port, '/', { servername: 'a.test' })).cn, 'a.test');
    assert.equal((await get(server.port, '/', { servername: 'x.b.test' })).cn, '*.b.test');
    assert.equal((await get(server.port, '/', { servername: 'A.TEST' })).cn, 'a.test');
    // A name no certificate has: the default certificate (which the client then rejects as not its name).
    await assert.rejects(get(server.port, '/', { servername: 'y.x.b.test' }), /altnames|Hostname/i);
    const other = await handshake(server.port, {
      servername: 'unknown.test',
      checkServerIdentity: () => undefined,
    });
    assert.equal(other.getPeerCertificate().subject.CN, 'localhost');
    other.destroy();
  }
});

test('certificate files are reloaded when they change: new handshakes get the new one, open connections keep theirs; a broken one is logged and the old stays', async (t) => {
  const base = join(ca.dir, 'reloaded');
  const first = ca.issue(['localhost'], 'first');
  const second = ca.issue(['localhost'], 'second');
  const paths = ca.install(first, base);
  const logged: string[] = [];
  const consoleError = console.error;
  console.error = (...args: unknown[]) => void logged.push(args.join(' '));
  t.after(() => {
    console.error = consoleError;
  });
  const server = await start({ tls: paths });
  t.after(() => server.shutdown());
  const open = await handshake(server.port);
  assert.equal(open.getPeerCertificate().subject.CN, 'first');

  ca.install(second, base);
  assert.ok(
    await eventually(async () => (await get(server.port, '/')).cn === 'second'),
    'the new certificate is served',
  );
  // The connection made before still works, with its certificate.
  assert.match(
    await exchange(open, 'GET /old HTTP/1.1\r\nHost: x\r\n\r\n', /hello GET \/old$/),
    /^HTTP\/1\.1 200 OK/,
  );
  assert.equal(open.getPeerCertificate().subject.CN, 'first');
  open.destroy();

  // A broken certificate (a key that is not its key) is logged, and the last good one stays.
  ca.install({ cert: first.cert, key: second.key }, base);
  assert.ok(
    await eventually(async () =>
      logged.some((line) => /could not be reloaded, the old one stays/.test(line)),
    ),
  );
  assert.equal((await get(server.port, '/')).cn, 'second');
  // reloadCertificates() (what SIGHUP does) reads the files again: now good again.
  ca.install(first, base);
  await server.reloadCertificates();
  assert.equal((await get(server.port, '/')).cn, 'first');
});

test('SIGHUP reloads the certificates when the server handles signals', async (t) => {
  const server = await start({ tls: localhost, handleSignals: true });
  t.after(() => server.shutdown());
  let reloads = 0;
  server.reloadCertificates = async () => {
    reloads++;
  };
  process.kill(process.pid, 'SIGHUP');
  assert.ok(await eventually(async () => reloads === 1));
  await server.shutdown();
  assert.equal(process.listenerCount('SIGHUP'), 0, 'shutdown removes the listener');
});

test('redirectHttp answers plain HTTP with a 308 to the same URL over HTTPS', async (t) => {
  const redirectPort = await freePort();
  const server = await start({ tls: localhost, redirectHttp: redirectPort });
  t.after(() => server.shutdown());
  const moved = await plainExchange(
    redirectPort,
    'POST /a/b?c=1 HTTP/1.1\r\nHost: example.com:8080\r\nContent-Length: 0\r\nConnection: close\r\n\r\n',
  );
  assert.match(moved, /^HTTP\/1\.1 308 Permanent Redirect\r\n/);
  assert.match(moved, new RegExp(`\r\nLocation: https://example\\.com:${server.port}/a/b\\?c=1\r\n`));
  const noHost = await plainExchange(redirectPort, 'GET / HTTP/1.0\r\n\r\n');
  assert.match(noHost, /^HTTP\/1\.1 400 /);
  const badHost = await plainExchange(
    redirectPort,
    'GET / HTTP/1.1\r\nHost: a/b@evil\r\nConnection: close\r\n\r\n',
  );
  assert.match(badHost, /^HTTP\/1\.1 400 /);
  assert.equal((await get(server.port, '/')).status, 200);
});

test('WebSockets over TLS (wss://) and static files over HTTPS', async (t) => {
  const server = await start(
    { tls: localhost },
    {
      handleRequest(req, res) {
        if (req.path === '/ws') res.upgrade();
        else res.end('no');
      },
      handleWSMessage(ws, message) {
        ws.send(message);
      },
    },
  );
  t.after(() => server.shutdown());
  const client = new WebSocketClient(`wss://localhost:${server.port}/ws`, { ca: ca.cert });
  await new Promise((resolve, reject) => client.once('open', resolve).once('error', reject));
  const echoed = new Promise<string>((resolve) => client.once('message', (data) => resolve(String(data))));
  client.send('over tls');
  assert.equal(await echoed, 'over tls');
  client.close();

  const files = await start({ tls: localhost }, new DirServer(join(import.meta.dirname, '..', 'fixtures')));
  t.after(() => files.shutdown());
  const page = await get(files.port, '/hono-app.ts');
  assert.equal(page.status, 200);
  assert.match(page.body, /Hono/);
});

test('fetch mode with a Bun-style tls option', async (t) => {
  const server = await serve({
    port: 0,
    hostname: '127.0.0.1',
    workers: 1,
    log: false,
    handleSignals: false,
    tls: { cert: localhost.cert, key: localhost.key },
    fetch: (request) => new Response(`fetched ${request.url}`),
  });
  t.after(() => server.shutdown());
  const reply = await get(server.port, '/f');
  assert.equal(reply.body, `fetched https://127.0.0.1:${server.port}/f`);
});

test('a client that stalls before or during the handshake is closed at headersTimeout', async (t) => {
  const server = await start({ tls: localhost, headersTimeout: 300 });
  t.after(() => server.shutdown());
  const started = Date.now();
  // Nothing at all, and the start of a ClientHello that never completes.
  const silent = plainExchange(server.port, Buffer.alloc(0));
  const partial = plainExchange(server.port, Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01]));
  await Promise.all([silent, partial]);
  assert.ok(Date.now() - started < 3000, `closed after ${Date.now() - started} ms`);
  assert.equal((await get(server.port, '/')).status, 200);
});

test('a certificate that cannot be used is a ConfigError at start-up, as is a malformed tls option', async () => {
  await assert.rejects(
    start({ tls: { cert: join(ca.dir, 'missing.pem'), key: localhost.key } }),
    (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.match(error.message, /cannot use the TLS certificate .*missing\.pem: .*ENOENT/);
      return true;
    },
  );
  const other = ca.issue(['localhost']);
  await assert.rejects(start({ tls: { cert: localhost.cert, key: other.key } }), (error: unknown) => {
    assert.ok(error instanceof ConfigError);
    assert.match(error.message, /key values mismatch/);
    return true;
  });
  for (const [tls, message] of [
    [{}, /must be \{ cert, key \}/],
    [[], /must be \{ cert, key \}/],
    [{ cert: 'a.pem' }, /'tls\.key' must be PEM contents/],
    [{ cert: 42, key: 'k' }, /'tls\.cert' must be PEM contents/],
    [{ cert: 'c', key: 'k', extra: 1 }, /unknown field 'extra'/],
    [{ cert: 'c', key: 'k', serverName: 'bad name' }, /serverName' must be a host name/],
    [[{ cert: 'c', key: 'k' }, null], /'tls\[1\]' must be an object/],
  ] as const) {
    assert.throws(
      () => resolveOptions({ tls: tls as never }),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError, String(error));
        assert.match(error.message, message);
        return true;
      },
    );
  }
  assert.throws(() => resolveOptions({ redirectHttp: 8080 }), /needs 'tls'/);
  assert.throws(() => resolveOptions({ tls: localhost, port: 8443, redirectHttp: 8443 }), /must differ/);
});

async function eventually(check: () => Promise<boolean>, ms = 5000): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (await check()) return true;
    await delay(50);
  }
  return false;
}

test('a client that half-closes after its request still gets the answer of an async handler', async (t) => {
  const server = await start(
    { tls: localhost },
    {
      async handleRequest(req, res) {
        await delay(50);
        res.end(`late ${req.path}`);
      },
    },
  );
  t.after(() => server.shutdown());
  const socket = await handshake(server.port);
  const answer = new Promise<string>((resolve) => {
    let got = '';
    socket.on('data', (chunk: Buffer) => {
      got += chunk.toString('latin1');
    });
    socket.on('close', () => resolve(got));
  });
  socket.end('GET /half HTTP/1.1\r\nHost: x\r\n\r\n');
  assert.match(await answer, /^HTTP\/1\.1 200 OK\r\n[\s\S]*late \/half$/);
});

test('a client that resets right after its handshake is let go at once (no connection left to wait for)', async (t) => {
  const server = await start({ tls: localhost });
  t.after(() => server.shutdown());
  for (let i = 0; i < 20; i++) (await handshake(server.port)).destroy();
  assert.ok(await eventually(async () => server.connections === 0));
  const started = Date.now();
  await server.shutdown();
  assert.ok(Date.now() - started < 1000, `shutdown took ${Date.now() - started} ms`);
});

for (const mode of ['threads', 'cluster'] as const) {
  test(`sessions resume on any worker (${mode}): the workers share their ticket keys; a new certificate reaches every worker`, {
    timeout: 60_000,
  }, async (t) => {
    const base = join(ca.dir, `workers-${mode}`);
    const paths = ca.install(ca.issue(['localhost'], 'before'), base);
    const program = fileURLToPath(new URL('../fixtures/tls-workers-server.ts', import.meta.url));
    const running = await launchProgram(program, { MODE: mode, TLS_CERT: paths.cert, TLS_KEY: paths.key });
    t.after(() => {
      running.child.kill('SIGTERM');
      return running.exited;
    });
    // The first connection gets a session ticket; every later one offers it.
    const first = await handshake(running.port);
    const session = await new Promise<Buffer>((resolve) => first.once('session', resolve));
    first.destroy();
    const workers = new Set<string>();
    let resumed = 0;
    for (let i = 0; i < 24; i++) {
      const socket = await handshake(running.port, { session });
      if (socket.isSessionReused()) resumed++;
      workers.add(
        await exchange(socket, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', /\d+:\d+$/).then(
          (r) => r.split('\r\n\r\n')[1]!,
        ),
      );
      socket.destroy();
    }
    assert.equal(workers.size, 2, `served by ${[...workers].join(', ')}`);
    assert.equal(resumed, 24);
    // SIGHUP replaces the workers one by one (a rolling restart), and the new ones read the files (each
    // also sees the change itself). A connection that meets a worker just as it closes its listener
    // can be reset (see README, Zero-downtime restarts): here that counts as "not yet".
    ca.install(ca.issue(['localhost'], 'after'), base);
    running.child.kill('SIGHUP');
    assert.ok(
      await eventually(async () => {
        const names = new Set<string>();
        try {
          for (let i = 0; i < 8; i++) names.add((await get(running.port, '/')).cn);
        } catch {
          return false;
        }
        return names.size === 1 && names.has('after');
      }),
      'every worker serves the new certificate',
    );
  });
}

test('a client cannot renegotiate (TLS 1.2): no handshake work on demand', async (t) => {
  const server = await start({ tls: localhost });
  t.after(() => server.shutdown());
  const socket = await handshake(server.port, { maxVersion: 'TLSv1.2' });
  socket.on('error', () => {});
  const refused = await new Promise<Error | null>((resolve) => {
    const asked = socket.renegotiate({ rejectUnauthorized: false }, (error) => resolve(error ?? null));
    if (!asked) resolve(new Error('renegotiation not started'));
    socket.once('close', () => resolve(new Error('closed')));
  });
  assert.ok(refused !== null, 'the server went along with a renegotiation');
  socket.destroy();
  assert.equal((await get(server.port, '/')).status, 200);
});

test('shutdown does not wait for a client stuck in its TLS handshake', async () => {
  const server = await start({ tls: localhost }); // headersTimeout (the handshake's limit) is 10 s
  const socket = netConnect(server.port, '127.0.0.1', () =>
    socket.write(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00])),
  );
  socket.on('error', () => {});
  await delay(100);
  const started = Date.now();
  await server.shutdown();
  assert.ok(Date.now() - started < 3000, `shutdown took ${Date.now() - started} ms`);
  socket.destroy();
});
