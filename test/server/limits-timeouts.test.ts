import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type ParsedResponse, parseResponses, type RawClient } from '../helpers.ts';
import { delay, get, isClosed, post, serverClosed, setup } from './util.ts';

const STATUS_LINE = /^HTTP\/1\.1 (\d{3}) [^\r\n]+\r\n/;

/** Asserts `r` is a complete error response that closes the connection, and nothing follows it. */
function assertErrorResponse(client: RawClient, r: ParsedResponse | undefined, status: number): void {
  assert.ok(r !== undefined, `no response; received ${JSON.stringify(client.text)}`);
  assert.equal(r.status, status, r.raw);
  assert.match(r.raw, STATUS_LINE);
  assert.equal(r.headers.get('connection'), 'close');
  assert.equal(Number(r.headers.get('content-length')), Buffer.byteLength(r.body, 'latin1'));
  assert.ok(r.body.length > 0);
  assert.ok(r.headers.has('date'));
  assert.ok(client.text.endsWith(r.raw), 'nothing may follow the error response');
}

test('headersTimeout: a head that never completes gets 408 and the connection closes', async (t) => {
  const h = await setup(t, (_req, res) => res.end('never'), { headersTimeout: 300 });
  const client = await h.client();
  client.send('GET / HTTP/1.1\r\nHost: x\r\nX-Partial: ');
  await serverClosed(client, 3000);
  const responses = parseResponses(client.text);
  assert.equal(responses.length, 1);
  assertErrorResponse(client, responses[0], 408);
});

test('headersTimeout: a slowloris dripping bytes is not kept alive by the drip', async (t) => {
  const h = await setup(t, (_req, res) => res.end('never'), { headersTimeout: 300 });
  const client = await h.client();
  client.send('GET / HTTP/1.1\r\nHost: x\r\n');
  let dripped = 0;
  while (!isClosed(client) && dripped < 100) {
    client.send(dripped % 20 === 19 ? '\r\n' : 'X');
    dripped++;
    await delay(30);
  }
  assert.ok(isClosed(client), 'the drip kept the connection open for 3 s');
  assertErrorResponse(client, parseResponses(client.text)[0], 408);
});

test('headersTimeout counts from the first byte of a head, not from an idle keep-alive', async (t) => {
  const h = await setup(t, (req, res) => res.end(req.path), { headersTimeout: 200, keepAliveTimeout: 5000 });
  const client = await h.client();
  client.send(get('/1'));
  await client.responses(1);
  await delay(350); // idle longer than headersTimeout: only keepAliveTimeout applies
  assert.equal(isClosed(client), false);
  client.send(get('/2'));
  const responses = await client.responses(2);
  assert.equal(responses[1]!.body, '/2');
});

test('requestTimeout: a body that stops arriving gets 408 and the connection closes', async (t) => {
  const failures: unknown[] = [];
  const h = await setup(
    t,
    async (req, res) => {
      try {
        await req.text();
      } catch (error) {
        failures.push(error);
        throw error;
      }
      res.end('never');
    },
    { requestTimeout: 300 },
  );
  const client = await h.client();
  client.send('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly a part');
  await serverClosed(client, 3000);
  const responses = parseResponses(client.text);
  assert.equal(responses.length, 1);
  assertErrorResponse(client, responses[0], 408);
  assert.equal((failures[0] as { status?: number }).status, 408);
});

test('requestTimeout: a stalled body the handler has not asked for yet is answered with 408', async (t) => {
  const h = await setup(
    t,
    async (_req, res) => {
      await delay(1000); // busy elsewhere; the body timed out meanwhile
      res.end('late');
    },
    { requestTimeout: 300 },
  );
  const client = await h.client();
  client.send('POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab');
  await serverClosed(client, 3000);
  assertErrorResponse(client, parseResponses(client.text)[0], 408);
});

test('requestTimeout does not cut off a slow handler once the request is complete', async (t) => {
  const h = await setup(
    t,
    async (req, res) => {
      const body = await req.text();
      await delay(300);
      res.end(`slow ${body}`);
    },
    { requestTimeout: 150, headersTimeout: 150 },
  );
  const client = await h.client();
  client.send(post('/', 'body') + get('/next'));
  const responses = await client.responses(2);
  assert.equal(responses[0]!.body, 'slow body');
  assert.equal(responses[0]!.headers.get('connection'), undefined);
});

test('maxHeaderBytes: a head larger than the limit gets 431', async (t) => {
  const h = await setup(t, (_req, res) => res.end('ok'), { maxHeaderBytes: 1024, maxUrlLength: 512 });
  const client = await h.client();
  client.send(`GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'b'.repeat(1100)}\r\n\r\n`);
  await serverClosed(client);
  assertErrorResponse(client, parseResponses(client.text)[0], 431);
});

test('maxHeaderBytes: many small fields that add up over the limit get 431, even unfinished', async (t) => {
  const h = await setup(t, (_req, res) => res.end('ok'), {
    maxHeaderBytes: 1024,
    maxUrlLength: 512,
    headersTimeout: 5000,
  });
  const client = await h.client();
  client.send('GET / HTTP/1.1\r\nHost: x\r\n');
  for (let i = 0; i < 40; i++) client.send(`X-Field-${i}: ${'v'.repeat(30)}\r\n`);
  // No blank line: the limit must be enforced without waiting for the end of the head.
  await serverClosed(client, 2000);
  assertErrorResponse(client, parseResponses(client.text)[0], 431);
});

test('maxHeaderBytes: a head within the limit is served', async (t) => {
  const h = await setup(t, (req, res) => res.end(String(req.header('x-big')?.length)), {
    maxHeaderBytes: 1024,
    maxUrlLength: 512,
  });
  const client = await h.client();
  client.send(`GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'b'.repeat(900)}\r\n\r\n`);
  const [r] = await client.responses(1);
  assert.equal(r!.body, '900');
});

test('maxHeaderCount: one field more than the limit gets 431', async (t) => {
  const h = await setup(t, (req, res) => res.end(String(req.headerCount)), { maxHeaderCount: 5 });
  const client = await h.client();
  const fields = (n: number) => Array.from({ length: n }, (_, i) => `X-${i}: v`);
  client.send(get('/', ...fields(4)));
  const [ok] = await client.responses(1);
  assert.equal(ok!.body, '5');
  client.send(get('/', ...fields(5)));
  await serverClosed(client);
  const responses = parseResponses(client.text);
  assert.equal(responses.length, 2);
  assertErrorResponse(client, responses[1], 431);
});

test('maxUrlLength: a longer request-target gets 414', async (t) => {
  const h = await setup(t, (req, res) => res.end(String(req.target.length)), { maxUrlLength: 100 });
  const client = await h.client();
  client.send(get(`/${'a'.repeat(99)}`));
  const [ok] = await client.responses(1);
  assert.equal(ok!.body, '100');
  client.send(get(`/${'a'.repeat(100)}`));
  await serverClosed(client);
  assertErrorResponse(client, parseResponses(client.text)[1], 414);
});

test('maxUrlLength: a target that never ends is refused with 414 without waiting for the head', async (t) => {
  const h = await setup(t, (_req, res) => res.end('ok'), { maxUrlLength: 100, headersTimeout: 5000 });
  const client = await h.client();
  client.send(`GET /${'a'.repeat(2000)}`);
  await serverClosed(client, 2000);
  assertErrorResponse(client, parseResponses(client.text)[0], 414);
});

// maxConnections: test/server/max-connections.test.ts.

const badRequests: [string, string, number][] = [
  ['no Host in HTTP/1.1', 'GET / HTTP/1.1\r\n\r\n', 400],
  ['two Host fields', 'GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n', 400],
  ['a double space in the request line', 'GET  / HTTP/1.1\r\nHost: x\r\n\r\n', 400],
  ['a bare LF', 'GET / HTTP/1.1\nHost: x\n\n', 400],
  ['whitespace before the colon', 'GET / HTTP/1.1\r\nHost : x\r\n\r\n', 400],
  ['obsolete line folding', 'GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n', 400],
  ['a control character in a value', 'GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x01b\r\n\r\n', 400],
  ['a lower-case version', 'GET / http/1.1\r\nHost: x\r\n\r\n', 400],
  ['an unknown major version', 'GET / HTTP/2.0\r\nHost: x\r\n\r\n', 505],
  ['a fragment in the target', 'GET /a#b HTTP/1.1\r\nHost: x\r\n\r\n', 400],
  [
    'Content-Length and Transfer-Encoding',
    'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
    400,
  ],
  [
    'differing Content-Lengths',
    'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd',
    400,
  ],
  ['a negative Content-Length', 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n', 400],
  ['a Content-Length list', 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3, 3\r\n\r\nabc', 400],
  [
    'Transfer-Encoding not ending in chunked',
    'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n',
    400,
  ],
  [
    'an unsupported transfer coding',
    'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n',
    501,
  ],
  ['Transfer-Encoding in HTTP/1.0', 'POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', 400],
  [
    'an unsupported expectation',
    'POST / HTTP/1.1\r\nHost: x\r\nExpect: coffee\r\nContent-Length: 1\r\n\r\nx',
    417,
  ],
  ['an invalid Host', 'GET / HTTP/1.1\r\nHost: a b\r\n\r\n', 400],
];

for (const [what, request, status] of badRequests) {
  test(`a bad request (${what}) gets a complete ${status} with Connection: close, then the socket closes`, async (t) => {
    let calls = 0;
    const h = await setup(t, (_req, res) => {
      calls++;
      res.end('handled');
    });
    const client = await h.client();
    client.send(request + get('/after'));
    await serverClosed(client);
    const responses = parseResponses(client.text);
    assert.equal(responses.length, 1, client.text);
    assertErrorResponse(client, responses[0], status);
    assert.equal(calls, 0);
  });
}

test('a bad chunk size while the handler reads the body gets 400 and closes', async (t) => {
  const h = await setup(t, async (req, res) => res.end(await req.text()));
  const client = await h.client();
  client.send(
    'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n' + get('/after'),
  );
  await serverClosed(client);
  const responses = parseResponses(client.text);
  assert.equal(responses.length, 1);
  assertErrorResponse(client, responses[0], 400);
});

test('a bad request after a good pipelined one: the good one is answered, then 400 and close', async (t) => {
  const h = await setup(t, async (req, res) => {
    await delay(5);
    res.end(`ok ${req.path}`);
  });
  const client = await h.client();
  client.send(get('/good') + 'NOT A REQUEST\r\n\r\n' + get('/never'));
  await serverClosed(client);
  const responses = parseResponses(client.text);
  assert.equal(responses.length, 2, client.text);
  assert.equal(responses[0]!.body, 'ok /good');
  assertErrorResponse(client, responses[1], 400);
});

test('a TLS ClientHello (or any binary garbage) gets 400 at once, not after headersTimeout', async (t) => {
  const h = await setup(t, (_req, res) => res.end('never'), { headersTimeout: 60_000 });
  const client = await h.client();
  client.send(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]));
  await serverClosed(client, 2000);
  assertErrorResponse(client, parseResponses(client.text)[0], 400);
});

test('an unfinished head that breaks the grammar gets 400 at once, not after headersTimeout', async (t) => {
  const h = await setup(t, (_req, res) => res.end('never'), { headersTimeout: 60_000 });
  const client = await h.client();
  // A CR inside the request line, and no blank line: nothing can make this a valid head.
  client.send('GET / HTTP/1.1\rLine: 1\r\nHost: h\r\n');
  await serverClosed(client, 2000);
  assertErrorResponse(client, parseResponses(client.text)[0], 400);
});

test('an unfinished head sent a byte at a time is 400 at the byte that breaks it', async (t) => {
  const h = await setup(t, (_req, res) => res.end('never'), { headersTimeout: 60_000 });
  const client = await h.client();
  for (const byte of 'GET / HTTP/1.1\r\nHost: h\r\nX-Ok: 1\r\n') {
    client.send(byte);
    await delay(1);
  }
  await delay(50);
  assert.equal(client.text, '', 'a valid unfinished head waits');
  client.send('Bad Name: 1');
  await serverClosed(client, 2000);
  assertErrorResponse(client, parseResponses(client.text)[0], 400);
});

test('a chunk larger than what maxBodyBytes leaves gets 413 at once, before its data', async (t) => {
  let reads = 0;
  const h = await setup(
    t,
    async (req, res) => {
      reads++;
      res.end(String((await req.bytes()).length));
    },
    { maxBodyBytes: 16 * 1024 * 1024, requestTimeout: 60_000 },
  );
  const client = await h.client();
  // A 4 GiB chunk: none of its data follows, so only the size can tell.
  client.send('POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n100000005\r\n');
  await serverClosed(client, 2000);
  assertErrorResponse(client, parseResponses(client.text)[0], 413);
  assert.equal(reads, 1);
});

test('a handler that ends its response after the server answered 408 for it is ignored, not thrown at', async (t) => {
  const lateCalls: string[] = [];
  const h = await setup(
    t,
    (_req, res) => {
      // Callback style: nothing here catches, so a throw would be an uncaught exception.
      setTimeout(() => {
        res.setHeader('X-Late', '1');
        res.end('late');
        lateCalls.push(`finished=${res.finished}`);
      }, 500);
    },
    { requestTimeout: 200 },
  );
  const client = await h.client();
  client.send('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789');
  await serverClosed(client, 2000);
  assertErrorResponse(client, parseResponses(client.text)[0], 408);
  await delay(500);
  assert.deepEqual(lateCalls, ['finished=true']);
  assert.ok(!client.text.includes('late'));
});
