import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseResponses } from '../helpers.ts';
import { delay, get, isClosed, post, serverClosed, setup } from './util.ts';

const echoPath = (req: { path: string }, res: { end(body: string): void }) => res.end(req.path);

test('HTTP/1.1 keeps the connection alive by default', async (t) => {
  const h = await setup(t, echoPath);
  const client = await h.client();
  for (let i = 1; i <= 3; i++) {
    client.send(get(`/${i}`));
    const responses = await client.responses(i);
    const r = responses[i - 1]!;
    assert.equal(r.status, 200);
    assert.equal(r.body, `/${i}`);
    assert.equal(r.headers.get('connection'), undefined);
  }
  assert.equal(isClosed(client), false);
  assert.equal(h.server.connections, 1);
});

test('Connection: close from the client is answered with Connection: close, then the server closes', async (t) => {
  const h = await setup(t, echoPath);
  const client = await h.client();
  // A pipelined request after the close must not be answered.
  client.send(get('/bye', 'Connection: close') + get('/after'));
  await serverClosed(client);
  const responses = parseResponses(client.text);
  assert.equal(responses.length, 1);
  assert.equal(responses[0]!.body, '/bye');
  assert.equal(responses[0]!.headers.get('connection'), 'close');
});

test('the close token is found case-insensitively in a list', async (t) => {
  const h = await setup(t, echoPath);
  const client = await h.client();
  client.send(get('/x', 'Connection: foo, CLOSE'));
  await serverClosed(client);
  const [r] = parseResponses(client.text);
  assert.equal(r!.headers.get('connection'), 'close');
});

test('a handler that sets Connection: close closes the connection after its response', async (t) => {
  const h = await setup(t, (req, res) => {
    if (req.path === '/bye') res.setHeader('Connection', 'close');
    res.end(req.path);
  });
  const client = await h.client();
  client.send(get('/1') + get('/bye') + get('/3'));
  await serverClosed(client);
  const responses = parseResponses(client.text);
  assert.deepEqual(
    responses.map((r) => [r.body, r.headers.get('connection')]),
    [
      ['/1', undefined],
      ['/bye', 'close'],
    ],
  );
});

test('HTTP/1.0 closes by default', async (t) => {
  const h = await setup(t, echoPath);
  const client = await h.client();
  client.send('GET /old HTTP/1.0\r\n\r\n');
  await serverClosed(client);
  const responses = parseResponses(client.text);
  assert.equal(responses.length, 1);
  assert.equal(responses[0]!.body, '/old');
  assert.equal(responses[0]!.headers.get('connection'), 'close');
});

test('HTTP/1.0 with Connection: keep-alive stays open and says so', async (t) => {
  const h = await setup(t, echoPath);
  const client = await h.client();
  client.send('GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n');
  const [first] = await client.responses(1);
  assert.equal(first!.headers.get('connection'), 'keep-alive');
  assert.equal(first!.body, '/a');
  client.send('GET /b HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n');
  const both = await client.responses(2);
  assert.equal(both[1]!.headers.get('connection'), 'keep-alive');
  assert.equal(both[1]!.body, '/b');
  assert.equal(isClosed(client), false);
});

for (const connection of ['keep-alive, close', 'close, keep-alive', 'Keep-Alive,Close']) {
  test(`HTTP/1.0 with Connection: ${connection} closes: close wins over keep-alive`, async (t) => {
    const h = await setup(t, echoPath);
    const client = await h.client();
    client.send(`GET /a HTTP/1.0\r\nConnection: ${connection}\r\n\r\nGET /never HTTP/1.0\r\n\r\n`);
    await serverClosed(client);
    const responses = parseResponses(client.text);
    assert.equal(responses.length, 1, client.text);
    assert.equal(responses[0]!.body, '/a');
    assert.equal(responses[0]!.headers.get('connection'), 'close');
  });
}

test('the keep-alive decision is taken per request: a close on request 2 is honoured', async (t) => {
  const h = await setup(t, echoPath);
  const client = await h.client();
  client.send(get('/1'));
  const [first] = await client.responses(1);
  assert.equal(first!.headers.get('connection'), undefined);
  client.send(get('/2', 'Connection: close'));
  await serverClosed(client);
  const responses = parseResponses(client.text);
  assert.equal(responses.length, 2);
  assert.equal(responses[1]!.body, '/2');
  assert.equal(responses[1]!.headers.get('connection'), 'close');
});

test('the keep-alive decision is taken per request when pipelined', async (t) => {
  const h = await setup(t, echoPath);
  const client = await h.client();
  client.send(get('/1') + get('/2', 'Connection: close') + get('/3'));
  await serverClosed(client);
  const responses = parseResponses(client.text);
  assert.deepEqual(
    responses.map((r) => [r.body, r.headers.get('connection')]),
    [
      ['/1', undefined],
      ['/2', 'close'],
    ],
  );
});

test('HTTP/1.0 keep-alive on request 1 does not carry over to a plain HTTP/1.0 request 2', async (t) => {
  const h = await setup(t, echoPath);
  const client = await h.client();
  client.send('GET /1 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n');
  await client.responses(1);
  client.send('GET /2 HTTP/1.0\r\n\r\n');
  await serverClosed(client);
  const responses = parseResponses(client.text);
  assert.equal(responses.length, 2);
  assert.equal(responses[1]!.headers.get('connection'), 'close');
});

test('keepAliveTimeout closes an idle connection', async (t) => {
  const h = await setup(t, echoPath, { keepAliveTimeout: 200 });
  const client = await h.client();
  client.send(get('/a'));
  await client.responses(1);
  await serverClosed(client, 3000);
  assert.equal(parseResponses(client.text).length, 1);
});

test('keepAliveTimeout closes a connection that never sent anything', async (t) => {
  const h = await setup(t, echoPath, { keepAliveTimeout: 200 });
  const client = await h.client();
  await serverClosed(client, 3000);
  assert.equal(client.text, '');
});

test('keepAliveTimeout counts idle time only: a connection in regular use stays open', async (t) => {
  // 8 × 200 ms in all is well past the timeout, each gap well within it (a loaded machine stalls).
  const h = await setup(t, echoPath, { keepAliveTimeout: 1000 });
  const client = await h.client();
  for (let i = 1; i <= 8; i++) {
    client.send(get(`/${i}`));
    await client.responses(i);
    await delay(200);
  }
  assert.equal(isClosed(client), false);
  assert.equal(parseResponses(client.text).length, 8);
});

test('keepAliveTimeout 0 closes after each response', async (t) => {
  const h = await setup(t, echoPath, { keepAliveTimeout: 0 });
  const client = await h.client();
  client.send(get('/1') + get('/2'));
  await serverClosed(client);
  const responses = parseResponses(client.text);
  assert.equal(responses.length, 1);
  assert.equal(responses[0]!.headers.get('connection'), 'close');
});

test('maxRequestsPerConnection: the last response says Connection: close', async (t) => {
  const h = await setup(t, echoPath, { maxRequestsPerConnection: 3 });
  const client = await h.client();
  client.send(get('/1'));
  await client.responses(1);
  client.send(get('/2') + get('/3') + get('/4'));
  await serverClosed(client);
  const responses = parseResponses(client.text);
  assert.deepEqual(
    responses.map((r) => [r.body, r.headers.get('connection')]),
    [
      ['/1', undefined],
      ['/2', undefined],
      ['/3', 'close'],
    ],
  );
  // The limit is per connection: a new one starts counting again.
  const other = await h.client();
  other.send(get('/again'));
  const [r] = await other.responses(1);
  assert.equal(r!.headers.get('connection'), undefined);
});

test('a client half-close after a request still gets the full response', async (t) => {
  const h = await setup(t, async (req, res) => {
    await delay(50);
    res.end(`done ${req.path} ${'x'.repeat(1000)}`);
  });
  const client = await h.client();
  client.send(get('/half'));
  client.socket.end();
  await serverClosed(client);
  const responses = parseResponses(client.text);
  assert.equal(responses.length, 1);
  assert.equal(responses[0]!.body, `done /half ${'x'.repeat(1000)}`);
  assert.equal(responses[0]!.headers.get('connection'), 'close');
});

test('a client half-close after a request with a body still gets the full response', async (t) => {
  const h = await setup(t, async (req, res) => {
    const body = await req.text();
    await delay(20);
    res.end(`got ${body}`);
  });
  const client = await h.client();
  client.send(post('/upload', 'hello body'));
  client.socket.end();
  await serverClosed(client);
  const responses = parseResponses(client.text);
  assert.equal(responses.length, 1);
  assert.equal(responses[0]!.body, 'got hello body');
});

test('a client half-close after pipelined requests still gets every response', async (t) => {
  const h = await setup(t, async (req, res) => {
    await delay(10);
    res.end(req.path);
  });
  const client = await h.client();
  client.send(get('/1') + get('/2') + get('/3'));
  client.socket.end();
  await serverClosed(client);
  const responses = parseResponses(client.text);
  assert.deepEqual(
    responses.map((r) => r.body),
    ['/1', '/2', '/3'],
  );
  assert.equal(responses[2]!.headers.get('connection'), 'close');
});

test('a client half-close in the middle of a body fails the body read instead of hanging', async (t) => {
  const outcome: string[] = [];
  const h = await setup(t, async (req, res) => {
    try {
      await req.text();
      outcome.push('read');
    } catch (error) {
      outcome.push(`failed ${(error as { status?: number }).status}`);
      throw error;
    }
    res.end('unreachable');
  });
  const client = await h.client();
  client.send('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc');
  client.socket.end();
  await serverClosed(client);
  assert.deepEqual(outcome, ['failed 400']);
  const [r] = parseResponses(client.text);
  assert.equal(r!.status, 400);
  assert.equal(r!.headers.get('connection'), 'close');
});
