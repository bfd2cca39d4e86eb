import assert from 'node:assert/strict';
import { Agent } from 'node:http';
import { test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import WebSocketClient from 'ws';
import { httpGet } from '../helpers.ts';
import { launchProgram } from '../workers/launch.ts';
import { startFetch as start, until } from './util.ts';

const FIXTURE = fileURLToPath(new URL('../fixtures/fetch-workers-server.ts', import.meta.url));

test('server: url, hostname and port, as Bun names them', { timeout: 20_000 }, async (t) => {
  const h = await start(t, { fetch: (_request, server) => new Response(server.url.href) });
  const { port } = h.server;
  assert.equal(h.server.hostname, '127.0.0.1');
  assert.equal(h.server.url.href, `http://127.0.0.1:${port}/`);
  assert.equal(await (await fetch(h.url('/'))).text(), `http://127.0.0.1:${port}/`);
});

test('server.timeout(request, seconds): one request gets its own handler timeout; 0 lifts it', {
  timeout: 20_000,
}, async (t) => {
  const h = await start(t, {
    handlerTimeout: 400,
    async fetch(request, server) {
      const { pathname } = new URL(request.url);
      if (pathname === '/short') {
        server.timeout(request, 0.1);
        await new Promise(() => {}); // never answers
      }
      server.timeout(request, 0);
      await delay(900); // past the server's 400 ms
      return new Response('late but fine');
    },
  });
  const started = Date.now();
  const short = await fetch(h.url('/short'));
  assert.equal(short.status, 503);
  assert.ok(Date.now() - started < 390, `answered after ${Date.now() - started} ms`);
  const lifted = await fetch(h.url('/lifted'));
  assert.equal(await lifted.text(), 'late but fine');
  assert.throws(() => h.server.timeout(new Request('http://x/'), -1), {
    name: 'UsageError',
    code: 'ERR_PEREGRINE_INVALID_ARGUMENT',
  });
});

test('server.pendingRequests counts the requests in flight', { timeout: 20_000 }, async (t) => {
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  const h = await start(t, {
    async fetch(request, server) {
      if (new URL(request.url).pathname === '/count') return new Response(String(server.pendingRequests));
      await held;
      return new Response('done');
    },
  });
  const slow = [fetch(h.url('/slow')), fetch(h.url('/slow'))];
  await until(() => h.server.pendingRequests >= 2, 'two requests in flight');
  assert.equal(h.server.pendingRequests, 2);
  assert.equal(await (await fetch(h.url('/count'))).text(), '3'); // the two, and this one
  release();
  await Promise.all(slow);
  await until(() => h.server.pendingRequests === 0, 'no request in flight');
  assert.equal(h.server.pendingRequests, 0);
});

test('server.reload() under traffic: new handlers for what comes next, no request or connection lost', {
  timeout: 30_000,
}, async (t) => {
  const h = await start(t, { fetch: () => new Response('A') });
  const agent = new Agent({ keepAlive: true, maxSockets: 4 });
  t.after(() => agent.destroy());
  const answers: string[] = [];
  let stop = false;
  const clients = Array.from({ length: 4 }, async () => {
    while (!stop) {
      const { status, body } = await httpGet(h.server.port, '/', agent);
      assert.equal(status, 200);
      answers.push(body);
    }
  });
  await delay(200);
  h.server.reload({ fetch: () => new Response('B') });
  await delay(200);
  h.server.reload({ routes: { '/': new Response('C') } });
  await delay(300);
  stop = true;
  await Promise.all(clients);
  // Each letter in turn, never back: A… then B… then C….
  const order = answers.join('').replace(/(.)\1*/g, '$1');
  assert.equal(order, 'ABC');
  // A reload that leaves nothing to answer is refused, and the old handlers stay.
  assert.throws(() => h.server.reload({}), /fetch mode needs a fetch\(request\) function or routes/);
  assert.throws(() => h.server.reload({ routes: { 'no-slash': new Response('x') } }), /must start with '\/'/);
  assert.throws(
    () => h.server.reload({ routes: { '/a': { get: () => new Response('') } } }),
    /upper-case method/,
  );
  assert.equal((await httpGet(h.server.port, '/')).body, 'C');
});

test('server.stop(): graceful lets the request in flight finish; stop(true) cuts it', {
  timeout: 30_000,
}, async (t) => {
  for (const closeActiveConnections of [false, true]) {
    let entered!: () => void;
    const inFlight = new Promise<void>((resolve) => (entered = resolve));
    const h = await start(t, {
      async fetch() {
        entered();
        await delay(500);
        return new Response('finished');
      },
    });
    const url = h.url('/');
    const answer = fetch(url).then(
      (response) => response.text(),
      () => 'cut',
    );
    await inFlight;
    const started = Date.now();
    await h.server.stop(closeActiveConnections);
    assert.equal(await answer, closeActiveConnections ? 'cut' : 'finished');
    if (closeActiveConnections)
      assert.ok(Date.now() - started < 400, 'stop(true) did not wait for the handler');
    await assert.rejects(fetch(url), 'no longer listening');
  }
});

for (const mode of ['threads', 'cluster']) {
  test(`fetch mode with two workers (${mode}): pub/sub reaches every worker; server.stop() in a worker stops them all`, {
    timeout: 60_000,
  }, async () => {
    const running = await launchProgram(FIXTURE, { MODE: mode });
    assert.equal(running.mode, mode);
    try {
      const url = `ws://127.0.0.1:${running.port}/ws`;
      // Connect until two sockets sit on different workers.
      const sockets: { client: WebSocketClient; worker: string }[] = [];
      const workers = new Set<string>();
      for (let i = 0; i < 40 && workers.size < 2; i++) {
        const client = new WebSocketClient(url);
        await new Promise((resolve, reject) => {
          client.once('open', resolve);
          client.once('error', reject);
        });
        client.send('who');
        const worker = await new Promise<string>((resolve) =>
          client.once('message', (data: Buffer) => resolve(String(data))),
        );
        if (workers.has(worker)) client.close();
        else {
          workers.add(worker);
          sockets.push({ client, worker });
        }
      }
      assert.equal(workers.size, 2, 'connections reached two workers');
      const [a, b] = sockets as [(typeof sockets)[0], (typeof sockets)[0]];
      const heard = new Promise<string>((resolve) =>
        b.client.once('message', (data: Buffer) => resolve(String(data))),
      );
      a.client.send('hello');
      assert.match(await heard, /: hello$/);
      for (const { client } of sockets) client.close();
      assert.equal((await httpGet(running.port, '/stop')).body, 'stopping');
      assert.equal(await running.exited, 0);
    } finally {
      running.child.kill();
    }
  });
}

test('fetch and error are called with the server as `this`, as Bun calls them', {
  timeout: 20_000,
}, async (t) => {
  const h = await start(t, {
    fetch(request) {
      if (request.url.endsWith('/fail')) throw new Error('failed');
      return new Response(String(this.port));
    },
    error() {
      return new Response(`error() saw port ${this.port}`, { status: 500 });
    },
  });
  assert.equal(await (await fetch(h.url('/'))).text(), String(h.server.port));
  assert.equal(await (await fetch(h.url('/fail'))).text(), `error() saw port ${h.server.port}`);
});
