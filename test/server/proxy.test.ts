import assert from 'node:assert/strict';
import { type ClientHttp2Session, connect as connectHttp2 } from 'node:http2';
import { connect, type Socket } from 'node:net';
import { after, describe, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { connect as connectTls } from 'node:tls';
import WebSocketClient from 'ws';
import type { Request, ServerOptions, WebSocket } from '../../src/index.ts';
import { useSharedReads } from '../../src/transport/shared-reads.ts';
import { startFetch } from '../fetch/util.ts';
import { TestCa } from '../tls/certs.ts';
import { isClosed, serverClosed, setup } from './util.ts';

// proxyProtocol and trustProxy on a running server, over real sockets: HTTP/1, TLS, HTTP/2 (TLS and
// h2c) and WebSockets.

const ca = new TestCa();
after(() => ca.remove());
const localhost = ca.issue(['localhost', '127.0.0.1']);

/** What a handler saw of its client. */
function describeClient(req: Request) {
  return {
    remoteAddress: req.remoteAddress,
    remotePort: req.remotePort,
    clientAddress: req.clientAddress,
    protocol: req.protocol,
    host: req.host,
    version: req.version,
  };
}

const echoClient = (req: Request, res: { json(v: unknown): void }) => res.json(describeClient(req));

const V1 = 'PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n';
const SIGNATURE = Buffer.from('0d0a0d0a000d0a515549540a', 'hex');
/** A v2 PROXY header for TCP over IPv6 from [2001:db8::7]:4242. */
const V2_IPV6 = Buffer.concat([
  SIGNATURE,
  Buffer.from([0x21, 0x21, 0x00, 36]),
  Buffer.from('20010db8000000000000000000000007', 'hex'),
  Buffer.from('20010db8000000000000000000000001', 'hex'),
  Buffer.from([0x10, 0x92, 0x01, 0xbb]),
]);
const V2_LOCAL = Buffer.concat([SIGNATURE, Buffer.from([0x20, 0x00, 0x00, 0x00])]);

function get(path = '/', ...headers: string[]): string {
  return `GET ${path} HTTP/1.1\r\nHost: app.example\r\n${headers.map((h) => `${h}\r\n`).join('')}\r\n`;
}

/** The JSON bodies of the responses in `text`. */
function bodies(text: string): Record<string, unknown>[] {
  return [...text.matchAll(/\r\n\r\n(\{[^\r]*?\})(?=HTTP\/|$)/g)].map((m) => JSON.parse(m[1]!));
}

/** Sends `bytes` one byte per write (each its own TCP segment), as a slow or hostile client would. */
async function trickle(socket: Socket, bytes: Buffer): Promise<void> {
  for (const byte of bytes) {
    socket.write(Buffer.from([byte]));
    await delay(1);
  }
}

for (const shared of [true, false]) {
  describe(`proxyProtocol (${shared ? 'shared reads' : 'plain reads'})`, { timeout: 20_000 }, () => {
    const options: ServerOptions = { proxyProtocol: true };
    const withReads = async <T>(run: () => Promise<T>) => {
      useSharedReads(shared);
      try {
        return await run();
      } finally {
        useSharedReads(true);
      }
    };

    test('v1 and v2: the address in the header is the peer, for every request on the connection', async (t) => {
      const h = await withReads(() => setup(t, echoClient, options));
      const a = await h.client();
      a.send(V1 + get() + get('/again'));
      await a.until((text) => bodies(text).length === 2);
      for (const body of bodies(a.text)) {
        assert.deepEqual(body, {
          remoteAddress: '192.0.2.1',
          remotePort: 56324,
          clientAddress: '192.0.2.1',
          protocol: 'http',
          host: 'app.example',
          version: '1.1',
        });
      }
      const b = await h.client();
      b.send(Buffer.concat([V2_IPV6, Buffer.from(get())]));
      await b.until((text) => bodies(text).length === 1);
      assert.equal(bodies(b.text)[0]!.remoteAddress, '2001:db8::7');
      assert.equal(bodies(b.text)[0]!.remotePort, 4242);
    });

    test('a header (and request) arriving byte by byte', async (t) => {
      const h = await withReads(() => setup(t, echoClient, options));
      for (const header of [Buffer.from(V1), V2_IPV6]) {
        const c = await h.client();
        await trickle(c.socket, Buffer.concat([header, Buffer.from(get())]));
        await c.until((text) => bodies(text).length === 1);
        assert.equal(bodies(c.text)[0]!.remoteAddress, header === V2_IPV6 ? '2001:db8::7' : '192.0.2.1');
      }
    });

    test('LOCAL (a health check) and UNKNOWN keep the connection’s own address', async (t) => {
      const h = await withReads(() => setup(t, echoClient, options));
      for (const header of [V2_LOCAL, Buffer.from('PROXY UNKNOWN\r\n')]) {
        const c = await h.client();
        c.send(Buffer.concat([header, Buffer.from(get())]));
        await c.until((text) => bodies(text).length === 1);
        assert.equal(bodies(c.text)[0]!.remoteAddress, '127.0.0.1');
      }
    });

    test('no header, a bad one, or an oversized one: closed without a byte of HTTP', async (t) => {
      const h = await withReads(() => setup(t, echoClient, options));
      const tooLong = Buffer.concat([SIGNATURE, Buffer.from([0x21, 0x11, 0xff, 0xff])]);
      for (const input of [
        Buffer.from(get()), // a client that bypassed the proxy
        Buffer.from(`PROXY TCP4 ${'1'.repeat(120)}`), // no CRLF in 107 bytes
        Buffer.from('PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\n'),
        Buffer.from('0d0a0d0a000d0a5155495400', 'hex'), // a bad signature
        tooLong, // a v2 length beyond the bound
        Buffer.from([0x16, 0x03, 0x01, 0x00, 0x05]), // TLS on a plain port
        Buffer.from('\x00\xff garbage'),
      ]) {
        const c = await h.client();
        c.send(input);
        await serverClosed(c);
        assert.equal(c.received.length, 0, input.toString('latin1'));
      }
      assert.equal(h.server.connections, 0);
    });

    test('a client that sends nothing, or a header too slowly, is closed at headersTimeout', async (t) => {
      const h = await withReads(() => setup(t, echoClient, { ...options, headersTimeout: 300 }));
      const silent = await h.client();
      const slow = await h.client();
      slow.send('PROXY TCP4 192.0.2.1');
      const started = Date.now();
      await serverClosed(silent, 3000);
      await serverClosed(slow, 3000);
      assert.ok(Date.now() - started >= 200, 'not before the deadline');
      assert.equal(silent.received.length + slow.received.length, 0);
    });

    test('without proxyProtocol a PROXY header is never taken: it is a bad request', async (t) => {
      const h = await withReads(() => setup(t, echoClient));
      const c = await h.client();
      c.send(V1 + get());
      await c.until((text) => text.includes('\r\n\r\n'));
      assert.match(c.text, /^HTTP\/1\.1 400 /);
    });
  });
}

describe('proxyProtocol with TLS, HTTP/2, h2c and WebSockets', { timeout: 20_000 }, () => {
  /** A TLS connection to `port` that first sends `header` in the clear. */
  function tlsAfterHeader(port: number, header: Buffer | string, alpn: string[]) {
    const raw = connect(port, '127.0.0.1');
    raw.write(header);
    return connectTls({ socket: raw, servername: 'localhost', ca: ca.cert, ALPNProtocols: alpn });
  }

  test('TLS: the PROXY header comes before the ClientHello; HTTP/1.1 and HTTP/2 both see it', async (t) => {
    const h = await setup(t, echoClient, { proxyProtocol: true, tls: localhost });
    const tls = tlsAfterHeader(h.port, V1, ['http/1.1']);
    t.after(() => tls.destroy());
    tls.write(get('/', 'Connection: close'));
    let text = '';
    for await (const chunk of tls) text += chunk;
    assert.deepEqual(bodies(text)[0], {
      remoteAddress: '192.0.2.1',
      remotePort: 56324,
      clientAddress: '192.0.2.1',
      protocol: 'https',
      host: 'app.example',
      version: '1.1',
    });

    const session = connectHttp2(`https://localhost:${h.port}`, {
      createConnection: () => tlsAfterHeader(h.port, V2_IPV6, ['h2']),
    });
    t.after(() => session.close());
    const body = await h2Get(session, { 'x-forwarded-for': '6.6.6.6' });
    assert.equal(body.remoteAddress, '2001:db8::7');
    assert.equal(body.clientAddress, '2001:db8::7', 'trustProxy is off: the headers do not count');
    assert.equal(body.protocol, 'https');
    assert.equal(body.version, '2.0');
  });

  test('TLS: a bad header closes the connection before any handshake; plain HTTP after a header gets the 400', async (t) => {
    const h = await setup(t, echoClient, { proxyProtocol: true, tls: localhost });
    const c = await h.client();
    c.send(Buffer.from([0x16, 0x03, 0x01, 0x00, 0x05, 0x01]));
    await serverClosed(c);
    assert.equal(c.received.length, 0);
    const d = await h.client();
    d.send(V1 + get());
    await d.until((text) => text.includes('\r\n\r\n'));
    assert.match(d.text, /^HTTP\/1\.1 400 /);
  });

  test('TLS: a PROXY v2 header saying the client used TLS makes req.protocol https on a plain port', async (t) => {
    const h = await setup(t, echoClient, { proxyProtocol: true });
    const ssl = Buffer.from([0x20, 0x00, 0x05, 0x01, 0x00, 0x00, 0x00, 0x00]); // PP2_TYPE_SSL, PP2_CLIENT_SSL
    const header = Buffer.concat([
      SIGNATURE,
      Buffer.from([0x21, 0x11, 0x00, 12 + ssl.length, 192, 0, 2, 1, 10, 0, 0, 1, 0x30, 0x39, 0x00, 0x50]),
      ssl,
    ]);
    const c = await h.client();
    c.send(Buffer.concat([header, Buffer.from(get())]));
    await c.until((text) => bodies(text).length === 1);
    assert.equal(bodies(c.text)[0]!.protocol, 'https');
    assert.equal(bodies(c.text)[0]!.remoteAddress, '192.0.2.1');
  });

  test('h2c: a PROXY header, then the HTTP/2 preface', async (t) => {
    const h = await setup(t, echoClient, { proxyProtocol: true, h2c: true, trustProxy: ['192.0.2.0/24'] });
    const session = connectHttp2(`http://127.0.0.1:${h.port}`, {
      createConnection: () => {
        const raw = connect(h.port, '127.0.0.1');
        raw.write(V1);
        return raw;
      },
    });
    t.after(() => session.close());
    const body = await h2Get(session, { 'x-forwarded-for': '198.51.100.9', 'x-forwarded-proto': 'https' });
    assert.equal(body.version, '2.0');
    assert.equal(body.remoteAddress, '192.0.2.1');
    assert.equal(body.clientAddress, '198.51.100.9', 'the proxy (192.0.2.1) is trusted');
    assert.equal(body.protocol, 'https');
    assert.equal(body.host, `127.0.0.1:${h.port}`, ':authority');
    // :authority names the host ahead of a Host field (RFC 9113 §8.3.1).
    const both = await h2Get(session, { ':authority': 'Shop.Example', host: 'other.example' });
    assert.equal(both.host, 'shop.example');
  });

  test('WebSockets: the socket reports the address from the PROXY header', async (t) => {
    let opened: (address: string | undefined) => void;
    const open = new Promise<string | undefined>((resolve) => {
      opened = resolve;
    });
    const h = await setup(
      t,
      {
        handleRequest: (_req, res) => void res.upgrade(),
        handleWSOpen: (ws: WebSocket) => opened(ws.remoteAddress),
      },
      { proxyProtocol: true },
    );
    const client = new WebSocketClient(`ws://127.0.0.1:${h.port}/`, {
      createConnection: () => {
        const raw = connect(h.port, '127.0.0.1');
        raw.write(V2_IPV6);
        return raw;
      },
    } as WebSocketClient.ClientOptions);
    t.after(() => client.terminate());
    client.on('error', () => {});
    assert.equal(await open, '2001:db8::7');
  });
});

/** One GET on an HTTP/2 session, its JSON body. */
function h2Get(
  session: ClientHttp2Session,
  headers: Record<string, string> = {},
): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ':path': '/', ...headers });
    let text = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      text += chunk;
    });
    stream.on('end', () => resolve(JSON.parse(text)));
    stream.on('error', reject);
  });
}

describe('trustProxy on a running server', { timeout: 20_000 }, () => {
  test('HTTP/1: a trusted peer’s X-Forwarded-* count, walked from the right', async (t) => {
    const h = await setup(t, echoClient, { trustProxy: ['loopback'] });
    const c = await h.client();
    c.send(
      get(
        '/',
        'X-Forwarded-For: 6.6.6.6',
        'X-Forwarded-For: 203.0.113.50, 127.0.0.1',
        'X-Forwarded-Proto: https',
        'X-Forwarded-Host: Shop.Example',
      ),
    );
    await c.until((text) => bodies(text).length === 1);
    assert.deepEqual(bodies(c.text)[0], {
      remoteAddress: '127.0.0.1',
      remotePort: c.socket.localPort,
      clientAddress: '203.0.113.50',
      protocol: 'https',
      host: 'shop.example',
      version: '1.1',
    });
  });

  test('HTTP/1: an untrusted peer’s headers are ignored; the host of an absolute-form target wins over Host', async (t) => {
    const h = await setup(t, echoClient, { trustProxy: ['10.0.0.0/8'] });
    const c = await h.client();
    c.send(
      'GET http://Target.Example:8080/x HTTP/1.1\r\nHost: other.example\r\nX-Forwarded-For: 10.9.9.9\r\nX-Forwarded-Host: evil.example\r\n\r\n',
    );
    await c.until((text) => bodies(text).length === 1);
    const body = bodies(c.text)[0]!;
    assert.equal(body.clientAddress, '127.0.0.1');
    assert.equal(body.host, 'target.example:8080');
    assert.equal(body.protocol, 'http');
  });

  test('Forwarded (proxyHeaders: "forwarded"), and a malformed one falls back to the peer', async (t) => {
    const h = await setup(t, echoClient, { trustProxy: 1, proxyHeaders: 'forwarded' });
    const c = await h.client();
    c.send(
      get(
        '/',
        'X-Forwarded-For: 6.6.6.6',
        'Forwarded: for="[2001:db8::5]:4711";proto=https;host=shop.example',
      ),
    );
    c.send(get('/', 'Forwarded: for="[2001:db8::5'));
    await c.until((text) => bodies(text).length === 2);
    const [good, bad] = bodies(c.text);
    assert.deepEqual(
      [good!.clientAddress, good!.protocol, good!.host],
      ['2001:db8::5', 'https', 'shop.example'],
    );
    assert.deepEqual([bad!.clientAddress, bad!.protocol, bad!.host], ['127.0.0.1', 'http', 'app.example']);
    assert.ok(!isClosed(c));
  });

  test('the access log shows the client that trusted proxies (and a PROXY header) report, as nginx realip does', async (t) => {
    const clients: (string | undefined)[] = [];
    const h = await setup(t, echoClient, {
      proxyProtocol: true,
      trustProxy: ['192.0.2.0/24'],
      accessLog: (entry) => {
        clients.push(entry.client);
        return undefined;
      },
    });
    const c = await h.client();
    c.send(V1 + get('/', 'X-Forwarded-For: 198.51.100.77') + get('/'));
    await c.until((text) => bodies(text).length === 2);
    for (let i = 0; i < 50 && clients.length < 2; i++) await delay(20);
    assert.deepEqual(clients, ['198.51.100.77', '192.0.2.1']);
  });

  test('fetch mode: server.requestIP gives the trusted client address', async (t) => {
    const { url } = await startFetch(t, {
      trustProxy: 'loopback',
      fetch: (request, server) => Response.json(server.requestIP(request)),
    });
    const proxied = await (await fetch(url('/'), { headers: { 'x-forwarded-for': '2001:db8::9' } })).json();
    assert.deepEqual(proxied, { address: '2001:db8::9', family: 'IPv6', port: 0 });
    const direct = (await (await fetch(url('/'))).json()) as { address: string; port: number };
    assert.equal(direct.address, '127.0.0.1');
    assert.ok(direct.port > 0);
  });
});
