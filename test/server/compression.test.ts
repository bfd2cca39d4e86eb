import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { type IncomingHttpHeaders as Http1Headers, request as httpRequest } from 'node:http';
import { connect, constants as h2, type IncomingHttpHeaders } from 'node:http2';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import * as zlib from 'node:zlib';
import { CompressingBody } from '../../src/http/compressing-body.ts';
import {
  ConfigError,
  DirServer,
  type Handler,
  type Server,
  type ServerOptions,
  serve,
} from '../../src/index.ts';
import { resolveOptions } from '../../src/options.ts';
import { SETTLED_MS } from '../../src/static/file-cache.ts';
import { exchange } from '../helpers.ts';

const TEXT = 'Peregrine compresses what is worth compressing. '.repeat(128); // 6144 bytes
const ZSTD = typeof zlib.zstdDecompressSync === 'function';

function decode(coding: string | undefined, body: Buffer): Buffer {
  if (coding === undefined) return body;
  if (coding === 'gzip') return zlib.gunzipSync(body);
  if (coding === 'br') return zlib.brotliDecompressSync(body);
  if (coding === 'zstd') return zlib.zstdDecompressSync(body);
  throw new Error(`unknown coding ${coding}`);
}

const handler: Handler = {
  async handleRequest(req, res) {
    res.setHeader('Content-Type', req.path === '/png' ? 'image/png' : 'text/plain; charset=utf-8');
    switch (req.path) {
      case '/etag':
        res.setHeader('ETag', '"v1"');
        res.setHeader('Vary', 'Origin');
        res.end(TEXT);
        return;
      case '/small':
        res.end('tiny');
        return;
      case '/no-transform':
        res.setHeader('Cache-Control', 'public, no-transform');
        res.end(TEXT);
        return;
      case '/encoded':
        res.setHeader('Content-Encoding', 'gzip');
        res.end(zlib.gzipSync(TEXT));
        return;
      case '/declared':
        res.setHeader('Content-Length', Buffer.byteLength(TEXT));
        res.end(TEXT);
        return;
      case '/stream':
        for (let i = 0; i < 40; i++) if (!res.write(TEXT)) await res.waitForDrain();
        res.end('the end');
        return;
      case '/events': {
        // Each event must reach the client before the next is written: the compressor flushes.
        res.setHeader('Content-Type', 'text/event-stream');
        res.write(`data: first ${'x'.repeat(2000)}\n\n`);
        await new Promise<void>((resolve) => {
          eventsWaiting = resolve;
        });
        res.end('data: last\n\n');
        return;
      }
      default:
        res.end(TEXT);
    }
  },
};

let eventsWaiting: (() => void) | null = null;

function start(options: ServerOptions = {}, h: Handler = handler): Promise<Server> {
  return serve(h, {
    port: 0,
    host: '127.0.0.1',
    workers: 1,
    log: false,
    handleSignals: false,
    compression: true,
    ...options,
  });
}

interface Reply {
  status: number;
  headers: Http1Headers;
  raw: Buffer;
  body: string;
}

function get(
  port: number,
  path: string,
  headers: Record<string, string> = {},
  method = 'GET',
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, method, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const raw = Buffer.concat(chunks);
        const coding = res.headers['content-encoding'];
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          raw,
          body: method === 'HEAD' ? '' : decode(coding, raw).toString(),
        });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

test('HTTP/1.1: each coding the client takes, an exact Content-Length, Vary and a weak ETag; identity otherwise', async (t) => {
  const server = await start();
  t.after(() => server.shutdown());
  for (const [accept, expected] of [
    ['gzip', 'gzip'],
    ['br', 'br'],
    ['gzip, br', 'br'], // equal weights: the server's order (zstd, br, gzip)
    ['gzip;q=1, br;q=0.5', 'gzip'],
    ['*', ZSTD ? 'zstd' : 'br'],
    ['identity', undefined],
    ['gzip;q=0, br;q=0', undefined],
    ...(ZSTD ? ([['zstd', 'zstd']] as const) : []),
  ] as const) {
    const reply = await get(server.port, '/etag', { 'accept-encoding': accept });
    assert.equal(reply.headers['content-encoding'], expected, accept);
    assert.equal(reply.body, TEXT, accept);
    assert.equal(Number(reply.headers['content-length']), reply.raw.length, accept);
    assert.equal(reply.headers.vary, 'Origin, Accept-Encoding', accept);
    assert.equal(reply.headers.etag, expected === undefined ? '"v1"' : 'W/"v1"', accept);
    if (expected !== undefined)
      assert.ok(reply.raw.length < TEXT.length / 4, `${accept}: ${reply.raw.length} bytes`);
  }
  const none = await get(server.port, '/');
  assert.equal(none.headers['content-encoding'], undefined);
  assert.equal(none.headers.vary, 'Accept-Encoding');
});

test('never compressed: below the threshold, an incompressible type, no-transform, already encoded, HEAD, a range; off by default', async (t) => {
  const server = await start();
  t.after(() => server.shutdown());
  const gzip = { 'accept-encoding': 'gzip' };
  for (const path of ['/small', '/png', '/no-transform']) {
    const reply = await get(server.port, path, gzip);
    assert.equal(reply.headers['content-encoding'], undefined, path);
    assert.equal(reply.headers.vary, undefined, path);
  }
  const encoded = await get(server.port, '/encoded', gzip);
  assert.equal(encoded.headers['content-encoding'], 'gzip');
  assert.equal(encoded.body, TEXT); // encoded once, by the handler
  const head = await get(server.port, '/', gzip, 'HEAD');
  assert.equal(head.headers['content-encoding'], undefined);
  assert.equal(head.headers.vary, 'Accept-Encoding');
  assert.equal(Number(head.headers['content-length']), TEXT.length);
  const range = await get(server.port, '/', { ...gzip, range: 'bytes=0-9' });
  assert.equal(range.headers['content-encoding'], undefined);
  const declared = await get(server.port, '/declared', gzip);
  assert.equal(declared.headers['content-encoding'], 'gzip'); // the handler's length was the identity body's
  assert.equal(declared.body, TEXT);

  const off = await start({ compression: undefined });
  t.after(() => off.shutdown());
  const plain = await get(off.port, '/', gzip);
  assert.equal(plain.headers['content-encoding'], undefined);
  assert.equal(plain.headers.vary, undefined);
});

test('a streamed body is compressed as it goes (chunked), each write flushed; HTTP/1.0 gets it close-delimited', async (t) => {
  const server = await start();
  t.after(() => server.shutdown());
  const streamed = await get(server.port, '/stream', { 'accept-encoding': 'gzip' });
  assert.equal(streamed.headers['content-encoding'], 'gzip');
  assert.equal(streamed.headers['transfer-encoding'], 'chunked');
  assert.equal(streamed.body, `${TEXT.repeat(40)}the end`);
  assert.ok(streamed.raw.length < 4000, `${streamed.raw.length} bytes`);

  // The first event decodes before the handler writes the last one.
  const first = await new Promise<string>((resolve, reject) => {
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port: server.port,
        path: '/events',
        headers: { 'accept-encoding': 'gzip' },
        agent: false,
      },
      (res) => {
        assert.equal(res.headers['content-encoding'], 'gzip');
        const gunzip = zlib.createGunzip();
        let text = '';
        gunzip.on('data', (chunk: Buffer) => {
          text += chunk.toString();
          if (text.includes('\n\n')) resolve(text);
        });
        res.pipe(gunzip);
      },
    );
    req.on('error', reject);
    req.end();
  });
  assert.match(first, /^data: first x+\n\n$/);
  eventsWaiting?.();

  const http10 = await exchange(server.port, 'GET /stream HTTP/1.0\r\nAccept-Encoding: gzip\r\n\r\n', 5000);
  const split = http10.indexOf('\r\n\r\n');
  assert.match(http10.slice(0, split), /Content-Encoding: gzip/);
  assert.doesNotMatch(http10.slice(0, split), /Transfer-Encoding/);
  const body = zlib.gunzipSync(Buffer.from(http10.slice(split + 4), 'latin1')).toString();
  assert.equal(body, `${TEXT.repeat(40)}the end`);
});

test('HTTP/2: whole and streamed bodies compressed alike', async (t) => {
  const { TestCa } = await import('../tls/certs.ts');
  const ca = new TestCa();
  t.after(() => ca.remove());
  const server = await start({ tls: ca.issue(['localhost']) });
  t.after(() => server.shutdown());
  const session = connect(`https://localhost:${server.port}`, { ca: ca.cert });
  t.after(() => session.close());
  const fetch2 = (path: string) =>
    new Promise<{ headers: IncomingHttpHeaders; body: string; raw: number }>((resolve, reject) => {
      const stream = session.request({ ':path': path, 'accept-encoding': 'br' });
      const chunks: Buffer[] = [];
      let headers: IncomingHttpHeaders = {};
      stream.on('response', (h) => {
        headers = h;
      });
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        const raw = Buffer.concat(chunks);
        resolve({
          headers,
          body: decode(headers['content-encoding'] as string, raw).toString(),
          raw: raw.length,
        });
      });
      stream.on('error', reject);
    });
  const whole = await fetch2('/etag');
  assert.equal(whole.headers['content-encoding'], 'br');
  assert.equal(Number(whole.headers['content-length']), whole.raw);
  assert.equal(whole.headers.etag, 'W/"v1"');
  assert.equal(whole.body, TEXT);
  const streamed = await fetch2('/stream');
  assert.equal(streamed.headers['content-encoding'], 'br');
  assert.equal(streamed.body, `${TEXT.repeat(40)}the end`);
  assert.equal(streamed.headers[h2.HTTP2_HEADER_STATUS], 200);
});

test('fetch mode responses and DirServer files are compressed; DirServer still prefers a precompressed file', async (t) => {
  const app = await serve({
    port: 0,
    hostname: '127.0.0.1',
    workers: 1,
    log: false,
    handleSignals: false,
    compression: true,
    fetch: () => new Response(TEXT, { headers: { 'content-type': 'text/plain' } }),
  });
  t.after(() => app.shutdown());
  const fetched = await get(app.port, '/', { 'accept-encoding': 'gzip' });
  assert.equal(fetched.headers['content-encoding'], 'gzip');
  assert.equal(fetched.body, TEXT);

  const dir = mkdtempSync(join(tmpdir(), 'peregrine-compress-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'app.js'), TEXT);
  writeFileSync(join(dir, 'pre.css'), TEXT);
  writeFileSync(join(dir, 'pre.css.br'), zlib.brotliCompressSync(TEXT));
  // The file cache keeps only files that settled (unchanged for SETTLED_MS), then answers hot ones
  // with prebuilt bytes: compression must still apply there.
  await delay(SETTLED_MS + 100);
  const files = await start({}, new DirServer(dir));
  t.after(() => files.shutdown());
  for (let i = 0; i < 5; i++) {
    // Several times: the file cache's prebuilt path must not bypass compression once the file is hot.
    const js = await get(files.port, '/app.js', { 'accept-encoding': 'gzip' });
    assert.equal(js.headers['content-encoding'], 'gzip');
    assert.equal(js.body, TEXT);
  }
  // Without precompressed variants the file cache answers hot files with prebuilt bytes: compression still applies.
  const plainFiles = await start({}, new DirServer(dir, { precompressed: false }));
  t.after(() => plainFiles.shutdown());
  for (let i = 0; i < 5; i++) {
    const js = await get(plainFiles.port, '/app.js', { 'accept-encoding': 'gzip' });
    assert.equal(js.headers['content-encoding'], 'gzip', `request ${i + 1}`);
    assert.equal(js.body, TEXT);
  }
  const pre = await get(files.port, '/pre.css', { 'accept-encoding': 'br, gzip' });
  assert.equal(pre.headers['content-encoding'], 'br');
  assert.deepEqual(pre.raw, zlib.brotliCompressSync(TEXT)); // the file's own bytes, not compressed again
});

test('a bad compression option is a ConfigError naming it', () => {
  for (const [value, message] of [
    [{ level: 99 }, /compression/],
    [{ encodings: ['lzma'] }, /compression/],
    [{ threshold: -1 }, /compression/],
    [{ maxStreams: -1 }, /compression\.maxStreams/],
    ['yes', /compression/],
  ] as const) {
    assert.throws(
      () => resolveOptions({ compression: value as never }),
      (error: unknown) => error instanceof ConfigError && message.test(error.message),
    );
  }
});

test('maxStreams bounds the streams compressed at once; a client that leaves frees its compressor', {
  timeout: 10_000,
}, async (t) => {
  const releases: (() => void)[] = [];
  const server = await start(
    { compression: { maxStreams: 1 } },
    {
      async handleRequest(_req, res) {
        res.setHeader('Content-Type', 'text/event-stream');
        res.write(`data: ${'x'.repeat(2000)}\n\n`);
        await new Promise<void>((resolve) => releases.push(resolve));
        res.end('data: end\n\n');
      },
    },
  );
  t.after(() => server.shutdown());
  const open = (path: string) =>
    new Promise<{ encoding: string | undefined; vary: string | undefined; close(): void }>(
      (resolve, reject) => {
        const req = httpRequest(
          {
            host: '127.0.0.1',
            port: server.port,
            path,
            headers: { 'accept-encoding': 'gzip' },
            agent: false,
          },
          (res) => {
            res.resume();
            resolve({
              encoding: res.headers['content-encoding'],
              vary: res.headers.vary as string | undefined,
              close: () => req.socket?.resetAndDestroy(), // gone for good, not half-closed
            });
          },
        );
        req.on('error', () => {});
        req.on('error', reject);
        req.end();
      },
    );
  const first = await open('/1');
  assert.equal(first.encoding, 'gzip');
  assert.equal(CompressingBody.live, 1);
  const second = await open('/2');
  assert.equal(second.encoding, undefined, 'past maxStreams: sent as it is');
  assert.equal(second.vary, 'Accept-Encoding');
  // The first client's connection is reset: its compressor is freed at once (not when the handler
  // ends), and the next stream is compressed.
  first.close();
  while (CompressingBody.live > 0) await delay(10);
  const third = await open('/3');
  assert.equal(third.encoding, 'gzip');
  for (const release of releases) release();
  second.close();
  third.close();
});

test('a compressor abandoned because its client left drops what is still written to it', async () => {
  const sent: Buffer[] = [];
  let finished = false;
  const body = new CompressingBody(
    'gzip',
    resolveOptions({ compression: true }).compression!,
    (bytes) => sent.push(bytes),
    () => {
      finished = true;
    },
  );
  body.write(TEXT);
  body.destroy();
  // A handler that doesn't notice the client left keeps writing: nothing piles up, nothing is sent.
  for (let i = 0; i < 1000; i++) assert.equal(body.write(TEXT), true);
  body.end('last');
  await body.idle();
  await delay(20);
  assert.deepEqual(sent, []);
  assert.equal(finished, false);
});
