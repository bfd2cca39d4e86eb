import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer, type Socket } from 'node:net';
import { test } from 'node:test';
import type { Request, Response } from '../../src/index.ts';
import { parseResponses, RawClient } from '../helpers.ts';
import { delay, gate, get, isClosed, post, postChunked, serverClosed, setup } from './util.ts';

async function reader(kind: 'bytes' | 'text' | 'json', req: Request, res: Response): Promise<void> {
  if (kind === 'bytes') {
    const body = await req.bytes();
    res.end(`${Buffer.isBuffer(body)} ${body.length} ${body.toString('hex')}`);
  } else if (kind === 'text') {
    res.end(`[${await req.text()}]`);
  } else {
    res.json({ got: await req.json() });
  }
}

for (const framing of ['Content-Length', 'chunked'] as const) {
  const send = (body: string) =>
    framing === 'chunked' ? postChunked('/', [body.slice(0, 3), body.slice(3)]) : post('/', body);

  test(`req.bytes() with a ${framing} body`, async (t) => {
    const h = await setup(t, (req, res) => reader('bytes', req, res));
    const client = await h.client();
    client.send(send('h€llo'));
    const [r] = await client.responses(1);
    assert.equal(r!.body, `true 7 ${Buffer.from('h€llo').toString('hex')}`);
  });

  test(`req.text() with a ${framing} body decodes UTF-8`, async (t) => {
    const h = await setup(t, (req, res) => reader('text', req, res));
    const client = await h.client();
    client.send(send('grüße, 世界'));
    const [r] = await client.responses(1);
    assert.equal(Buffer.from(r!.body, 'latin1').toString('utf8'), '[grüße, 世界]');
  });

  test(`req.json() with a ${framing} body`, async (t) => {
    const h = await setup(t, (req, res) => reader('json', req, res));
    const client = await h.client();
    client.send(send('{"a":[1,2,{"b":null}],"c":"d"}'));
    const [r] = await client.responses(1);
    assert.deepEqual(JSON.parse(r!.body), { got: { a: [1, 2, { b: null }], c: 'd' } });
    assert.equal(r!.headers.get('content-type'), 'application/json; charset=utf-8');
  });

  test(`invalid JSON in a ${framing} body is answered with 400 and the connection stays usable`, async (t) => {
    const h = await setup(t, (req, res) => reader('json', req, res));
    const client = await h.client();
    client.send(send('{"a": nope}'));
    const [r] = await client.responses(1);
    assert.equal(r!.status, 400);
    assert.equal(r!.headers.get('connection'), undefined);
    assert.equal(h.errors.length, 0, 'a 4xx HttpError is not reported to onError');
    client.send(send('[1]'));
    const both = await client.responses(2);
    assert.equal(both[1]!.status, 200);
  });
}

test('a Content-Length over maxBodyBytes is answered with 413 before the handler runs', async (t) => {
  let calls = 0;
  const h = await setup(
    t,
    (_req, res) => {
      calls++;
      res.end('handled');
    },
    { maxBodyBytes: 100 },
  );
  const client = await h.client();
  client.send(`POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 101\r\n\r\n`);
  await serverClosed(client);
  const [r] = parseResponses(client.text);
  assert.equal(r!.status, 413);
  assert.equal(r!.headers.get('connection'), 'close');
  assert.equal(Number(r!.headers.get('content-length')), r!.body.length);
  assert.equal(calls, 0);
});

test('a body of exactly maxBodyBytes is accepted', async (t) => {
  const h = await setup(t, async (req, res) => res.end(String((await req.bytes()).length)), {
    maxBodyBytes: 100,
  });
  const client = await h.client();
  client.send(post('/', 'x'.repeat(100)) + postChunked('/', ['y'.repeat(60), 'z'.repeat(40)]));
  const responses = await client.responses(2);
  assert.deepEqual(
    responses.map((r) => [r.status, r.body]),
    [
      [200, '100'],
      [200, '100'],
    ],
  );
});

for (const how of ['bytes', 'stream'] as const) {
  test(`a chunked body over maxBodyBytes read with ${how}() gets 413 and the connection closes`, async (t) => {
    const failures: unknown[] = [];
    const h = await setup(
      t,
      async (req, res) => {
        try {
          if (how === 'bytes') await req.bytes();
          else for await (const _ of req.stream());
        } catch (error) {
          failures.push(error);
          throw error;
        }
        res.end('read it all');
      },
      { maxBodyBytes: 100 },
    );
    const client = await h.client();
    client.send(postChunked('/', ['a'.repeat(60), 'b'.repeat(60)]) + get('/next'));
    await serverClosed(client);
    const responses = parseResponses(client.text);
    assert.equal(responses.length, 1);
    assert.equal(responses[0]!.status, 413);
    assert.equal(responses[0]!.headers.get('connection'), 'close');
    assert.equal((failures[0] as { status?: number }).status, 413);
  });
}

test('a chunked body over maxBodyBytes that the handler ignores closes the connection', async (t) => {
  const h = await setup(t, (_req, res) => res.end('ignored the body'), { maxBodyBytes: 100 });
  const client = await h.client();
  client.send(postChunked('/', ['a'.repeat(60), 'b'.repeat(60)]) + get('/next'));
  await serverClosed(client);
  const responses = parseResponses(client.text);
  assert.equal(responses.length, 1);
  assert.equal(responses[0]!.body, 'ignored the body');
});

/** How many bytes of `total` a peer that never reads lets a client push within `ms` (kernel buffers). */
async function pushedInto(socket: Socket, total: number, piece: Buffer, ms: number): Promise<number> {
  let accepted = 0;
  for (let sent = 0; sent < total; sent += piece.length) {
    socket.write(piece, (error) => {
      if (!error) accepted += piece.length;
    });
  }
  await delay(ms);
  return accepted;
}

/** Deterministic pseudo-random bytes. */
function noise(size: number, seed: number): Buffer {
  const out = Buffer.allocUnsafe(size);
  let x = seed;
  for (let i = 0; i < size; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

test('req.stream() delivers a large upload in order to a slow consumer, with backpressure', async (t) => {
  const size = 8 * 1024 * 1024;
  const piece = noise(64 * 1024, 7);
  const expected = createHash('sha256');
  for (let sent = 0; sent < size; sent += piece.length) expected.update(piece);

  // Control: what the kernel alone buffers for a peer that never reads.
  const sink = createServer({ pauseOnConnect: true }, () => {});
  await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', resolve));
  const control = await RawClient.open((sink.address() as { port: number }).port);
  const kernelBuffers = await pushedInto(control.socket, size, piece, 300);
  control.close();
  sink.close();

  const consuming = gate();
  const h = await setup(
    t,
    async (req, res) => {
      await consuming.promise;
      const hash = createHash('sha256');
      let length = 0;
      let chunks = 0;
      for await (const chunk of req.stream()) {
        hash.update(chunk);
        length += chunk.length;
        if (++chunks % 8 === 0) await delay(1);
      }
      res.end(`${length} ${hash.digest('hex')}`);
    },
    { maxBodyBytes: 16 * 1024 * 1024 },
  );
  const client = await h.client();
  client.send(`POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: ${size}\r\n\r\n`);
  const pushed = await pushedInto(client.socket, size, piece, 300);
  t.diagnostic(`pushed ${pushed} of ${size} bytes; kernel buffers alone take ${kernelBuffers}`);
  if (kernelBuffers < size - 2 * 1024 * 1024) {
    // Without backpressure the server would have read the whole upload into memory.
    assert.ok(
      pushed <= kernelBuffers + 1024 * 1024,
      `the server took ${pushed} bytes while its handler read nothing (kernel buffers ~${kernelBuffers})`,
    );
  } else {
    t.diagnostic(`kernel buffers (${kernelBuffers}) too large to observe backpressure`);
  }
  consuming.open();
  const [r] = await client.responses(1, 10_000);
  assert.equal(r!.status, 200);
  assert.equal(r!.body, `${size} ${expected.digest('hex')}`);
});

test('a large chunked upload streams in order', async (t) => {
  const h = await setup(
    t,
    async (req, res) => {
      const hash = createHash('sha256');
      let length = 0;
      for await (const chunk of req.stream()) {
        hash.update(chunk);
        length += chunk.length;
      }
      res.end(`${length} ${hash.digest('hex')}`);
    },
    { maxBodyBytes: 4 * 1024 * 1024 },
  );
  const client = await h.client();
  const data = noise(3 * 1024 * 1024 + 17, 3);
  client.send('POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n');
  for (let i = 0; i < data.length; i += 100_000) {
    const piece = data.subarray(i, i + 100_000);
    client.send(`${piece.length.toString(16)}\r\n`);
    client.send(piece);
    client.send('\r\n');
  }
  client.send('0\r\n\r\n');
  const [r] = await client.responses(1, 10_000);
  assert.equal(r!.body, `${data.length} ${createHash('sha256').update(data).digest('hex')}`);
});

test('Expect: 100-continue is answered only when the handler reads the body', async (t) => {
  const reading = gate();
  const h = await setup(t, async (req, res) => {
    await reading.promise;
    res.end(`got ${await req.text()}`);
  });
  const client = await h.client();
  client.send('POST /e HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n');
  await delay(50);
  assert.equal(client.text, '', 'no 100 Continue before the handler asks for the body');
  reading.open();
  await client.until((text) => text.includes('\r\n\r\n'));
  assert.equal(client.text, 'HTTP/1.1 100 Continue\r\n\r\n');
  client.send('hello');
  const responses = await client.responses(2);
  assert.equal(responses[0]!.status, 100);
  assert.equal(responses[1]!.status, 200);
  assert.equal(responses[1]!.body, 'got hello');
  assert.equal(responses[1]!.headers.get('connection'), undefined);
  // The connection is still good for the next request.
  client.send(get('/next'));
  await client.responses(3);
});

test('a handler that answers without reading an Expect body sends no 100 and closes', async (t) => {
  const h = await setup(t, (_req, res) => {
    res.status = 401;
    res.end('no');
  });
  const client = await h.client();
  client.send('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n');
  await serverClosed(client);
  assert.ok(!client.text.includes('100 Continue'), client.text);
  const responses = parseResponses(client.text);
  assert.equal(responses.length, 1);
  assert.equal(responses[0]!.status, 401);
  assert.equal(responses[0]!.headers.get('connection'), 'close');
});

test('an HTTP/1.0 request with Expect: 100-continue gets no 100', async (t) => {
  const h = await setup(t, async (req, res) => res.end(await req.text()));
  const client = await h.client();
  client.send('POST / HTTP/1.0\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n');
  await delay(30);
  client.send('ok');
  await serverClosed(client);
  const responses = parseResponses(client.text);
  assert.deepEqual(
    responses.map((r) => [r.status, r.body]),
    [[200, 'ok']],
  );
});

test('an empty body: Content-Length 0 and a chunked body of no chunks', async (t) => {
  const h = await setup(t, async (req, res) => {
    const body = await req.bytes();
    res.end(`${req.hasBody} ${req.contentLength} ${body.length}`);
  });
  const client = await h.client();
  client.send(post('/', '') + postChunked('/', []) + get('/'));
  const responses = await client.responses(3);
  assert.deepEqual(
    responses.map((r) => r.body),
    ['false 0 0', 'true undefined 0', 'false undefined 0'],
  );
});

test('a body not read by a sync handler does not leak into the next request or response', async (t) => {
  const h = await setup(t, (req, res) => res.end(`${req.method} ${req.path}`));
  const client = await h.client();
  client.send(post('/one', 'BODY-ONE-'.repeat(50)));
  const [first] = await client.responses(1);
  assert.equal(first!.body, 'POST /one');
  client.send(get('/two'));
  const responses = await client.responses(2);
  assert.equal(responses[1]!.body, 'GET /two');
  assert.ok(!client.text.includes('BODY-ONE'));
});

test('a large body a sync handler ignores is discarded as it arrives, then the next request is answered', async (t) => {
  // The response goes out while most of the body is still to come: the connection goes idle with the
  // body being discarded, and must keep reading it (well past the 64 KiB a handler may leave unread).
  const h = await setup(t, (req, res) => res.end(`${req.method} ${req.path}`));
  const client = await h.client();
  const total = 300_000;
  client.send(`POST /ignored HTTP/1.1\r\nHost: x\r\nContent-Length: ${total}\r\n\r\n${'a'.repeat(1000)}`);
  const [first] = await client.responses(1);
  assert.equal(first!.body, 'POST /ignored');
  for (let sent = 1000; sent < total; sent += 10_000) {
    client.send('b'.repeat(Math.min(10_000, total - sent)));
    await delay(1);
  }
  client.send(get('/next'));
  const responses = await client.responses(2);
  assert.equal(responses[1]!.body, 'GET /next');
});

for (const kind of ['sync', 'async'] as const) {
  test(`a ${kind} response body does not leak into the next response that has none`, async (t) => {
    const h = await setup(t, async (req, res) => {
      if (kind === 'async') await delay(1);
      if (req.path === '/secret') res.end('the secret body');
      else if (req.path === '/204') {
        res.status = 204;
        res.end();
      } else res.end();
    });
    const client = await h.client();
    client.send(get('/secret') + get('/empty') + get('/secret') + get('/204') + get('/secret'));
    const responses = await client.responses(5);
    assert.deepEqual(
      responses.slice(0, 5).map((r) => [r.status, r.body]),
      [
        [200, 'the secret body'],
        [200, ''],
        [200, 'the secret body'],
        [204, ''],
        [200, 'the secret body'],
      ],
    );
    assert.equal(responses[1]!.headers.get('content-length'), '0');
    assert.equal(isClosed(client), false);
    // A HEAD response after a body: the Content-Length of the body it would have, then no bytes.
    const other = await h.client();
    other.send(get('/secret') + 'HEAD /secret HTTP/1.1\r\nHost: x\r\n\r\n' + get('/empty'));
    await other.until((text) => text.split('HTTP/1.1 ').length > 3 && text.endsWith('\r\n\r\n'));
    const parts = other.text.split(/(?=HTTP\/1\.1 )/);
    assert.equal(parts.length, 3);
    assert.ok(parts[0]!.endsWith('\r\n\r\nthe secret body'));
    assert.ok(parts[1]!.endsWith('Content-Length: 15\r\n\r\n'), parts[1]);
    assert.ok(parts[2]!.endsWith('Content-Length: 0\r\n\r\n'), parts[2]);
  });
}

test('the body can be read once, and not after the response has ended', async (t) => {
  const outcomes: string[] = [];
  const h = await setup(t, async (req, res) => {
    if (req.path === '/twice') {
      await req.text();
      await req.text().catch((error: Error) => outcomes.push(error.message));
      res.end();
    } else {
      res.end();
      await req.text().catch((error: Error) => outcomes.push(error.message));
    }
  });
  const client = await h.client();
  client.send(post('/twice', 'abc') + post('/late', 'abc'));
  await client.responses(2);
  await delay(10);
  assert.deepEqual(outcomes, [
    'the request body can be read only once',
    'the request body is no longer available: the response has ended',
  ]);
});

for (const framing of ['Content-Length', 'chunked'] as const) {
  test(`a ${framing} body that arrives over many reads is intact when read only after the last one`, async (t) => {
    // Each piece is its own TCP read; the handler reads nothing until all have arrived, so every
    // piece is held while later reads come in (and would be overwritten in a reused read buffer).
    const pieces = [noise(9000, 1), noise(7000, 2), noise(12000, 3), noise(5, 4)];
    const whole = Buffer.concat(pieces);
    const arrived = gate();
    const h = await setup(t, async (req, res) => {
      await arrived.promise;
      const body = await req.bytes();
      res.end(`${body.length} ${createHash('sha256').update(body).digest('hex')}`);
    });
    const client = await h.client();
    client.send(
      framing === 'chunked'
        ? 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n'
        : `POST / HTTP/1.1\r\nHost: x\r\nContent-Length: ${whole.length}\r\n\r\n`,
    );
    for (const piece of pieces) {
      await delay(20);
      client.send(
        framing === 'chunked'
          ? Buffer.concat([Buffer.from(`${piece.length.toString(16)}\r\n`), piece, Buffer.from('\r\n')])
          : piece,
      );
    }
    if (framing === 'chunked') client.send('0\r\n\r\n');
    await delay(50);
    arrived.open();
    const [r] = await client.responses(1);
    assert.equal(r!.body, `${whole.length} ${createHash('sha256').update(whole).digest('hex')}`);
  });
}
