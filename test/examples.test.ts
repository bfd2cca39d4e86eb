import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { request } from 'node:http';
import { test } from 'node:test';
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
