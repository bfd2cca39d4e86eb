import assert from 'node:assert/strict';
import { once } from 'node:events';
import { test } from 'node:test';
import type { Request } from '../../src/index.ts';
import { parseResponses } from '../helpers.ts';
import { delay, gate, get, post, setup } from './util.ts';

test('req.remoteAddress and req.remotePort name the client', async (t) => {
  const h = await setup(t, (req, res) => res.end(`${req.remoteAddress} ${req.remotePort}`));
  const client = await h.client();
  client.send(get('/'));
  const [r] = await client.responses(1);
  assert.equal(r!.body, `127.0.0.1 ${client.socket.localPort}`);
});

for (const how of ['closes', 'resets'] as const) {
  test(`req.signal aborts when the client ${how} the connection mid-handler`, async (t) => {
    const started = gate();
    const outcome = gate<string>();
    const h = await setup(t, async (req, _res) => {
      const signal = req.signal;
      started.open();
      const timer = setTimeout(() => outcome.open('not aborted within 3 s'), 3000);
      await once(signal, 'abort');
      clearTimeout(timer);
      outcome.open(`aborted: ${(signal.reason as Error).message}`);
      signal.throwIfAborted(); // the usual way a handler gives up
    });
    const client = await h.client();
    client.send(get('/'));
    await started.promise;
    if (how === 'closes') client.socket.destroy();
    else client.socket.resetAndDestroy();
    assert.equal(await outcome.promise, 'aborted: the client closed the connection');
    await delay(10);
    assert.deepEqual(h.errors, [], 'the abort a disconnect causes is not reported as a handler error');
  });
}

test('req.signal asked for after the client went away is already aborted', async (t) => {
  const outcome = gate<boolean>();
  const started = gate();
  const h = await setup(t, async (req, res) => {
    started.open();
    await delay(100);
    outcome.open(req.signal.aborted);
    res.end();
  });
  const client = await h.client();
  client.send(get('/'));
  await started.promise;
  client.close();
  assert.equal(await outcome.promise, true);
});

test('req.signal does not abort for a request that completes normally', async (t) => {
  const signals: AbortSignal[] = [];
  const h = await setup(t, async (req, res) => {
    signals.push(req.signal);
    await delay(1);
    res.end(req.path);
  });
  const client = await h.client();
  client.send(get('/1') + get('/2'));
  await client.responses(2);
  client.close();
  await delay(20);
  assert.equal(signals.length, 2);
  assert.ok(signals.every((s) => !s.aborted));
});

function describeRequest(req: Request): string {
  return JSON.stringify({
    method: req.method,
    version: req.version,
    target: req.target,
    path: req.path,
    query: [...req.query],
    id: req.header('x-id'),
    headers: [...req.headers()],
  });
}

test('a request stays fully readable across awaits while other requests are parsed', async (t) => {
  const h = await setup(t, async (req, res) => {
    const before = describeRequest(req);
    for (let i = 0; i < 3; i++) await delay(5);
    const body = req.hasBody ? await req.text() : '';
    await delay(5);
    const after = describeRequest(req);
    res.end(before === after ? `${after} ${body}` : `CHANGED ${before} -> ${after}`);
  });
  const expected = (method: string, path: string, id: string) =>
    JSON.stringify({
      method,
      version: '1.1',
      target: `${path}?id=${id}`,
      path,
      query: [['id', id]],
      id,
      headers: [
        ['Host', 'x'],
        ['X-Id', id],
      ],
    });
  // Several connections at once, each with a request held in the buffer behind the one in flight
  // and more arriving in separate writes (which may reuse or grow the read buffer).
  const clients = await Promise.all([1, 2, 3, 4].map(() => h.client()));
  clients.forEach((c, n) => {
    c.send(get(`/a${n}?id=${n}-1`, `X-Id: ${n}-1`) + get(`/b${n}?id=${n}-2`, `X-Id: ${n}-2`));
  });
  await delay(3);
  clients.forEach((c, n) => {
    c.send(get(`/c${n}?id=${n}-3`, `X-Id: ${n}-3`));
  });
  await delay(3);
  clients.forEach((c, n) => {
    const id = `${n}-4`;
    c.send(`PUT /d${n}?id=${id} HTTP/1.1\r\nHost: x\r\nX-Id: ${id}\r\nContent-Length: 4\r\n\r\nbody`);
  });
  await Promise.all(clients.map((c) => c.responses(4)));
  clients.forEach((c, n) => {
    const bodies = parseResponses(c.text).map((r) => r.body);
    assert.deepEqual(bodies, [
      `${expected('GET', `/a${n}`, `${n}-1`)} `,
      `${expected('GET', `/b${n}`, `${n}-2`)} `,
      `${expected('GET', `/c${n}`, `${n}-3`)} `,
      `${JSON.stringify({
        method: 'PUT',
        version: '1.1',
        target: `/d${n}?id=${n}-4`,
        path: `/d${n}`,
        query: [['id', `${n}-4`]],
        id: `${n}-4`,
        headers: [
          ['Host', 'x'],
          ['X-Id', `${n}-4`],
          ['Content-Length', '4'],
        ],
      })} body`,
    ]);
  });
});

test('a request kept by a handler that finished synchronously is not overwritten while the response is pending', async (t) => {
  // The handler ends later from a timer, without returning a promise.
  const h = await setup(t, (req, res) => {
    setTimeout(() => res.end(`${req.method} ${req.path} ${req.header('x-n')}`), 5);
  });
  const client = await h.client();
  let batch = '';
  for (let i = 0; i < 8; i++) batch += get(`/p${i}`, `X-N: ${i}`);
  client.send(batch);
  const responses = await client.responses(8);
  assert.deepEqual(
    responses.map((r) => r.body),
    Array.from({ length: 8 }, (_, i) => `GET /p${i} ${i}`),
  );
});

test('query parsing and percent-decoding; the path stays as sent', async (t) => {
  const h = await setup(t, (req, res) =>
    res.json({
      path: req.path,
      queryString: req.queryString,
      a: req.query.getAll('a'),
      b: req.query.get('b'),
      c: req.query.get('c'),
      d: req.query.get('d'),
      empty: req.query.get('empty'),
      missing: req.query.get('missing'),
    }),
  );
  const client = await h.client();
  client.send(get('/p%20q/r?a=1&b=hello%20world&c=%E2%82%AC&a=2&d=x+y&empty='));
  client.send(get('/no-query') + get('/bare?'));
  const [r, none, bare] = await client.responses(3);
  assert.deepEqual(JSON.parse(Buffer.from(r!.body, 'latin1').toString('utf8')), {
    path: '/p%20q/r',
    queryString: 'a=1&b=hello%20world&c=%E2%82%AC&a=2&d=x+y&empty=',
    a: ['1', '2'],
    b: 'hello world',
    c: '€',
    d: 'x y',
    empty: '',
    missing: null,
  });
  assert.equal(JSON.parse(none!.body).queryString, '');
  assert.equal(JSON.parse(none!.body).path, '/no-query');
  assert.equal(JSON.parse(bare!.body).queryString, '');
  assert.equal(JSON.parse(bare!.body).path, '/bare');
});

test('an absolute-form target gives the path and query; the target is kept as sent', async (t) => {
  const h = await setup(t, (req, res) =>
    res.end(JSON.stringify([req.target, req.path, req.queryString, req.header('host')])),
  );
  const client = await h.client();
  client.send(
    'GET http://example.com/a/b?x=1 HTTP/1.1\r\nHost: example.com\r\n\r\n' +
      'GET http://example.com HTTP/1.1\r\nHost: example.com\r\n\r\n' +
      'GET https://example.com:8443?y=2 HTTP/1.1\r\nHost: example.com:8443\r\n\r\n',
  );
  const responses = await client.responses(3);
  assert.deepEqual(
    responses.map((r) => JSON.parse(r.body)),
    [
      ['http://example.com/a/b?x=1', '/a/b', 'x=1', 'example.com'],
      ['http://example.com', '/', '', 'example.com'],
      ['https://example.com:8443?y=2', '/', 'y=2', 'example.com:8443'],
    ],
  );
});

test('OPTIONS * and header lookup', async (t) => {
  const h = await setup(t, (req, res) =>
    res.end(
      JSON.stringify([
        req.method,
        req.target,
        req.header('ACCEPT'),
        req.header('cookie'),
        req.header('x-missing') ?? null,
        req.headerCount,
      ]),
    ),
  );
  const client = await h.client();
  client.send(
    'OPTIONS * HTTP/1.1\r\nHost: x\r\nAccept: a\r\naccept: b\r\nCookie: c=1\r\nCookie: d=2\r\n\r\n' +
      post('/p', 'abc', 'Accept: text/plain'),
  );
  const [options, p] = await client.responses(2);
  assert.deepEqual(JSON.parse(options!.body), ['OPTIONS', '*', 'a, b', 'c=1; d=2', null, 5]);
  assert.deepEqual(JSON.parse(p!.body), ['POST', '/p', 'text/plain', null, null, 3]);
});

test('paths alike in length or bytes are each read as sent', async (t) => {
  const h = await setup(t, (req, res) => res.end(req.path));
  const client = await h.client();
  const paths = ['/ab', '/ab', '/ac', '/ab', '/abc', '/a%62', `/${'x'.repeat(63)}`, `/${'x'.repeat(63)}`];
  paths.push(`/${'x'.repeat(62)}y`, `/${'x'.repeat(70)}`, `/${'x'.repeat(69)}y`, '/ab?q=1');
  client.send(paths.map((path) => get(path)).join(''));
  const responses = await client.responses(paths.length);
  assert.deepEqual(
    responses.map((r) => r.body),
    paths.map((path) => path.split('?')[0]),
  );
});
