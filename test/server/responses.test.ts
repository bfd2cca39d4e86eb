import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect } from 'node:net';
import { test } from 'node:test';
import { HttpError, type Request, type Response, UsageError } from '../../src/index.ts';
import { parseResponses } from '../helpers.ts';
import { delay, gate, get, isClosed, serverClosed, setup } from './util.ts';

test('status codes and their status lines', async (t) => {
  const h = await setup(t, (req, res) => {
    res.status = Number(req.path.slice(1));
    res.end('body');
  });
  const client = await h.client();
  client.send(get('/201') + get('/404') + get('/418') + get('/599') + get('/302'));
  await client.responses(5);
  const lines = parseResponses(client.text).map((r) => r.raw.slice(0, r.raw.indexOf('\r\n')));
  assert.deepEqual(lines, [
    'HTTP/1.1 201 Created',
    'HTTP/1.1 404 Not Found',
    'HTTP/1.1 418 Unknown',
    'HTTP/1.1 599 Unknown',
    'HTTP/1.1 302 Found',
  ]);
});

test('an invalid status code is a handler error: 500', async (t) => {
  const h = await setup(t, (req, res) => {
    res.status = req.path === '/99' ? 99 : req.path === '/1000' ? 1000 : 200.5;
    res.end('nope');
  });
  const client = await h.client();
  client.send(get('/99') + get('/1000') + get('/frac'));
  const responses = await client.responses(3);
  assert.deepEqual(
    responses.map((r) => r.status),
    [500, 500, 500],
  );
  assert.ok(h.errors.every((e) => e instanceof UsageError && e.code === 'ERR_PEREGRINE_INVALID_STATUS'));
  assert.equal(h.errors.length, 3);
});

test('setHeader, appendHeader, getHeader and removeHeader', async (t) => {
  const seen: unknown[] = [];
  const h = await setup(t, (_req, res) => {
    res.setHeader('X-One', 'a');
    res.setHeader('x-one', 'b'); // replaces, case-insensitively
    res.appendHeader('Set-Cookie', 'a=1');
    res.appendHeader('set-cookie', 'b=2');
    res.setHeader('X-Number', 42);
    res.setHeader('X-Gone', '1');
    res.appendHeader('X-Gone', '2');
    res.removeHeader('x-gone');
    seen.push(
      res.getHeader('X-ONE'),
      res.getHeader('Set-Cookie'),
      res.getHeader('x-gone'),
      res.getHeader('nope'),
    );
    res.end('ok');
  });
  const client = await h.client();
  client.send(get('/'));
  const [r] = await client.responses(1);
  assert.deepEqual(seen, ['b', 'a=1', undefined, undefined]);
  const lines = r!.raw.split('\r\n');
  assert.ok(lines.includes('x-one: b'));
  assert.ok(!lines.some((l) => /^x-one: a/i.test(l)));
  assert.deepEqual(
    lines.filter((l) => /^set-cookie:/i.test(l)),
    ['Set-Cookie: a=1', 'set-cookie: b=2'],
  );
  assert.ok(lines.includes('X-Number: 42'));
  assert.ok(!lines.some((l) => /^x-gone/i.test(l)));
});

const injections: [string, (res: Response) => void][] = [
  ['CRLF in a value', (res) => res.setHeader('X-A', 'ok\r\nInjected: yes')],
  ['LF in a value', (res) => res.setHeader('X-A', 'ok\nInjected: yes')],
  ['CR in a value', (res) => res.appendHeader('X-A', 'ok\rInjected: yes')],
  ['NUL in a value', (res) => res.setHeader('X-A', 'ok\0')],
  ['CRLF in a name', (res) => res.setHeader('X-A\r\nInjected', 'yes')],
  ['a colon in a name', (res) => res.setHeader('Injected: yes\r\nX', 'v')],
  ['an empty name', (res) => res.setHeader('', 'v')],
  ['a space in a name', (res) => res.appendHeader('X A', 'v')],
];

for (const [what, attempt] of injections) {
  test(`header injection (${what}) throws a UsageError and the client gets a 500`, async (t) => {
    const thrown: unknown[] = [];
    const h = await setup(t, (_req, res) => {
      try {
        attempt(res);
      } catch (error) {
        thrown.push(error);
        throw error;
      }
      res.end('should not be sent');
    });
    const client = await h.client();
    client.send(get('/'));
    const [r] = await client.responses(1);
    assert.equal(r!.status, 500);
    assert.ok(!/injected/i.test(client.text), client.text);
    assert.ok(thrown[0] instanceof UsageError);
    assert.equal(thrown[0].code, 'ERR_PEREGRINE_INVALID_HEADER');
    // The connection keeps serving.
    client.send(get('/'));
    const both = await client.responses(2);
    assert.equal(both[1]!.status, 500);
  });
}

test('Transfer-Encoding cannot be set by the handler', async (t) => {
  const thrown: unknown[] = [];
  const h = await setup(t, (_req, res) => {
    try {
      res.setHeader('Transfer-Encoding', 'chunked');
    } catch (error) {
      thrown.push(error);
    }
    res.end('fine');
  });
  const client = await h.client();
  client.send(get('/'));
  const [r] = await client.responses(1);
  assert.equal(r!.headers.get('transfer-encoding'), undefined);
  assert.equal(r!.body, 'fine');
  assert.ok(thrown[0] instanceof UsageError);
  assert.equal(thrown[0].code, 'ERR_PEREGRINE_MANAGED_HEADER');
});

const IMF_FIXDATE =
  /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} GMT$/;

test('every response has one Date header in IMF-fixdate format with the current time', async (t) => {
  const h = await setup(t, (req, res) => {
    if (req.path === '/custom') res.setHeader('date', 'Sun, 06 Nov 1994 08:49:37 GMT');
    res.end('x');
  });
  const client = await h.client();
  client.send(get('/') + get('/custom'));
  const [r, custom] = await client.responses(2);
  const date = r!.headers.get('date')!;
  assert.match(date, IMF_FIXDATE);
  assert.ok(Math.abs(Date.parse(date) - Date.now()) < 5000, date);
  // A handler's own Date replaces the automatic one.
  assert.equal(custom!.headers.get('date'), 'Sun, 06 Nov 1994 08:49:37 GMT');
  assert.equal(custom!.raw.match(/^date:/gim)!.length, 1);
});

test('Content-Length counts bytes, not characters', async (t) => {
  const body = 'héllo wörld €10 😀';
  const h = await setup(t, (req, res) => {
    if (req.path === '/bytes') res.end(Buffer.from(body));
    else res.end(body);
  });
  const client = await h.client();
  client.send(get('/string') + get('/bytes'));
  const responses = await client.responses(2);
  for (const r of responses) {
    assert.equal(r.headers.get('content-length'), String(Buffer.byteLength(body)));
    assert.equal(Buffer.from(r.body, 'latin1').toString('utf8'), body);
  }
});

test('a long string body is sent whole', async (t) => {
  const body = `${'ü'.repeat(50_000)}end`;
  const h = await setup(t, (_req, res) => res.end(body));
  const client = await h.client();
  client.send(get('/') + get('/'));
  const responses = await client.responses(2);
  for (const r of responses) {
    assert.equal(r.headers.get('content-length'), String(Buffer.byteLength(body)));
    assert.equal(Buffer.from(r.body, 'latin1').toString('utf8'), body);
  }
});

test('HEAD gets the headers and Content-Length of GET but no body', async (t) => {
  const h = await setup(t, (req, res) => {
    res.setHeader('Content-Type', 'text/plain');
    if (req.path === '/stream') {
      res.write('streamed ');
      res.end('body');
    } else res.end('the body of a GET');
  });
  const client = await h.client();
  client.send('HEAD / HTTP/1.1\r\nHost: x\r\n\r\n');
  await client.until((text) => text.endsWith('\r\n\r\n'));
  const head = parseResponses(client.text, 1)[0]!;
  assert.equal(head.status, 200);
  assert.equal(head.headers.get('content-length'), '17');
  assert.equal(head.headers.get('content-type'), 'text/plain');
  assert.equal(head.body, '');
  // Nothing follows the head: the next response starts right after it.
  client.send('HEAD /stream HTTP/1.1\r\nHost: x\r\n\r\n' + get('/'));
  await client.until((text) => text.split('HTTP/1.1 200').length === 4 && text.endsWith('GET'));
  const parts = client.text.split(/(?=HTTP\/1\.1 )/);
  assert.equal(parts.length, 3);
  assert.ok(parts[0]!.endsWith('\r\n\r\n'));
  assert.ok(parts[1]!.endsWith('\r\n\r\n'), parts[1]);
  assert.ok(parts[2]!.endsWith('\r\n\r\nthe body of a GET'));
});

test('204 and 304 carry no body and no Content-Length', async (t) => {
  const h = await setup(t, (req, res) => {
    res.status = Number(req.path.slice(1));
    if (req.path === '/304') res.setHeader('ETag', '"abc"');
    res.end('this must not be sent');
  });
  const client = await h.client();
  client.send(get('/204') + get('/304') + get('/200'));
  const responses = await client.responses(3);
  assert.deepEqual(
    responses.map((r) => [
      r.status,
      r.body,
      r.headers.get('content-length'),
      r.headers.get('transfer-encoding'),
    ]),
    [
      [204, '', undefined, undefined],
      [304, '', undefined, undefined],
      [200, 'this must not be sent', '21', undefined],
    ],
  );
  assert.equal(responses[1]!.headers.get('etag'), '"abc"');
  assert.equal(client.text.split('this must not be sent').length, 2);
});

test('a 304 may carry the Content-Length of the representation it stands for', async (t) => {
  const h = await setup(t, (_req, res) => {
    res.status = 304;
    res.setHeader('ETag', '"v1"');
    res.setHeader('Content-Length', 1234);
    res.end();
  });
  const client = await h.client();
  client.send(get('/') + get('/'));
  const responses = await client.responses(2);
  assert.deepEqual(
    responses.map((r) => [r.status, r.body, r.headers.get('etag')]),
    [
      [304, '', '"v1"'],
      [304, '', '"v1"'],
    ],
  );
  assert.deepEqual(h.errors, []);
});

test('a streamed 204 sends no body and no chunked framing', async (t) => {
  const h = await setup(t, (req, res) => {
    res.status = 204;
    if (req.path === '/stream') {
      res.write('nope');
      res.end();
    } else res.end();
  });
  const client = await h.client();
  client.send(get('/stream') + get('/plain'));
  const responses = await client.responses(2);
  assert.deepEqual(
    responses.map((r) => [r.status, r.headers.get('transfer-encoding')]),
    [
      [204, undefined],
      [204, undefined],
    ],
  );
  assert.ok(!client.text.includes('nope'));
});

test('res.json() sends JSON with its Content-Type', async (t) => {
  const h = await setup(t, (req, res) => {
    if (req.path === '/typed') res.setHeader('Content-Type', 'application/vnd.x+json');
    res.json({ ok: true, list: [1, 'two'], nested: { u: 'ü' } });
  });
  const client = await h.client();
  client.send(get('/') + get('/typed'));
  const [r, typed] = await client.responses(2);
  assert.equal(r!.headers.get('content-type'), 'application/json; charset=utf-8');
  assert.deepEqual(JSON.parse(Buffer.from(r!.body, 'latin1').toString('utf8')), {
    ok: true,
    list: [1, 'two'],
    nested: { u: 'ü' },
  });
  assert.equal(typed!.headers.get('content-type'), 'application/vnd.x+json');
});

test('streaming with write() uses chunked framing, chunk by chunk', async (t) => {
  const h = await setup(t, async (_req, res) => {
    res.write('hello');
    await delay(5);
    res.write(Buffer.from(' wörld'));
    res.write('');
    await delay(5);
    res.end('!');
  });
  const client = await h.client();
  client.send(get('/'));
  const [r] = await client.responses(1);
  assert.equal(r!.headers.get('transfer-encoding'), 'chunked');
  assert.equal(r!.headers.get('content-length'), undefined);
  const body = r!.raw.slice(r!.raw.indexOf('\r\n\r\n') + 4);
  assert.equal(body, '5\r\nhello\r\n7\r\n w\xc3\xb6rld\r\n1\r\n!\r\n0\r\n\r\n');
  client.send(get('/'));
  await client.responses(2);
  assert.equal(isClosed(client), false);
});

test('the head goes out with the first write, even an empty one', async (t) => {
  const proceed = gate();
  const h = await setup(t, async (_req, res) => {
    await delay(1);
    res.setHeader('X-Early', '1');
    res.write('');
    await proceed.promise;
    res.end('later');
  });
  const client = await h.client();
  client.send(get('/'));
  await client.until((text) => text.includes('\r\n\r\n'), 1000);
  assert.match(client.text, /^HTTP\/1\.1 200 OK\r\n/);
  assert.ok(client.text.includes('X-Early: 1'));
  proceed.open();
  const [r] = await client.responses(1);
  assert.equal(r!.body, 'later');
});

test('streaming with a declared Content-Length sends an identity body', async (t) => {
  const h = await setup(t, async (_req, res) => {
    res.setHeader('Content-Length', 11);
    res.write('hello ');
    await delay(2);
    res.end('world');
  });
  const client = await h.client();
  client.send(get('/') + get('/'));
  const responses = await client.responses(2);
  for (const r of responses) {
    assert.equal(r.headers.get('content-length'), '11');
    assert.equal(r.headers.get('transfer-encoding'), undefined);
    assert.equal(r.body, 'hello world');
  }
  assert.ok(client.text.endsWith('\r\n\r\nhello world'));
});

test('streaming fewer bytes than the declared Content-Length closes the connection', async (t) => {
  const h = await setup(t, (_req, res) => {
    res.setHeader('Content-Length', 100);
    res.write('short');
    res.end();
  });
  const client = await h.client();
  client.send(get('/') + get('/next'));
  await serverClosed(client);
  // Cut off (by a reset, not a FIN that could pass for the end of a body): never a complete response.
  assert.equal(parseResponses(client.text).length, 0, client.text);
  assert.match((h.errors[0] as Error).message, /less than the Content-Length of 100/);
});

test('end() with a body that contradicts the declared Content-Length is a 500', async (t) => {
  const h = await setup(t, (_req, res) => {
    res.setHeader('Content-Length', 10);
    res.end('abc');
  });
  const client = await h.client();
  client.send(get('/'));
  const [r] = await client.responses(1);
  assert.equal(r!.status, 500);
});

test('HTTP/1.0 streaming is close-delimited', async (t) => {
  const h = await setup(t, async (_req, res) => {
    res.write('part one, ');
    await delay(2);
    res.end('part two');
  });
  const client = await h.client();
  client.send('GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n');
  await serverClosed(client);
  const [r] = parseResponses(client.text);
  assert.equal(r!.headers.get('transfer-encoding'), undefined);
  assert.equal(r!.headers.get('content-length'), undefined);
  assert.equal(r!.headers.get('connection'), 'close');
  assert.equal(r!.body, 'part one, part two');
});

test('write() returns false under backpressure and waitForDrain() holds the writer until the client reads', async (t) => {
  const total = 24 * 1024 * 1024;
  let written = 0;
  let refused = 0;
  const h = await setup(t, async (_req, res) => {
    res.setHeader('Content-Length', total + 3);
    const piece = Buffer.alloc(64 * 1024, 'a');
    while (written < total) {
      written += piece.length;
      if (!res.write(piece)) {
        refused++;
        await res.waitForDrain();
      }
    }
    res.end('END');
  });
  // A client that doesn't read at first, then counts bytes (no buffering of 24 MiB in the test).
  const socket = connect({ port: h.port, host: '127.0.0.1' });
  t.after(() => socket.destroy());
  await once(socket, 'connect');
  socket.pause();
  socket.write(get('/'));
  await delay(300);
  const writtenWhilePaused = written;
  assert.ok(refused > 0, 'write() never returned false');
  assert.ok(
    writtenWhilePaused < total,
    `the handler wrote all ${total} bytes while the client read nothing: waitForDrain() did not wait`,
  );
  let received = 0;
  let tail = '';
  socket.on('data', (chunk: Buffer) => {
    received += chunk.length;
    tail = (tail + chunk.toString('latin1', Math.max(0, chunk.length - 8))).slice(-8);
  });
  socket.resume();
  const headBytes = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`stalled at ${received} bytes`)), 10_000);
    socket.on('data', () => {
      if (tail.endsWith('aaaaaEND')) {
        clearTimeout(timer);
        resolve(received - total - 3);
      }
    });
  });
  assert.ok(headBytes > 0 && headBytes < 200, `head of ${headBytes} bytes`);
  t.diagnostic(
    `${writtenWhilePaused} of ${total} bytes written while the client was paused; ${refused} refusals`,
  );
});

test('a handler that throws synchronously gets a 500 and the connection keeps serving', async (t) => {
  const h = await setup(t, (req, res) => {
    if (req.path === '/throw') throw new Error('boom');
    res.end('fine');
  });
  const client = await h.client();
  client.send(get('/throw') + get('/ok'));
  const [r, next] = await client.responses(2);
  assert.equal(r!.status, 500);
  assert.equal(r!.headers.get('connection'), undefined);
  assert.equal(Number(r!.headers.get('content-length')), r!.body.length);
  assert.equal(next!.status, 200);
  assert.equal(next!.body, 'fine');
  assert.equal((h.errors[0] as Error).message, 'boom');
});

test('headers set before a throw are not sent with the 500', async (t) => {
  const h = await setup(t, (_req, res) => {
    res.setHeader('X-Secret', 'leak');
    res.status = 201;
    throw new Error('boom');
  });
  const client = await h.client();
  client.send(get('/'));
  const [r] = await client.responses(1);
  assert.equal(r!.status, 500);
  assert.equal(r!.headers.get('x-secret'), undefined);
});

test('an async handler that rejects gets a 500', async (t) => {
  const h = await setup(t, async (_req, res) => {
    res.setHeader('X-Before', '1');
    await delay(2);
    throw new Error('async boom');
  });
  const client = await h.client();
  client.send(get('/') + get('/'));
  const responses = await client.responses(2);
  assert.deepEqual(
    responses.map((r) => r.status),
    [500, 500],
  );
  assert.equal(h.errors.length, 2);
});

test('throwing an HttpError answers with its status and is not reported as a server error', async (t) => {
  const h = await setup(t, async (req, _res) => {
    if (req.path === '/sync') throw new HttpError(404, 'no such thing');
    await delay(1);
    if (req.path === '/close') throw new HttpError(403, 'go away', { close: true });
    throw new HttpError(503, 'later');
  });
  const client = await h.client();
  client.send(get('/sync') + get('/async') + get('/close'));
  await serverClosed(client);
  const responses = parseResponses(client.text);
  assert.deepEqual(
    responses.map((r) => [r.status, r.headers.get('connection')]),
    [
      [404, undefined],
      [503, undefined],
      [403, 'close'],
    ],
  );
  assert.equal(responses[0]!.body, '404 Not Found\n');
  // Only the 5xx is reported.
  assert.equal(h.errors.length, 1);
  assert.equal((h.errors[0] as HttpError).status, 503);
});

test('an error after the head was sent closes the connection (sync)', async (t) => {
  const h = await setup(t, (_req, res) => {
    res.write('partial');
    throw new Error('mid-stream');
  });
  const client = await h.client();
  client.send(get('/') + get('/next'));
  await serverClosed(client);
  assert.ok(client.text.split('HTTP/1.1 ').length <= 2, 'at most the one response started');
  assert.equal(parseResponses(client.text).length, 0, 'the response must not parse as complete');
  assert.equal((h.errors[0] as Error).message, 'mid-stream');
});

test('an error after the head was sent closes the connection (async)', async (t) => {
  const h = await setup(t, async (_req, res) => {
    res.write('partial');
    await delay(5);
    throw new Error('mid-stream');
  });
  const client = await h.client();
  client.send(get('/'));
  await client.until((text) => text.includes('partial'));
  await serverClosed(client);
  assert.ok(!client.text.includes('0\r\n\r\n'));
  assert.equal(parseResponses(client.text).length, 0, 'the response must not parse as complete');
});

test('an async handler that resolves without end() gets an empty response with its status', async (t) => {
  const h = await setup(t, async (req: Request, res: Response) => {
    await delay(1);
    if (req.path === '/202') {
      res.status = 202;
      res.setHeader('X-Kept', 'yes');
    }
  });
  const client = await h.client();
  client.send(get('/') + get('/202'));
  const [r, accepted] = await client.responses(2);
  assert.equal(r!.status, 200);
  assert.equal(r!.headers.get('content-length'), '0');
  assert.equal(r!.body, '');
  assert.equal(accepted!.status, 202);
  assert.equal(accepted!.headers.get('x-kept'), 'yes');
});

test('ending a response twice is a handler error but the first response stands', async (t) => {
  const h = await setup(t, (_req, res) => {
    res.end('first');
    res.end('second');
  });
  const client = await h.client();
  client.send(get('/') + get('/'));
  const responses = await client.responses(2);
  assert.deepEqual(
    responses.map((r) => r.body),
    ['first', 'first'],
  );
  assert.equal(h.errors.length, 2);
  assert.equal((h.errors[0] as Error).message, 'the response has already ended');
});

test('removing a header in the middle keeps the others in order; the next response on the connection starts empty', async (t) => {
  let n = 0;
  const h = await setup(t, (_req, res) => {
    if (n++ === 0) {
      res.setHeader('X-A', '1');
      res.setHeader('X-B', '2');
      res.appendHeader('X-C', '3');
      res.appendHeader('X-B', '4');
      res.setHeader('X-D', '5');
      res.removeHeader('x-b');
    } else {
      res.setHeader('X-E', '6');
    }
    res.end(n === 1 ? 'first' : 'é'); // a short non-ASCII body: its UTF-8 size, not its length
  });
  const client = await h.client();
  client.send(get('/') + get('/'));
  const [first, second] = await client.responses(2);
  const names = (raw: string) =>
    raw
      .split('\r\n')
      .filter((l) => l.startsWith('X-'))
      .map((l) => l.split(':')[0]);
  assert.deepEqual(names(first!.raw), ['X-A', 'X-C', 'X-D']);
  assert.deepEqual(names(second!.raw), ['X-E']);
  assert.equal(second!.headers.get('content-length'), '2');
  assert.equal(Buffer.from(second!.body, 'latin1').toString('utf8'), 'é');
});

test('a header name or value checked once vouches for no other string of its length', async (t) => {
  const thrown: unknown[] = [];
  const h = await setup(t, (_req, res) => {
    res.setHeader('X-AB', 'okay');
    const attempts = [
      () => res.setHeader('X:AB', 'v'),
      () => res.setHeader('X-AB', 'ok\r\n'),
      () => res.appendHeader('X AB', 'okay'),
      () => res.setHeader('', 'okay'),
    ];
    for (const attempt of attempts) {
      try {
        attempt();
      } catch (error) {
        thrown.push(error);
      }
    }
    res.end('ok');
  });
  const client = await h.client();
  client.send(get('/') + get('/'));
  const responses = await client.responses(2);
  assert.equal(thrown.length, 8);
  assert.ok(
    thrown.every((error) => error instanceof UsageError && error.code === 'ERR_PEREGRINE_INVALID_HEADER'),
  );
  for (const r of responses) {
    assert.equal(r.headers.get('x-ab'), 'okay');
    assert.equal(r.raw.split('\r\n').filter((line) => /^x.ab/i.test(line)).length, 1);
  }
});

test('responses alike but for one detail each get their own head', async (t) => {
  const h = await setup(t, (req, res) => {
    const [, user, status, body] = req.path.split('/');
    res.status = Number(status);
    res.setHeader('Content-Type', 'text/plain');
    res.setHeader('X-User', user!);
    if (req.header('x-close') !== undefined) res.setHeader('Connection', 'close');
    res.end(body!);
  });
  const client = await h.client();
  const requests = [
    ['/a/200/xx', ''],
    ['/a/200/xx', ''],
    ['/b/200/xx', ''],
    ['/b/404/xx', ''],
    ['/b/404/xxx', ''],
    ['/b/404/xxx', 'X-Close: 1'],
  ] as const;
  client.send(
    requests.map(([path, extra]) => (extra === '' ? get(path) : get(path, extra))).join('') +
      'GET /late/200/x HTTP/1.1\r\nHost: x\r\n\r\n',
  );
  await serverClosed(client);
  const responses = parseResponses(client.text);
  assert.deepEqual(
    responses.map((r) => [r.status, r.headers.get('x-user'), r.body, r.headers.get('connection')]),
    [
      [200, 'a', 'xx', undefined],
      [200, 'a', 'xx', undefined],
      [200, 'b', 'xx', undefined],
      [404, 'b', 'xx', undefined],
      [404, 'b', 'xxx', undefined],
      [404, 'b', 'xxx', 'close'],
    ],
  );

  // HTTP/1.0 keep-alive, then HTTP/1.1 again: each says what its version needs.
  const again = await h.client();
  again.send('GET /c/200/xx HTTP/1.0\r\nConnection: keep-alive\r\n\r\n' + get('/c/200/xx'));
  const [old, current] = await again.responses(2);
  assert.equal(old!.headers.get('connection'), 'keep-alive');
  assert.equal(current!.headers.get('connection'), undefined);
});

test('the Date of a response sent over and over moves on with the clock', async (t) => {
  const h = await setup(t, (_req, res) => {
    res.setHeader('Content-Type', 'text/plain');
    res.end('same');
  });
  const client = await h.client();
  client.send(get('/'));
  const [first] = await client.responses(1);
  await delay(1100);
  client.send(get('/'));
  const [, second] = await client.responses(2);
  assert.notEqual(first!.headers.get('date'), second!.headers.get('date'));
  assert.ok(Date.parse(second!.headers.get('date')!) > Date.parse(first!.headers.get('date')!));
});

test('long string bodies sent again and again, or alike in length, each arrive as they were given', async (t) => {
  const page = (fill: string, length: number) =>
    fill.repeat(Math.ceil(length / fill.length)).slice(0, length);
  const bodies = [
    page('abcdefgh', 6150),
    page('abcdefgX', 6150), // same length, other bytes
    page('é€', 3000), // multi-byte: its UTF-8 size is not its length
    page('0123', 2048),
    page('wxyz', 2048),
    page('k', 1024),
    `${page('abcdefgh', 6149)}Z`, // same length and start as the first
  ];
  const h = await setup(t, (req, res) => {
    res.setHeader('Content-Type', 'text/plain; charset=utf-8');
    res.end(bodies[Number(req.path.slice(1))]!);
  });
  const client = await h.client();
  // Each body three times, interleaved, so that each is sent again after others (and after more
  // bodies than are remembered).
  const order = [0, 1, 0, 2, 2, 3, 4, 5, 6, 0, 1, 2, 3, 4, 5, 6, 6, 0, 1, 3, 4, 5];
  client.send(order.map((i) => get(`/${i}`)).join(''));
  await client.responses(order.length);
  const expected = order.map((i) => Buffer.from(bodies[i]!, 'utf8'));
  const text = client.received;
  let at = 0;
  for (const [n, body] of expected.entries()) {
    const headEnd = text.indexOf('\r\n\r\n', at);
    const head = text.toString('latin1', at, headEnd);
    const length = Number(/content-length: (\d+)/i.exec(head)![1]);
    assert.equal(length, body.length, `response ${n}`);
    assert.ok(text.subarray(headEnd + 4, headEnd + 4 + length).equals(body), `response ${n}`);
    at = headEnd + 4 + length;
  }
  assert.equal(at, text.length);
});

// res.end({ a: 1 }) used to write a head with a literal "undefined" line and wedge the thread's output
// (its cursor became NaN), so later responses on other connections went missing too.
for (const [what, call] of [
  ['end(an object)', (res: Response) => res.end({ a: 1 } as never)],
  ['end(a number)', (res: Response) => res.end(42 as never)],
  ['end(null)', (res: Response) => res.end(null as never)],
  ['end(an ArrayBuffer)', (res: Response) => res.end(new ArrayBuffer(4) as never)],
  ['write(an object)', (res: Response) => res.write({ a: 1 } as never)],
  [
    'write(a number) after a good write',
    (res: Response) => {
      res.write('ok');
      res.write(7 as never);
    },
  ],
] as const) {
  test(`res.${what} throws ERR_PEREGRINE_INVALID_BODY at the call, and other clients are still served`, async (t) => {
    let thrown: unknown;
    const h = await setup(t, (req, res) => {
      if (req.path === '/bad') {
        try {
          call(res);
        } catch (error) {
          thrown = error;
          throw error;
        }
      }
      res.end(`fine ${req.path}`);
    });
    const bad = await h.client();
    const other = await h.client();
    bad.send(get('/bad'));
    const streamed = what.startsWith('write(a number)');
    if (streamed) await serverClosed(bad);
    else {
      const [r] = await bad.responses(1);
      assert.equal(r!.status, 500);
    }
    assert.ok(thrown instanceof UsageError, String(thrown));
    assert.equal(thrown.code, 'ERR_PEREGRINE_INVALID_BODY');
    assert.match((thrown as Error).message, /must be of type string or an instance of Uint8Array/);
    assert.equal(h.errors[0], thrown, 'the mistake is reported to onError');
    // The thread's output is intact: the next responses, here and on another connection, are whole.
    other.send(get('/a') + get('/b'));
    const [a, b] = await other.responses(2);
    assert.equal(a!.body, 'fine /a');
    assert.equal(b!.body, 'fine /b');
    if (!streamed) {
      bad.send(get('/after'));
      const [, after] = await bad.responses(2);
      assert.equal(after!.body, 'fine /after');
    }
  });
}
