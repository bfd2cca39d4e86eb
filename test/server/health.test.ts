import assert from 'node:assert/strict';
import { connect as http2Connect } from 'node:http2';
import { test } from 'node:test';
import { ConfigError, serve } from '../../src/index.ts';
import { exchange, httpGet, start } from '../helpers.ts';

// Health endpoints (`health`) and the announced shutdown (`shutdownDelay`), in one worker.

const app = (req: { path: string }, res: { end(body: string): void }) => res.end(`app ${req.path}`);

/** One HTTP/1.1 request on its own connection; the raw response. */
const raw = (port: number, method: string, path: string) =>
  exchange(port, `${method} ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);

test('health: true answers /livez and /readyz before the handler, GET and HEAD, 405 otherwise', async (t) => {
  const server = await start(app, { health: true });
  t.after(() => server.shutdown());
  const live = await raw(server.port, 'GET', '/livez');
  assert.match(live, /^HTTP\/1\.1 200 OK\r\n/);
  assert.match(live, /\r\ncache-control: no-store\r\n/i);
  assert.match(live, /\r\n\r\nlive\n$/);
  assert.match(await raw(server.port, 'GET', '/readyz'), /^HTTP\/1\.1 200 [\s\S]*\r\n\r\nready\n$/);
  const head = await raw(server.port, 'HEAD', '/readyz');
  assert.match(head, /^HTTP\/1\.1 200 /);
  assert.match(head, /\r\n\r\n$/, 'HEAD has no body');
  const post = await raw(server.port, 'POST', '/livez');
  assert.match(post, /^HTTP\/1\.1 405 /);
  assert.match(post, /\r\nallow: GET, HEAD\r\n/i);
  // Everything else, and a query or a longer path, is the application's.
  assert.equal((await httpGet(server.port, '/other')).body, 'app /other');
  assert.equal((await httpGet(server.port, '/livez/x')).body, 'app /livez/x');
  assert.equal((await httpGet(server.port, '/readyz?verbose')).status, 200);
});

test('health paths of your own, one turned off; off by default', async (t) => {
  const server = await start(app, { health: { live: '/healthz', ready: false } });
  t.after(() => server.shutdown());
  assert.equal((await httpGet(server.port, '/healthz')).body, 'live\n');
  assert.equal((await httpGet(server.port, '/readyz')).body, 'app /readyz');
  const plain = await start(app);
  t.after(() => plain.shutdown());
  assert.equal((await httpGet(plain.port, '/livez')).body, 'app /livez');
});

test('a bad health option is a ConfigError at start-up', async () => {
  for (const [health, pattern] of [
    [{ live: 'livez' }, /'health\.live' must be a path starting with '\/'/],
    [{ live: '/same', ready: '/same' }, /must differ, both are '\/same'/],
    [{ ready: '/a b' }, /'health\.ready' must be a path/],
    [{ alive: '/x' }, /unknown field 'alive'/],
    ['yes', /'health' must be true, false or \{ live, ready \}/],
  ] as const) {
    await assert.rejects(start(app, { health: health as never }), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.match(error.message, pattern);
      return true;
    });
  }
  await assert.rejects(start(app, { shutdownDelay: -1 }), /'shutdownDelay' must be an integer/);
});

test('health on HTTP/2 (h2c) and in fetch mode', async (t) => {
  const server = await serve({
    port: 0,
    hostname: '127.0.0.1',
    workers: 1,
    log: false,
    handleSignals: false,
    h2c: true,
    health: true,
    fetch: (request) => new Response(`fetch ${new URL(request.url).pathname}`),
  });
  t.after(() => server.shutdown());
  assert.equal((await httpGet(server.port, '/readyz')).body, 'ready\n');
  assert.equal((await httpGet(server.port, '/x')).body, 'fetch /x');
  const session = http2Connect(`http://127.0.0.1:${server.port}`);
  t.after(() => session.close());
  const get = (path: string, method = 'GET') =>
    new Promise<{ status: number; cache: unknown; body: string }>((resolve, reject) => {
      const stream = session.request({ ':path': path, ':method': method });
      let body = '';
      let status = 0;
      let cache: unknown;
      stream.on('response', (headers) => {
        status = Number(headers[':status']);
        cache = headers['cache-control'];
      });
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => {
        body += chunk;
      });
      stream.on('end', () => resolve({ status, cache, body }));
      stream.on('error', reject);
      stream.end();
    });
  assert.deepEqual(await get('/livez'), { status: 200, cache: 'no-store', body: 'live\n' });
  assert.deepEqual(await get('/readyz', 'HEAD'), { status: 200, cache: 'no-store', body: '' });
  assert.equal((await get('/readyz', 'DELETE')).status, 405);
  assert.equal((await get('/y')).body, 'fetch /y');
});

test('shutdownDelay: readiness turns 503 at once while requests are still served, then the listener closes', async () => {
  const server = await start(app, { health: true, shutdownDelay: 400 });
  const port = server.port;
  const started = Date.now();
  const done = server.shutdown();
  assert.equal((await httpGet(port, '/readyz')).status, 503);
  assert.equal((await httpGet(port, '/readyz')).body, 'shutting down\n');
  assert.equal((await httpGet(port, '/livez')).status, 200, 'still alive');
  assert.equal((await httpGet(port, '/work')).body, 'app /work', 'new connections still served');
  await done;
  assert.ok(Date.now() - started >= 390, `shut down after ${Date.now() - started} ms`);
  await assert.rejects(httpGet(port, '/work'), /ECONNREFUSED/);
});

test('restartWorkers() with one worker rejects with a UsageError', async (t) => {
  const server = await start(app);
  t.after(() => server.shutdown());
  await assert.rejects(server.restartWorkers(), { name: 'UsageError', code: 'ERR_PEREGRINE_CANNOT_RESTART' });
});
