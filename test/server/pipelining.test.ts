import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Request, Response } from '../../src/index.ts';
import { parseResponses } from '../helpers.ts';
import { delay, get, post, postChunked, setup } from './util.ts';

async function echo(req: Request, res: Response): Promise<void> {
  const body = req.hasBody ? await req.text() : '';
  res.end(`${req.method} ${req.path} [${body}]`);
}

test('16 pipelined requests in one write get 16 responses in order', async (t) => {
  const h = await setup(t, (req, res) => res.end(`response to ${req.path}`));
  const client = await h.client();
  let batch = '';
  for (let i = 0; i < 16; i++) batch += get(`/r${i}`);
  client.send(batch);
  const responses = await client.responses(16);
  assert.equal(responses.length, 16);
  responses.forEach((r, i) => {
    assert.equal(r.status, 200);
    assert.equal(r.body, `response to /r${i}`);
  });
});

test('pipelined requests stay in order when async handlers finish in reverse order', async (t) => {
  let running = 0;
  let maxRunning = 0;
  const h = await setup(t, async (req, res) => {
    running++;
    maxRunning = Math.max(maxRunning, running);
    const i = Number(req.path.slice(2));
    await delay((16 - i) * 2);
    running--;
    res.end(`response to ${req.path}`);
  });
  const client = await h.client();
  let batch = '';
  for (let i = 0; i < 16; i++) batch += get(`/r${i}`);
  client.send(batch);
  const responses = await client.responses(16);
  assert.deepEqual(
    responses.map((r) => r.body),
    Array.from({ length: 16 }, (_, i) => `response to /r${i}`),
  );
  // One request at a time per connection: two handlers never run for one socket.
  assert.equal(maxRunning, 1);
});

test('a request head split at every byte position parses correctly', async (t) => {
  const h = await setup(t, (req, res) =>
    res.end(`${req.path} ${req.header('x-long')} ${req.header('accept')}`),
  );
  const client = await h.client();
  const request = get('/split?q=1', 'X-Long: abcdefghij', 'Accept: */*');
  const expected = '/split abcdefghij */*';
  for (let k = 1; k < request.length; k++) {
    client.send(request.slice(0, k));
    await delay(1);
    client.send(request.slice(k));
    const responses = await client.responses(k);
    assert.equal(responses[k - 1]!.body, expected, `split at ${k}`);
  }
  assert.equal(parseResponses(client.text).length, request.length - 1);
});

test('a request head sent one byte per write parses correctly', async (t) => {
  const h = await setup(t, (req, res) => res.end(`${req.method} ${req.target} ${req.header('host')}`));
  const client = await h.client();
  const request = 'GET /byte/by/byte HTTP/1.1\r\nHost: example\r\nX-A: 1\r\n\r\n';
  for (const byte of request) {
    client.send(byte);
    await delay(1);
  }
  const [r] = await client.responses(1);
  assert.equal(r!.body, 'GET /byte/by/byte example');
});

test('a pipelined request split across writes after a complete one is parsed', async (t) => {
  const h = await setup(t, echo);
  const client = await h.client();
  const second = get('/second');
  for (const cut of [1, 5, 17, second.length - 3, second.length - 1]) {
    const before = parseResponses(client.text).length;
    client.send(get('/first') + second.slice(0, cut));
    await client.responses(before + 1);
    await delay(5);
    client.send(second.slice(cut));
    const responses = await client.responses(before + 2);
    assert.equal(responses[before]!.body, 'GET /first []');
    assert.equal(responses[before + 1]!.body, 'GET /second []', `cut at ${cut}`);
  }
});

test('a chunked body split at every byte position is decoded', async (t) => {
  const h = await setup(t, echo);
  const client = await h.client();
  const request = postChunked('/c', ['hello', ' ', 'chunked world']);
  const headEnd = request.indexOf('\r\n\r\n') + 4;
  let n = 0;
  for (let k = headEnd - 2; k < request.length; k++) {
    client.send(request.slice(0, k));
    await delay(1);
    client.send(request.slice(k));
    n++;
    const responses = await client.responses(n);
    assert.equal(responses[n - 1]!.body, 'POST /c [hello chunked world]', `split at ${k}`);
  }
});

test('pipelined requests with Content-Length and chunked bodies, interleaved', async (t) => {
  const h = await setup(t, echo);
  const client = await h.client();
  client.send(
    post('/a', 'first body') +
      get('/b') +
      postChunked('/c', ['chunk', 'ed ', 'body']) +
      post('/d', 'GET /not-a-request HTTP/1.1\r\nHost: x\r\n\r\n') +
      postChunked('/e', ['x'.repeat(300)]) +
      post('/f', '') +
      get('/g'),
  );
  const responses = await client.responses(7);
  assert.deepEqual(
    responses.map((r) => r.body),
    [
      'POST /a [first body]',
      'GET /b []',
      'POST /c [chunked body]',
      'POST /d [GET /not-a-request HTTP/1.1\r\nHost: x\r\n\r\n]',
      `POST /e [${'x'.repeat(300)}]`,
      'POST /f []',
      'GET /g []',
    ],
  );
});

for (const kind of ['sync', 'async'] as const) {
  test(`a body the ${kind} handler does not read is drained, never parsed as a request`, async (t) => {
    const seen: string[] = [];
    const h = await setup(
      t,
      kind === 'sync'
        ? (req, res) => {
            seen.push(req.path);
            res.end(`saw ${req.path}`);
          }
        : async (req, res) => {
            seen.push(req.path);
            await delay(5);
            res.end(`saw ${req.path}`);
          },
    );
    const client = await h.client();
    const smuggled = get('/smuggled');
    client.send(
      post('/length', smuggled) +
        postChunked('/chunked', [smuggled.slice(0, 10), smuggled.slice(10)]) +
        get('/next'),
    );
    const responses = await client.responses(3);
    await delay(20);
    assert.deepEqual(seen, ['/length', '/chunked', '/next']);
    assert.deepEqual(
      parseResponses(client.text).map((r) => r.body),
      ['saw /length', 'saw /chunked', 'saw /next'],
    );
    assert.equal(responses.length, 3);
  });
}

test('an unread body that arrives after the response is drained before the next request', async (t) => {
  const seen: string[] = [];
  const h = await setup(t, (req, res) => {
    seen.push(req.path);
    res.end(`saw ${req.path}`);
  });
  const client = await h.client();
  const smuggled = get('/smuggled');
  client.send(`POST /late HTTP/1.1\r\nHost: x\r\nContent-Length: ${smuggled.length}\r\n\r\n`);
  await client.responses(1);
  for (let i = 0; i < smuggled.length; i += 7) {
    client.send(smuggled.slice(i, i + 7));
    await delay(1);
  }
  client.send(get('/next'));
  const responses = await client.responses(2);
  await delay(20);
  assert.deepEqual(seen, ['/late', '/next']);
  assert.equal(responses[1]!.body, 'saw /next');
  assert.equal(parseResponses(client.text).length, 2);
});

test('more pipelined bytes than the server holds behind a slow request are all answered, in order', async (t) => {
  const h = await setup(t, async (req, res) => {
    if (req.path === '/0') await delay(50);
    res.end(req.path);
  });
  const client = await h.client();
  const count = 1500;
  let batch = '';
  for (let i = 0; i < count; i++) batch += get(`/${i}`, `X-Padding: ${'p'.repeat(60)}`);
  assert.ok(batch.length > 128 * 1024);
  client.send(batch);
  const responses = await client.responses(count, 5000);
  assert.equal(responses.length, count);
  responses.forEach((r, i) => {
    assert.equal(r.body, `/${i}`);
  });
});

test('empty lines before a request line are skipped, also when CR and LF arrive apart', async (t) => {
  const h = await setup(t, (req, res) => res.end(req.path));
  const client = await h.client();
  // Some clients send an extra CRLF after a body (RFC 9112 §2.2).
  client.send(`${post('/a', 'x')}\r\n${get('/b')}`);
  await client.responses(2);
  for (const pieces of [
    ['\r', `\n${get('/c')}`],
    ['\r\n\r', `\n${get('/d')}`],
    ['\r\n\r\n\r', '\n', get('/e')],
  ]) {
    const before = parseResponses(client.text).length;
    for (const piece of pieces) {
      client.send(piece);
      await delay(5);
    }
    const responses = await client.responses(before + 1);
    assert.equal(responses[before]!.status, 200, JSON.stringify(pieces));
  }
  assert.deepEqual(
    parseResponses(client.text).map((r) => r.body),
    ['/a', '/b', '/c', '/d', '/e'],
  );
});
