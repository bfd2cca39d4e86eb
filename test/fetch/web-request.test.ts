import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { test } from 'node:test';
import { inspect } from 'node:util';
import fc from 'fast-check';
import { absoluteUrl, originOf } from '../../src/fetch/web-request.ts';
import { exchange } from '../helpers.ts';
import { requestTarget, startFetch as start } from './util.ts';

test('request.url is what the WHATWG URL parser makes of origin + target, for any target', () => {
  // Every byte a request-target may carry (the parser refuses controls and spaces), dot segments and
  // percent forms over-represented: the fast path must never differ from the parser.
  fc.assert(
    fc.property(
      requestTarget(12),
      fc.constantFrom('http://a.example', 'http://127.0.0.1:8080'),
      (target, origin) => {
        assert.equal(absoluteUrl(origin, target), new URL(origin + target).href);
      },
    ),
    { numRuns: 5000 },
  );
});

test('the origin comes from Host as the URL parser writes it; a Host that is no host is refused', () => {
  assert.equal(originOf('http', 'Example.COM'), 'http://example.com');
  assert.equal(originOf('http', 'example.com:80'), 'http://example.com');
  assert.equal(originOf('https', 'example.com:443'), 'https://example.com');
  assert.equal(originOf('http', 'example.com:8080'), 'http://example.com:8080');
  assert.equal(originOf('http', '127.1'), 'http://127.0.0.1');
  assert.equal(originOf('http', '[::1]:3000'), 'http://[::1]:3000');
  for (const bad of [undefined, '', 'a/b', 'a b', 'a@b', 'a?b', 'a#b', 'a:99999x', '[zz]', 'a\\b'])
    assert.equal(originOf('http', bad), null, String(bad));
  // A client making up hosts fills a bounded cache, never memory.
  for (let i = 0; i < 2000; i++) assert.equal(originOf('http', `h${i}.example`), `http://h${i}.example`);
});

test('fetch mode: the request is a Request — instanceof, members, inspect, method spelling', {
  timeout: 20_000,
}, async (t) => {
  let seen: Record<string, unknown> = {};
  const h = await start(t, {
    fetch(request) {
      seen = {
        isRequest: request instanceof Request,
        tag: Object.prototype.toString.call(request),
        method: request.method,
        url: request.url,
        headers: request.headers instanceof Headers,
        accept: request.headers.get('accept'),
        cache: request.cache,
        mode: request.mode,
        credentials: request.credentials,
        redirect: request.redirect,
        referrer: request.referrer,
        duplex: (request as Request & { duplex: string }).duplex,
        body: request.body,
        bodyUsed: request.bodyUsed,
        signal: request.signal instanceof AbortSignal && !request.signal.aborted,
        inspected: inspect(request),
        keys: Object.keys(request),
      };
      return new Response('ok');
    },
  });
  const port = Number(new URL(h.url('/')).port);
  const answer = await exchange(
    port,
    'get /a/./b/../c%7e?q=%zz HTTP/1.1\r\nHost: LOCALHOST:80\r\nAccept: a\r\nAccept: b\r\nConnection: close\r\n\r\n',
  );
  assert.match(answer, /^HTTP\/1\.1 200 /);
  assert.deepEqual(seen, {
    isRequest: true,
    tag: '[object Request]',
    method: 'GET', // Fetch normalizes the six common methods
    url: 'http://localhost/a/c%7e?q=%zz',
    headers: true,
    accept: 'a, b',
    cache: 'default',
    mode: 'cors',
    credentials: 'same-origin',
    redirect: 'follow',
    referrer: 'about:client',
    duplex: 'half',
    body: null,
    bodyUsed: false,
    signal: true,
    inspected: (seen as { inspected: string }).inspected,
    keys: ['params'],
  });
  assert.match(String(seen.inspected), /^Request \{[\s\S]*url: 'http:\/\/localhost\/a\/c%7e\?q=%zz'/);
  // Other methods keep their case, as in Fetch.
  const patch = await exchange(port, 'patch / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  assert.match(patch, /^HTTP\/1\.1 200 /);
  assert.equal(seen.method, 'patch');
});

test('fetch mode: the body is read once, in any form; a second read is a TypeError', {
  timeout: 20_000,
}, async (t) => {
  const h = await start(t, {
    async fetch(request) {
      const how = new URL(request.url).searchParams.get('how');
      const before = request.bodyUsed;
      let value: string;
      if (how === 'json') value = JSON.stringify(await request.json());
      else if (how === 'bytes') {
        const bytes = await request.bytes();
        value = `${bytes.constructor.name} ${bytes.byteLength} ${Buffer.isBuffer(bytes)}`;
      } else if (how === 'arrayBuffer') {
        const buffer = await request.arrayBuffer();
        value = `${buffer.constructor.name} ${buffer.byteLength}`;
      } else if (how === 'blob') {
        const blob = await request.blob();
        value = `${blob.type} ${await blob.text()}`;
      } else if (how === 'stream') {
        let text = '';
        for await (const chunk of request.body as unknown as AsyncIterable<Uint8Array>)
          text += Buffer.from(chunk).toString();
        value = text;
      } else value = await request.text();
      const second = await request.text().then(
        () => 'read again',
        (error: Error) => error.constructor.name,
      );
      return new Response(`${before} ${request.bodyUsed} ${second} ${value}`);
    },
    error: (error) => new Response(`${(error as Error).name}`, { status: 400 }),
  });
  const post = (how: string, body: string | Uint8Array, type = 'text/plain') =>
    fetch(h.url(`/?how=${how}`), { method: 'POST', body, headers: { 'content-type': type } }).then((r) =>
      r.text(),
    );
  assert.equal(await post('text', '\uFEFFhé'), 'false true TypeError hé'); // BOM dropped, as TextDecoder does
  assert.equal(await post('text', new Uint8Array([0x61, 0xff])), 'false true TypeError a\uFFFD');
  assert.equal(await post('json', '{"a":1}'), 'false true TypeError {"a":1}');
  assert.equal(await post('json', '{nope'), 'SyntaxError'); // as Request.json() rejects, to error()
  assert.equal(await post('bytes', 'abc'), 'false true TypeError Uint8Array 3 false');
  assert.equal(await post('arrayBuffer', 'abcd'), 'false true TypeError ArrayBuffer 4');
  assert.equal(
    await post('blob', 'xyz', 'Text/Plain;charset=UTF-8'),
    'false true TypeError text/plain;charset=utf-8 xyz',
  );
  assert.equal(await post('stream', 'streamed'), 'false true TypeError streamed');
  assert.equal(await post('text', ''), 'false true TypeError ');
});

test('fetch mode: a streamed request body is read while it arrives, with backpressure', {
  timeout: 20_000,
}, async (t) => {
  const got: string[] = [];
  let firstChunk: () => void;
  const firstArrived = new Promise<void>((resolve) => (firstChunk = resolve));
  const h = await start(t, {
    async fetch(request) {
      const reader = request.body!.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        got.push(Buffer.from(value).toString());
        firstChunk();
      }
      return new Response(got.join('|'));
    },
  });
  const socket = connect(Number(new URL(h.url('/')).port), '127.0.0.1');
  const reply = new Promise<string>((resolve) => {
    let text = '';
    socket.on('data', (chunk) => (text += chunk));
    socket.on('end', () => resolve(text));
  });
  socket.write(
    'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nfirst\r\n',
  );
  await firstArrived; // the handler has the first chunk before the rest is even sent
  socket.write('6\r\nsecond\r\n0\r\n\r\n');
  const text = await reply;
  assert.match(text, /^HTTP\/1\.1 200 /);
  assert.ok(text.endsWith('first|second'), text);
});

test('fetch mode: clone() is a platform Request (fetch() takes it) with the body teed; so is new Request(url, request)', {
  timeout: 20_000,
}, async (t) => {
  const upstream = await start(t, {
    async fetch(request) {
      return new Response(`${request.method} ${request.headers.get('x-hop')} ${await request.text()}`);
    },
  });
  const h = await start(t, {
    async fetch(request) {
      const mode = new URL(request.url).searchParams.get('mode');
      const target = upstream.url('/up');
      if (mode === 'clone') {
        const copy = request.clone();
        const platform = Object.getPrototypeOf(copy) === Request.prototype;
        const forwarded = await fetch(new Request(target, copy));
        return new Response(`${platform} ${await forwarded.text()} / mine: ${await request.text()}`);
      }
      const forwarded = await fetch(new Request(target, request));
      return new Response(await forwarded.text());
    },
  });
  const body = 'x'.repeat(100_000);
  const cloned = await fetch(h.url('/?mode=clone'), { method: 'PUT', body, headers: { 'x-hop': '1' } });
  assert.equal(await cloned.text(), `true PUT 1 ${body} / mine: ${body}`);
  const init = await fetch(h.url('/?mode=init'), {
    method: 'POST',
    body: 'hello',
    headers: { 'x-hop': '2' },
  });
  assert.equal(await init.text(), 'POST 2 hello');
});

test('fetch mode: server.requestIP gives the client address for the request, null for others', {
  timeout: 20_000,
}, async (t) => {
  const h = await start(t, {
    fetch(request, server) {
      return Response.json({
        mine: server.requestIP(request),
        other: server.requestIP(new Request('http://x/')),
      });
    },
  });
  const answer = (await (await fetch(h.url('/'))).json()) as {
    mine: { address: string; family: string; port: number };
    other: null;
  };
  assert.equal(answer.mine.address, '127.0.0.1');
  assert.equal(answer.mine.family, 'IPv4');
  assert.ok(answer.mine.port > 0);
  assert.equal(answer.other, null);
});
