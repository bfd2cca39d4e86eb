import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { request } from 'node:http';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import WebSocketClient from 'ws';
import { freePort, runExample } from './helpers.ts';

async function stop(child: ChildProcess): Promise<number | null> {
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.kill('SIGTERM');
  return exited;
}

function post(port: number, path: string, body: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path, method: 'POST', headers: { 'X-Test': 'yes' } },
      (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => {
          text += chunk.toString();
        });
        res.on('end', () => resolve(text));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

test('echo example: describes the request as JSON, and echoes WebSocket messages with compression', async () => {
  const port = await freePort();
  const child = await runExample('echo', port);
  try {
    const described = JSON.parse(await post(port, '/a?b=1', 'hello')) as Record<string, unknown>;
    assert.equal(described.method, 'POST');
    assert.equal(described.target, '/a?b=1');
    assert.equal(described.version, '1.1');
    assert.ok(
      (described.headers as string[][]).some(([name, value]) => name === 'X-Test' && value === 'yes'),
    );
    assert.equal(Buffer.from(described.body as string, 'base64').toString(), 'hello');

    const client = new WebSocketClient(`ws://127.0.0.1:${port}/any/path`, {
      perMessageDeflate: { threshold: 0 },
    });
    await new Promise((resolve, reject) => {
      client.once('open', resolve);
      client.once('error', reject);
    });
    assert.match(client.extensions, /permessage-deflate/);
    for (const [payload, binary] of [
      ['text stays text', false],
      [Buffer.from([1, 2, 3]), true],
    ] as const) {
      const reply = new Promise<[Buffer, boolean]>((resolve) =>
        client.once('message', (d: Buffer, b: boolean) => resolve([d, b])),
      );
      client.send(payload, { binary });
      const [data, isBinary] = await reply;
      assert.equal(isBinary, binary);
      assert.deepEqual(data, Buffer.from(payload as string | Buffer));
    }
    client.close();
  } finally {
    assert.equal(await stop(child), 0);
  }
});

test('counter example: counts across 2 workers, exactly', async () => {
  const port = await freePort();
  const child = await runExample('counter', port, '2');
  try {
    const get = () =>
      new Promise<string>((resolve, reject) => {
        request({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => {
          let text = '';
          res.on('data', (chunk: Buffer) => {
            text += chunk.toString();
          });
          res.on('end', () => resolve(text));
        })
          .on('error', reject)
          .end();
      });
    const counts = (await Promise.all(Array.from({ length: 50 }, get))).map(Number).sort((a, b) => a - b);
    assert.deepEqual(
      counts,
      Array.from({ length: 50 }, (_, i) => i + 1),
    );
  } finally {
    assert.equal(await stop(child), 0);
  }
});

test('dirserver example: serves its directory with caching headers, and refuses traversal', async () => {
  const port = await freePort();
  const child = await runExample('dirserver', port);
  try {
    const fetched = await fetch(`http://127.0.0.1:${port}/basic.ts`);
    assert.equal(fetched.status, 200);
    assert.match(fetched.headers.get('content-type') ?? '', /typescript|javascript|octet-stream|text/);
    assert.ok(fetched.headers.get('etag'));
    assert.match(await fetched.text(), /Hello, World!/);
    const again = await fetch(`http://127.0.0.1:${port}/basic.ts`, {
      headers: { 'If-None-Match': fetched.headers.get('etag')! },
    });
    assert.equal(again.status, 304);
    const traversal = await fetch(`http://127.0.0.1:${port}/%2e%2e/package.json`);
    assert.ok(traversal.status === 400 || traversal.status === 404, String(traversal.status));
  } finally {
    assert.equal(await stop(child), 0);
  }
});

/** Starts `command` as a terminal's foreground job (a process group of its own) running the counter example. */
async function exampleInGroup(command: string, args: string[], port: number) {
  const child = spawn(command, args, {
    cwd: fileURLToPath(new URL('..', import.meta.url)),
    env: { ...process.env, PORT: String(port), WORKERS: '2', npm_config_update_notifier: 'false' },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const output = { out: '', err: '' };
  child.stdout!.on('data', (chunk: Buffer) => {
    output.out += chunk.toString();
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    output.err += chunk.toString();
  });
  const exited = new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
    child.once('exit', (code, signal) => resolve([code, signal])),
  );
  const deadline = Date.now() + 20_000;
  while (!output.out.includes('listening on') && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 20));
  return { child, output, exited };
}

test('npm run example: Ctrl+C (SIGINT to the whole process group) shuts the example down once, gracefully', async () => {
  // Through npm, which forwards the signal too, and through the script alone.
  for (const [command, args] of [
    ['npm', ['run', '--silent', 'example', '--', 'counter']],
    [process.execPath, ['scripts/example.ts', 'counter']],
  ] as const) {
    const port = await freePort();
    const { child, output, exited } = await exampleInGroup(command, [...args], port);
    try {
      assert.ok(output.out.includes('listening on'), `no start-up line\n${output.out}\n${output.err}`);
      const res = await fetch(`http://127.0.0.1:${port}/`);
      assert.equal(res.status, 200);
      await res.text();
      process.kill(-child.pid!, 'SIGINT');
      const [code, signal] = await exited;
      // npm itself may end by the signal it got; the script mirrors the example's exit code.
      if (command === 'npm') assert.ok(code === 0 || signal === 'SIGINT', `npm ended with ${code} ${signal}`);
      else assert.equal(code, 0, output.err);
      assert.equal(output.err.match(/SIGINT received, shutting down/g)?.length, 1, output.err);
      assert.doesNotMatch(output.err, /again, exiting now/);
    } finally {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // the group is gone
      }
    }
  }
});

test('websocket example: guests on different workers get distinct names', async () => {
  const port = await freePort();
  const child = await runExample('websocket', port, '2');
  try {
    const url = `ws://127.0.0.1:${port}/chat`;
    const watcher = new WebSocketClient(url);
    const joined = new Set<string>();
    watcher.on('message', (data) => {
      const line = String(data);
      if (line.endsWith(' joined')) joined.add(line.slice(0, -' joined'.length));
    });
    await new Promise((resolve) => watcher.once('open', resolve));
    // Fresh connections, so the workers share them out.
    const guests = await Promise.all(
      Array.from({ length: 20 }, async () => {
        const ws = new WebSocketClient(url);
        await new Promise((resolve) => ws.once('open', resolve));
        return ws;
      }),
    );
    const deadline = Date.now() + 5000;
    while (joined.size < 21 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.equal(joined.size, 21, `names: ${[...joined].join(', ')}`);
    for (const name of joined) assert.match(name, /^guest-\d+-\d+$/);
    // Both workers took some, and their names differ by worker id.
    assert.ok(new Set([...joined].map((name) => name.split('-')[1])).size >= 2, [...joined].join(', '));
    for (const ws of [watcher, ...guests]) ws.close();
  } finally {
    assert.equal(await stop(child), 0);
  }
});

test('hono example: a REST API with params, JSON bodies, validation errors and CORS', async () => {
  const port = await freePort();
  const child = await runExample('hono', port);
  const base = `http://127.0.0.1:${port}`;
  try {
    const created = await fetch(`${base}/todos`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Origin: 'https://app.example' },
      body: JSON.stringify({ title: '  write tests ' }),
    });
    assert.equal(created.status, 201);
    assert.equal(created.headers.get('location'), '/todos/1');
    assert.equal(created.headers.get('access-control-allow-origin'), '*');
    assert.deepEqual(await created.json(), { id: 1, title: 'write tests', done: false });
    const invalid = await fetch(`${base}/todos`, { method: 'POST', body: '{"title": 3, "done": "yes"}' });
    assert.equal(invalid.status, 400);
    assert.deepEqual(await invalid.json(), {
      errors: ['title must be a non-empty string', 'done must be true or false'],
    });
    const notJson = await fetch(`${base}/todos`, { method: 'POST', body: '{' });
    assert.deepEqual(await notJson.json(), { errors: ['the body must be a JSON object'] });
    const patched = await fetch(`${base}/todos/1`, { method: 'PATCH', body: '{"done": true}' });
    assert.deepEqual(await patched.json(), { id: 1, title: 'write tests', done: true });
    assert.deepEqual(await (await fetch(`${base}/todos`)).json(), [
      { id: 1, title: 'write tests', done: true },
    ]);
    const preflight = await fetch(`${base}/todos/1`, {
      method: 'OPTIONS',
      headers: { Origin: 'https://app.example', 'Access-Control-Request-Method': 'DELETE' },
    });
    assert.equal(preflight.status, 204);
    assert.match(preflight.headers.get('access-control-allow-methods') ?? '', /DELETE/);
    assert.equal((await fetch(`${base}/todos/1`, { method: 'DELETE' })).status, 204);
    const gone = await fetch(`${base}/todos/1`);
    assert.equal(gone.status, 404);
    assert.deepEqual(await gone.json(), { error: 'no such to-do' });
    assert.deepEqual(await (await fetch(`${base}/nowhere`)).json(), { error: 'no route for GET /nowhere' });
  } finally {
    assert.equal(await stop(child), 0);
  }
});

test('bun-style example: routes, a static page, and a WebSocket chat across two workers', async () => {
  const port = await freePort();
  const child = await runExample('bun-style', port, '2');
  const base = `http://127.0.0.1:${port}`;
  try {
    const page = await fetch(`${base}/`);
    assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
    assert.match(await page.text(), /new WebSocket/);
    assert.deepEqual(await (await fetch(`${base}/api/hello/w%C3%B6rld`)).json(), { hello: 'wörld' });
    // A method no route takes goes to fetch, as in Bun (which answers 404 here).
    assert.equal((await fetch(`${base}/api/status`, { method: 'POST' })).status, 404);
    assert.deepEqual(await (await fetch(`${base}/api/status`)).json(), { pendingRequests: 1, webSockets: 0 });
    assert.equal((await fetch(`${base}/chat`)).status, 400);
    // Ten guests on fresh connections, so both workers take some: each hears everyone.
    const guests = await Promise.all(
      Array.from({ length: 10 }, async (_, i) => {
        const ws = new WebSocketClient(`ws://127.0.0.1:${port}/chat?name=g${i}`);
        const heard: string[] = [];
        ws.on('message', (data) => heard.push(String(data)));
        await new Promise((resolve) => ws.once('open', resolve));
        return { ws, heard };
      }),
    );
    guests[3]!.ws.send('hello all');
    const deadline = Date.now() + 5000;
    while (guests.some((g) => !g.heard.includes('g3: hello all')) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    for (const [i, guest] of guests.entries())
      assert.ok(guest.heard.includes('g3: hello all'), `guest ${i}: ${guest.heard}`);
    for (const { ws } of guests) ws.close();
  } finally {
    assert.equal(await stop(child), 0);
  }
});

const hasRedis = spawnSync('redis-server', ['--version']).status === 0;

test('chat-cluster example: two instances and the redis-server it starts; a message typed on one shows on the other', {
  skip: hasRedis ? false : 'redis-server is not installed (Debian: apt-get install redis-server)',
}, async () => {
  const port = await freePort();
  let port2 = await freePort();
  while (port2 === port) port2 = await freePort();
  const file = fileURLToPath(new URL('../examples/chat-cluster.ts', import.meta.url));
  const child = spawn(process.execPath, [file], {
    env: { ...process.env, PORT: String(port), PORT2: String(port2), WORKERS: '1', REDIS_URL: '' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    await new Promise<void>((resolve, reject) => {
      let out = '';
      child.stdout!.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        if (out.split('listening on').length === 3) resolve();
      });
      child.once('exit', (code) => reject(new Error(`chat-cluster exited with ${code}: ${out}`)));
      setTimeout(() => reject(new Error(`chat-cluster did not start in 20 s: ${out}`)), 20_000).unref();
    });
    const open = async (p: number) => {
      const ws = new WebSocketClient(`ws://127.0.0.1:${p}/chat`);
      await new Promise((resolve) => ws.once('open', resolve));
      return ws;
    };
    const [first, second] = [await open(port), await open(port2)];
    const seen: string[] = [];
    second.on('message', (data) => seen.push(String(data)));
    // The second instance subscribes on Redis as its first guest arrives: say it until it is heard.
    const deadline = Date.now() + 5000;
    while (!seen.some((line) => /^guest-1\.\d+-1: hello$/.test(line)) && Date.now() < deadline) {
      first.send('hello');
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(
      seen.some((line) => /^guest-1\.\d+-1: hello$/.test(line)),
      `the second instance's guest saw: ${seen.join(' | ')}`,
    );
    first.close();
    second.close();
  } finally {
    assert.equal(await stop(child), 0);
  }
});
