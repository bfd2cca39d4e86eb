import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { test } from 'node:test';
import { serve } from '../../src/index.ts';
import { exchange } from '../helpers.ts';
import { startFetch as start } from './util.ts';

test('fetch mode: every response body type, with its length when it comes whole', {
  timeout: 20_000,
}, async (t) => {
  const form = new FormData();
  form.append('a', '1');
  const bodies: Record<string, () => Response> = {
    '/text': () => new Response('Hello, World!'),
    '/bytes': () => new Response(new Uint8Array([1, 2, 3])),
    '/buffer': () => new Response(new Uint8Array([4, 5]).buffer),
    '/view': () => new Response(new DataView(new Uint8Array([6]).buffer)),
    '/blob': () => new Response(new Blob(['blob!'], { type: 'text/x-blob' })),
    '/params': () => new Response(new URLSearchParams({ q: 'a b' })),
    '/form': () => new Response(form),
    '/json': () => Response.json({ ok: true }, { status: 201 }),
    '/null': () => new Response(null, { status: 204 }),
    '/redirect': () => Response.redirect('http://example.com/elsewhere', 307),
    '/empty': () => new Response(''),
  };
  const h = await start(t, { fetch: (request) => bodies[new URL(request.url).pathname]!() });
  const text = await fetch(h.url('/text'));
  assert.equal(text.status, 200);
  assert.equal(text.headers.get('content-length'), '13');
  assert.equal(text.headers.get('content-type'), 'text/plain;charset=UTF-8');
  assert.equal(await text.text(), 'Hello, World!');
  assert.deepEqual([...new Uint8Array(await (await fetch(h.url('/bytes'))).arrayBuffer())], [1, 2, 3]);
  assert.deepEqual([...new Uint8Array(await (await fetch(h.url('/buffer'))).arrayBuffer())], [4, 5]);
  assert.deepEqual([...new Uint8Array(await (await fetch(h.url('/view'))).arrayBuffer())], [6]);
  const blob = await fetch(h.url('/blob'));
  assert.equal(blob.headers.get('content-type'), 'text/x-blob');
  assert.equal(await blob.text(), 'blob!');
  const params = await fetch(h.url('/params'));
  assert.match(params.headers.get('content-type') ?? '', /^application\/x-www-form-urlencoded/);
  assert.equal(await params.text(), 'q=a+b');
  const multipart = await fetch(h.url('/form'));
  assert.match(multipart.headers.get('content-type') ?? '', /^multipart\/form-data; boundary=/);
  assert.equal((await multipart.formData()).get('a'), '1');
  const json = await fetch(h.url('/json'));
  assert.equal(json.status, 201);
  assert.deepEqual(await json.json(), { ok: true });
  const none = await fetch(h.url('/null'));
  assert.equal(none.status, 204);
  assert.equal(await none.text(), '');
  const redirect = await fetch(h.url('/redirect'), { redirect: 'manual' });
  assert.equal(redirect.status, 307);
  assert.equal(redirect.headers.get('location'), 'http://example.com/elsewhere');
  const empty = await fetch(h.url('/empty'));
  assert.equal(empty.headers.get('content-length'), '0');
  assert.deepEqual(h.errors, []);
});

test('fetch mode: a stream is sent as it is read, chunked, or with the length it declares', {
  timeout: 20_000,
}, async (t) => {
  const encoder = new TextEncoder();
  const h = await start(t, {
    fetch(request) {
      const parts = ['one ', 'two ', 'three'];
      const stream = new ReadableStream<Uint8Array>({
        pull(controller) {
          const part = parts.shift();
          if (part === undefined) controller.close();
          else controller.enqueue(encoder.encode(part));
        },
      });
      const declared = new URL(request.url).searchParams.has('length');
      return new Response(stream, declared ? { headers: { 'Content-Length': '13' } } : {});
    },
  });
  const chunked = await exchange(
    Number(new URL(h.url('/')).port),
    'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
  );
  assert.match(chunked, /\r\ntransfer-encoding: chunked\r\n/i);
  assert.match(chunked, /\r\n\r\n4\r\none \r\n4\r\ntwo \r\n5\r\nthree\r\n0\r\n\r\n$/);
  const declared = await fetch(h.url('/?length'));
  assert.equal(declared.headers.get('content-length'), '13');
  assert.equal(await declared.text(), 'one two three');
});

test('fetch mode: the request — method, absolute URL from Host, headers, body in every form', {
  timeout: 20_000,
}, async (t) => {
  const h = await start(t, {
    async fetch(request) {
      const url = new URL(request.url);
      const kind = url.searchParams.get('as');
      const body =
        kind === 'json'
          ? JSON.stringify(await request.json())
          : kind === 'form'
            ? JSON.stringify(
                [...(await request.formData()).entries()].map(([k, v]) => [
                  k,
                  typeof v === 'string' ? v : `file ${v.name} ${v.size}`,
                ]),
              )
            : kind === 'bytes'
              ? String((await request.arrayBuffer()).byteLength)
              : await request.text();
      return new Response(`${request.method} ${request.url} ${request.headers.get('x-test')} ${body}`);
    },
  });
  const post = await fetch(h.url('/path?x=1&as=text'), {
    method: 'POST',
    body: 'hi',
    headers: { 'X-Test': 'yes' },
  });
  assert.equal(await post.text(), `POST ${h.url('/path?x=1&as=text')} yes hi`);
  const json = await fetch(h.url('/?as=json'), { method: 'PUT', body: '{"a":[1]}' });
  assert.match(await json.text(), /^PUT .* null \{"a":\[1\]\}$/);
  const form = new FormData();
  form.append('name', 'peregrine');
  form.append('file', new Blob([new Uint8Array(3000)]), 'data.bin');
  const multipart = await fetch(h.url('/?as=form'), { method: 'POST', body: form });
  assert.match(await multipart.text(), / \[\["name","peregrine"\],\["file","file data.bin 3000"\]\]$/);
  const urlencoded = await fetch(h.url('/?as=form'), {
    method: 'POST',
    body: new URLSearchParams({ k: 'v w' }),
  });
  assert.match(await urlencoded.text(), / \[\["k","v w"\]\]$/);
  // A large body arrives through the stream, chunk by chunk.
  const big = await fetch(h.url('/?as=bytes'), { method: 'POST', body: new Uint8Array(900_000) });
  assert.match(await big.text(), / 900000$/);
});

test('fetch mode: several Set-Cookie headers, HEAD, and Transfer-Encoding left to the server', {
  timeout: 20_000,
}, async (t) => {
  const h = await start(t, {
    fetch() {
      const headers = new Headers({ 'Transfer-Encoding': 'chunked', 'X-One': 'a' });
      headers.append('Set-Cookie', 'a=1; Path=/');
      headers.append('Set-Cookie', 'b=2, c; Path=/');
      return new Response('body', { headers });
    },
  });
  const port = Number(new URL(h.url('/')).port);
  const raw = await exchange(port, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  assert.match(raw, /\r\nset-cookie: a=1; Path=\/\r\n/i);
  assert.match(raw, /\r\nset-cookie: b=2, c; Path=\/\r\n/i);
  assert.match(raw, /\r\ncontent-length: 4\r\n/i);
  assert.doesNotMatch(raw, /transfer-encoding/i);
  const head = await exchange(port, 'HEAD / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  assert.match(head, /^HTTP\/1\.1 200 OK\r\n/);
  assert.ok(head.endsWith('\r\n\r\n'), 'no body after a HEAD response');
});

test('fetch mode: error() answers what fetch throws; without it, or when it fails too, a 500', {
  timeout: 20_000,
}, async (t) => {
  const withError = await start(t, {
    async fetch(request) {
      if (request.url.endsWith('/not-a-response')) return 'text' as unknown as Response;
      throw new Error('boom');
    },
    error: (error) => new Response(`caught: ${(error as Error).message}`, { status: 503 }),
  });
  const caught = await fetch(withError.url('/'));
  assert.equal(caught.status, 503);
  assert.equal(await caught.text(), 'caught: boom');
  const wrong = await fetch(withError.url('/not-a-response'));
  assert.equal(wrong.status, 503);
  assert.match(await wrong.text(), /^caught: fetch\(\) must return a Response, got string$/);

  const without = await start(t, {
    fetch() {
      throw new Error('no handler for it');
    },
  });
  const plain = await fetch(without.url('/'));
  assert.equal(plain.status, 500);
  await plain.text();
  assert.equal((without.errors[0] as Error).message, 'no handler for it');

  const failing = await start(t, {
    fetch() {
      throw new Error('first');
    },
    error() {
      throw new Error('second');
    },
  });
  const twice = await fetch(failing.url('/'));
  assert.equal(twice.status, 500);
  await twice.text();
  assert.equal((failing.errors[0] as Error).message, 'second');
});

test('fetch mode: a Host that makes no URL is a 400, and fetch is never called', {
  timeout: 20_000,
}, async (t) => {
  let calls = 0;
  const h = await start(t, {
    fetch() {
      calls++;
      return new Response('ok');
    },
  });
  const port = Number(new URL(h.url('/')).port);
  for (const host of ['a/b', 'a@b', 'a b', 'x:99999999']) {
    const raw = await exchange(port, `GET / HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
    assert.match(raw, /^HTTP\/1\.1 400 /, host);
  }
  assert.equal(calls, 0);
  assert.match(
    await exchange(port, 'GET http://other.example/p?q HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'),
    /^HTTP\/1\.1 200 /,
  );
});

test('fetch mode: a client that leaves mid-stream aborts request.signal and cancels the stream', {
  timeout: 40_000,
}, async (t) => {
  let aborted: (reason: unknown) => void;
  const abortedReason = new Promise((resolve) => (aborted = resolve));
  let cancelled: () => void;
  const wasCancelled = new Promise<void>((resolve) => (cancelled = resolve));
  const h = await start(t, {
    fetch(request) {
      request.signal.addEventListener('abort', () => aborted(request.signal.reason));
      let n = 0;
      return new Response(
        new ReadableStream({
          async pull(controller) {
            await new Promise((resolve) => setTimeout(resolve, 5));
            controller.enqueue(new TextEncoder().encode(`chunk ${n++}\n`));
          },
          cancel() {
            cancelled();
          },
        }),
      );
    },
  });
  const socket = connect(Number(new URL(h.url('/')).port), '127.0.0.1');
  socket.on('error', () => {});
  socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  await new Promise((resolve) => socket.once('data', resolve));
  socket.destroy();
  assert.ok((await abortedReason) instanceof Error);
  await wasCancelled;
  // The cut-short response closes its connection: nothing is left for shutdown to wait out.
  const started = Date.now();
  await h.server.shutdown();
  assert.ok(Date.now() - started < 5_000, `shutdown took ${Date.now() - started} ms`);
});

test('fetch mode: options are still checked; a fetch that is not a function is not fetch mode', {
  timeout: 20_000,
}, async () => {
  await assert.rejects(
    serve({ fetch: () => new Response('x'), port: 0, workers: 1, log: false, bogus: 1 } as never),
    /bogus/,
  );
  await assert.rejects(
    serve({ fetch: 'no' } as never),
    /handleRequest\(req, res\) method, or options with a fetch\(request\) function or routes/,
  );
});

test('fetch mode: pipelined requests with async handlers of different speeds are answered in order', {
  timeout: 20_000,
}, async (t) => {
  const h = await start(t, {
    async fetch(request) {
      const n = Number(new URL(request.url).searchParams.get('n'));
      await new Promise((resolve) => setTimeout(resolve, (5 - n) * 15)); // the first is the slowest
      return new Response(`answer ${n}`);
    },
  });
  const port = Number(new URL(h.url('/')).port);
  let pipelined = '';
  for (let n = 0; n < 5; n++)
    pipelined += `GET /?n=${n} HTTP/1.1\r\nHost: x\r\n${n === 4 ? 'Connection: close\r\n' : ''}\r\n`;
  const raw = await exchange(port, pipelined, 5000);
  assert.deepEqual(
    [...raw.matchAll(/answer (\d)/g)].map((m) => m[1]),
    ['0', '1', '2', '3', '4'],
  );
});

test('fetch mode: 304 and 204 carry no body; HEAD of a streamed response sends the head only', {
  timeout: 20_000,
}, async (t) => {
  const h = await start(t, {
    fetch(request) {
      const { pathname } = new URL(request.url);
      if (pathname === '/304') return new Response(null, { status: 304, headers: { ETag: '"v1"' } });
      if (pathname === '/204') return new Response(null, { status: 204 });
      return new Response(
        new ReadableStream({
          start(controller) {
            controller.enqueue(new TextEncoder().encode('streamed'));
            controller.close();
          },
        }),
      );
    },
  });
  const port = Number(new URL(h.url('/')).port);
  const notModified = await exchange(port, 'GET /304 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  assert.match(notModified, /^HTTP\/1\.1 304 Not Modified\r\n/);
  assert.match(notModified, /\r\netag: "v1"\r\n/i);
  assert.doesNotMatch(notModified, /content-length|transfer-encoding/i);
  assert.ok(notModified.endsWith('\r\n\r\n'));
  const noContent = await exchange(port, 'GET /204 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  assert.match(noContent, /^HTTP\/1\.1 204 No Content\r\n/);
  assert.doesNotMatch(noContent, /content-length|transfer-encoding/i);
  const head = await exchange(port, 'HEAD /stream HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  assert.match(head, /^HTTP\/1\.1 200 OK\r\n/);
  assert.ok(head.endsWith('\r\n\r\n'), `no body after a HEAD response: ${JSON.stringify(head)}`);
  const get = await exchange(port, 'GET /stream HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  assert.ok(get.endsWith('\r\n\r\nstreamed'), JSON.stringify(get));
});

test('fetch mode: a body past maxBodyBytes is a 413 (declared: before fetch runs; chunked: however it is read), never sent to error()', {
  timeout: 20_000,
}, async (t) => {
  const seen: string[] = [];
  let reached = 0;
  const h = await start(t, {
    maxBodyBytes: 1000,
    error: (error) => new Response(`error() got ${String(error)}`, { status: 500 }),
    async fetch(request) {
      reached++;
      const how = new URL(request.url).searchParams.get('how');
      if (how === 'stream') {
        const reader = request.body!.getReader();
        while (!(await reader.read()).done);
      } else if (how === 'form') await request.formData();
      else await request.text();
      return new Response('read it all');
    },
  });
  const declared = await fetch(h.url('/?how=text'), { method: 'POST', body: 'x'.repeat(5000) });
  seen.push(`declared ${declared.status}`);
  assert.equal(reached, 0);
  for (const how of ['text', 'stream', 'form']) {
    // Chunked, so the limit is found while the body streams in rather than from a Content-Length.
    const chunked = await fetch(h.url(`/?how=${how}`), {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new ReadableStream({
        start(controller) {
          for (let i = 0; i < 10; i++) controller.enqueue(new Uint8Array(300).fill(0x61));
          controller.close();
        },
      }),
      duplex: 'half',
    } as RequestInit);
    seen.push(`chunked ${how} ${chunked.status}`);
  }
  assert.deepEqual(seen, ['declared 413', 'chunked text 413', 'chunked stream 413', 'chunked form 413']);
  assert.equal(reached, 3);
  assert.deepEqual(h.errors, []); // a client's mistake, not the program's
});
