import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fromBunOptions } from '../../src/fetch/bun-options.ts';
import { ConfigError, serve } from '../../src/index.ts';
import { exchange } from '../helpers.ts';
import { startFetch as start } from './util.ts';

test("Bun.serve's server options: each stands for Peregrine's, or is accepted, or refused clearly", () => {
  assert.deepEqual(fromBunOptions({ hostname: '::1', maxRequestBodySize: 10, idleTimeout: 2.5, port: 1 }), {
    host: '::1',
    maxBodyBytes: 10,
    keepAliveTimeout: 2500,
    port: 1,
  });
  // Accepted, with nothing to do.
  assert.deepEqual(fromBunOptions({ development: true, reusePort: true, id: 'app' }), {});
  assert.deepEqual(fromBunOptions({ development: { hmr: false }, id: null }), {});
  // Both names for one thing.
  assert.throws(() => fromBunOptions({ hostname: 'a', host: 'b' }), /give 'hostname' or 'host', not both/);
  assert.throws(() => fromBunOptions({ maxRequestBodySize: 1, maxBodyBytes: 2 }), ConfigError);
  assert.throws(() => fromBunOptions({ idleTimeout: 1, keepAliveTimeout: 2 }), ConfigError);
  // Wrong types.
  assert.throws(() => fromBunOptions({ idleTimeout: -1 }), /'idleTimeout' must be a number of seconds/);
  assert.throws(() => fromBunOptions({ development: 'yes' } as never), ConfigError);
  assert.throws(() => fromBunOptions({ reusePort: 1 } as never), ConfigError);
  // What Peregrine lacks is refused, saying what to do.
  // Bun's tls option has Peregrine's shape: passed through.
  const tls = { cert: 'cert.pem', key: 'key.pem', serverName: 'example.com' };
  assert.equal(fromBunOptions({ tls }).tls, tls);
  assert.throws(() => fromBunOptions({ unix: '/tmp/s' } as never), /Unix socket/);
});

test('a Bun program with Bun-only options starts, and the options take effect', {
  timeout: 20_000,
}, async (t) => {
  const h = await start(t, {
    development: true,
    reusePort: true,
    maxRequestBodySize: 100,
    idleTimeout: 0.2,
    async fetch(request) {
      return new Response(`got ${(await request.text()).length}`);
    },
  });
  const small = await fetch(h.url('/'), { method: 'POST', body: 'x'.repeat(100) });
  assert.equal(await small.text(), 'got 100');
  const big = await fetch(h.url('/'), { method: 'POST', body: 'x'.repeat(101) });
  assert.equal(big.status, 413);
  // idleTimeout: the keep-alive connection is closed once idle that long.
  const started = Date.now();
  const answer = await exchange(h.server.port, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n', 5000);
  assert.match(answer, /^HTTP\/1\.1 200 /);
  assert.ok(Date.now() - started < 3000, `closed after ${Date.now() - started} ms`);
  await assert.rejects(
    serve({ fetch: () => new Response(''), tls: { cert: '', key: '' } } as never),
    /option 'tls\.cert' must be PEM contents/,
  );
});
