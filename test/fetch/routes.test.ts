import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { fixRoutes, Router } from '../../src/fetch/routes.ts';
import { ConfigError, serve } from '../../src/index.ts';
import { exchange } from '../helpers.ts';
import { startFetch as start } from './util.ts';

describe('Router', () => {
  const names = (routes: string[]) =>
    Object.fromEntries(routes.map((r) => [r, new Map([['*', () => new Response(r)]])]));

  test('the most specific route wins, whatever the order given', () => {
    const router = new Router(
      names(['/files/*', '/users/:id', '/users/new', '/*', '/users/:id/posts/:post', '/a/:x/c', '/a/b/:y']),
    );
    const route = (path: string) => {
      const m = router.match('GET', path);
      return m.kind === 'found' ? JSON.stringify(m.params) : m.kind;
    };
    assert.equal(route('/users/new'), '{}');
    assert.equal(route('/users/42'), '{"id":"42"}');
    assert.equal(route('/users/a%20b'), '{"id":"a b"}');
    assert.equal(route('/users/%E0%A4%A'), '{"id":"%E0%A4%A"}'); // a bad escape is kept as sent
    assert.equal(route('/users/7/posts/9'), '{"id":"7","post":"9"}');
    assert.equal(route('/a/b/c'), '{"y":"c"}'); // a literal earlier wins
    assert.equal(route('/files/x/y.txt'), '{}');
    assert.equal(route('/users/'), '{}'); // an empty param does not match: the catch-all takes it
    assert.equal(route('/anything'), '{}'); // the catch-all
    const none = new Router(names(['/only']));
    assert.equal(none.match('GET', '/other').kind, 'none');
  });

  test('methods: per method, HEAD served by GET, 405 with Allow otherwise', async () => {
    const ok = () => new Response('ok');
    const router = new Router(await fixRoutes({ '/r': { GET: ok, POST: ok } }));
    assert.equal(router.match('HEAD', '/r').kind, 'found');
    const refused = router.match('DELETE', '/r');
    assert.deepEqual(refused, { kind: 'method', allow: 'GET, POST, HEAD' });
  });

  test('bad routes are ConfigErrors', async () => {
    for (const routes of [
      { nope: () => new Response() },
      { '/a/:1': () => new Response() },
      { '/a*': () => new Response() },
    ]) {
      assert.throws(
        () => new Router(names(Object.keys(routes))),
        ConfigError,
        JSON.stringify(Object.keys(routes)),
      );
    }
    for (const routes of [
      null,
      5,
      { '/a': 5 },
      { '/a': { get: () => new Response() } },
      { '/a': { GET: 'x' } },
    ]) {
      await assert.rejects(fixRoutes(routes), ConfigError, JSON.stringify(routes));
    }
  });
});

describe('routes in fetch mode', () => {
  test('static Responses, handlers with params, methods, and fetch for the rest', {
    timeout: 20_000,
  }, async (t) => {
    let made = 0;
    const h = await start(t, {
      routes: {
        '/health': new Response('ok', { headers: { 'X-Static': 'yes' } }),
        '/users/:id': (request) => Response.json({ id: request.params.id, url: request.url }),
        '/items': {
          GET: () => new Response('list'),
          POST: async (request) => new Response(`made ${await request.text()}`, { status: 201 }),
        },
        '/static/*': new Response('any static'),
      },
      fetch(request) {
        made++;
        return new Response(`fetch ${new URL(request.url).pathname}`, { status: 404 });
      },
    });
    for (let i = 0; i < 3; i++) {
      const health = await fetch(h.url('/health'));
      assert.equal(health.headers.get('x-static'), 'yes');
      assert.equal(await health.text(), 'ok'); // the same bytes every time
    }
    assert.deepEqual(await (await fetch(h.url('/users/j%C3%B6rg'))).json(), {
      id: 'jörg',
      url: h.url('/users/j%C3%B6rg'),
    });
    assert.equal(await (await fetch(h.url('/items'))).text(), 'list');
    const posted = await fetch(h.url('/items'), { method: 'POST', body: 'x' });
    assert.equal(posted.status, 201);
    assert.equal(await posted.text(), 'made x');
    assert.equal(await (await fetch(h.url('/static/a/b'))).text(), 'any static');
    const other = await fetch(h.url('/nowhere?q=1'));
    assert.equal(other.status, 404);
    assert.equal(await other.text(), 'fetch /nowhere');
    // A method no route takes goes to fetch too, when there is one.
    assert.equal(await (await fetch(h.url('/items'), { method: 'DELETE' })).text(), 'fetch /items');
    assert.equal(made, 2);
  });

  test('without fetch: 404 for no route, 405 with Allow for a method no route takes', {
    timeout: 20_000,
  }, async (t) => {
    const h = await start(t, { routes: { '/only': { GET: () => new Response('yes') } } });
    const port = h.server.port;
    assert.match(
      await exchange(port, 'GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'),
      /^HTTP\/1\.1 404 /,
    );
    const refused = await exchange(
      port,
      'PUT /only HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n',
    );
    assert.match(refused, /^HTTP\/1\.1 405 /);
    assert.match(refused, /\r\nallow: GET, HEAD\r\n/i);
    const head = await exchange(port, 'HEAD /only HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    assert.match(head, /^HTTP\/1\.1 200 /);
    assert.match(head, /\r\ncontent-length: 3\r\n/i);
  });

  test('a bad route fails serve() with a ConfigError', async () => {
    await assert.rejects(
      serve({
        routes: { 'no-slash': new Response('x') },
        port: 0,
        workers: 1,
        log: false,
        handleSignals: false,
      }),
      ConfigError,
    );
  });
});
