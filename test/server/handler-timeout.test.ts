import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HttpError } from '../../src/index.ts';
import { parseResponses, RawClient, start } from '../helpers.ts';
import { delay, get, serverClosed, setup } from './util.ts';

// handlerTimeout (issue 12, item 8): a handler that never ends its response used to leave the client
// waiting forever with nothing logged.

function timeoutError(errors: unknown[]): HttpError {
  const timeouts = errors.filter((e) => (e as { code?: string }).code === 'ERR_PEREGRINE_HANDLER_TIMEOUT');
  assert.equal(timeouts.length, 1, `one report, got ${errors.map(String).join('; ')}`);
  assert.ok(timeouts[0] instanceof HttpError);
  return timeouts[0];
}

test('a synchronous handler that never ends its response gets 503 and one report naming it', async (t) => {
  const h = await setup(
    t,
    (req, res) => {
      if (req.path === '/fine') res.end('fine');
      // /hang: forgets to end.
    },
    { handlerTimeout: 200 },
  );
  const client = await h.client();
  const startedAt = Date.now();
  client.send(get('/hang?x=1') + get('/fine'));
  await serverClosed(client);
  const elapsed = Date.now() - startedAt;
  const responses = parseResponses(client.text);
  assert.equal(
    responses.length,
    1,
    'the connection closes after the 503: the pipelined request is not served',
  );
  assert.equal(responses[0]!.status, 503);
  assert.equal(responses[0]!.headers.get('connection'), 'close');
  assert.ok(elapsed >= 190 && elapsed < 1500, `answered after ${elapsed} ms`);
  const error = timeoutError(h.errors);
  assert.equal(error.status, 503);
  assert.equal(
    error.message,
    'GET /hang: the handler did not end its response within 200 ms (handlerTimeout); answered 503',
  );
  // Other connections are served as usual.
  const other = await h.client();
  other.send(get('/fine'));
  assert.equal((await other.responses(1))[0]!.body, 'fine');
});

test('a handler that wrote a part and then stalls has its connection closed; req.signal says why', async (t) => {
  let signalReason: unknown;
  let lateCall: unknown = 'not called';
  const h = await setup(
    t,
    (req, res) => {
      req.signal.addEventListener('abort', () => {
        signalReason = req.signal.reason;
        setTimeout(() => {
          try {
            res.end('too late'); // ignored, not thrown
            lateCall = 'returned';
          } catch (error) {
            lateCall = error;
          }
        }, 10);
      });
      res.write('partial');
    },
    { handlerTimeout: 200 },
  );
  const client = await h.client();
  client.send(get('/stream'));
  await serverClosed(client);
  assert.match(client.text, /^HTTP\/1\.1 200 OK\r\n/);
  assert.match(
    client.text,
    /\r\n\r\n7\r\npartial\r\n$/,
    'the chunked body never ends: the client sees it cut',
  );
  const error = timeoutError(h.errors);
  assert.match(error.message, /^GET \/stream: .*within 200 ms \(handlerTimeout\); closed the connection$/);
  assert.equal(signalReason, error);
  await delay(50);
  assert.equal(lateCall, 'returned');
});

test('each write restarts the handler timer: a response streamed slowly is not cut', async (t) => {
  const h = await setup(
    t,
    async (_req, res) => {
      for (let i = 0; i < 6; i++) {
        res.write(`${i}`);
        await delay(100);
      }
      res.end('!');
    },
    { handlerTimeout: 250 },
  );
  const client = await h.client();
  client.send(get('/slow'));
  const [r] = await client.responses(1);
  assert.equal(r!.body, '012345!');
  assert.deepEqual(h.errors, []);
});

test('the time spent receiving the body does not count against handlerTimeout', async (t) => {
  const h = await setup(t, async (req, res) => res.end(await req.text()), {
    handlerTimeout: 200,
    requestTimeout: 5000,
  });
  const client = await h.client();
  client.send('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\n\r\nab');
  await delay(300);
  client.send('cd');
  await delay(300);
  client.send('ef');
  const [r] = await client.responses(1);
  assert.equal(r!.status, 200);
  assert.equal(r!.body, 'abcdef');
});

test('waiting for a slow client to read is not counted against handlerTimeout', async (t) => {
  const chunk = Buffer.alloc(64 * 1024, 0x63);
  const h = await setup(
    t,
    async (_req, res) => {
      res.setHeader('Content-Length', String(chunk.length * 128));
      for (let i = 0; i < 128; i++) if (!res.write(chunk)) await res.waitForDrain();
      res.end();
    },
    { handlerTimeout: 200 },
  );
  const client = await h.client();
  client.socket.pause();
  client.send(get('/big'));
  await delay(800); // four handlerTimeouts without reading
  client.socket.resume();
  // 8 MiB through RawClient, which re-reads all it has at every chunk: seconds on a loaded machine.
  const [r] = await client.responses(1, 15_000);
  assert.equal(r!.body.length, chunk.length * 128);
  assert.deepEqual(h.errors, []);
});

test('handlerTimeout 0 lets a handler take as long as it likes', async (t) => {
  const h = await setup(
    t,
    async (_req, res) => {
      await delay(400);
      res.end('late but fine');
    },
    { handlerTimeout: 0, keepAliveTimeout: 100, headersTimeout: 100 },
  );
  const client = await h.client();
  client.send(get('/'));
  const [r] = await client.responses(1);
  assert.equal(r!.body, 'late but fine');
});

test('without onError, the timeout is one warning line naming the method and path', async (t) => {
  const warnings: string[] = [];
  const errors: unknown[] = [];
  const { warn, error } = console;
  console.warn = (...args: unknown[]) => warnings.push(args.join(' '));
  console.error = (...args: unknown[]) => errors.push(args);
  t.after(() => {
    console.warn = warn;
    console.error = error;
  });
  const server = await start(() => {}, { handlerTimeout: 100 });
  const client = await RawClient.open(server.port);
  t.after(async () => {
    client.close();
    await server.shutdown();
  });
  client.send(get('/hang'));
  await serverClosed(client);
  assert.deepEqual(warnings, [
    'peregrine: GET /hang: the handler did not end its response within 100 ms (handlerTimeout); answered 503',
  ]);
  assert.deepEqual(errors, []);
});
