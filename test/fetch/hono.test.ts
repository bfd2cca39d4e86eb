import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { serve as honoNodeServe } from '@hono/node-server';
import { app } from '../fixtures/hono-app.ts';
import { startFetch as start } from './util.ts';

/** Headers that belong to each server's framing and clock, not to the app. */
const FRAMING = new Set(['date', 'connection', 'keep-alive', 'transfer-encoding', 'content-length']);

interface Answer {
  status: number;
  headers: [string, string][];
  setCookies: string[];
  body: string;
}

async function ask(base: string, path: string, init: RequestInit = {}): Promise<Answer> {
  const response = await fetch(base + path, { redirect: 'manual', ...init });
  const headers = [...response.headers].filter(([name]) => !FRAMING.has(name) && name !== 'set-cookie');
  return {
    status: response.status,
    headers,
    setCookies: response.headers.getSetCookie(),
    body: Buffer.from(await response.arrayBuffer()).toString('base64'),
  };
}

function form(): FormData {
  const data = new FormData();
  data.append('name', 'peregrine');
  data.append('file', new Blob([new Uint8Array(5000).fill(7)]), 'data.bin');
  return data;
}

/** Every request of the differential test: middleware, bodies, errors, streaming. */
const REQUESTS: [string, () => RequestInit][] = [
  ['/', () => ({})],
  ['/', () => ({ method: 'HEAD' })],
  ['/api/items', () => ({ headers: { Origin: 'https://app.example' } })],
  ['/api/items', () => ({ headers: { Origin: 'https://evil.example' } })],
  [
    '/api/items',
    () => ({
      method: 'OPTIONS',
      headers: {
        Origin: 'https://app.example',
        'Access-Control-Request-Method': 'POST',
        'Access-Control-Request-Headers': 'content-type',
      },
    }),
  ],
  ['/api/items/1', () => ({})],
  ['/api/items/9', () => ({})],
  [
    '/api/items',
    () => ({ method: 'POST', body: '{"name":"x"}', headers: { 'Content-Type': 'application/json' } }),
  ],
  ['/api/items', () => ({ method: 'POST', body: '{oops', headers: { 'Content-Type': 'application/json' } })],
  [
    '/api/items',
    () => ({ method: 'POST', body: '{"name":""}', headers: { 'Content-Type': 'application/json' } }),
  ],
  ['/api/items', () => ({ method: 'POST', body: JSON.stringify({ name: 'x'.repeat(2000) }) })],
  ['/query?a=1&a=2&b=%20x&c', () => ({})],
  ['/form', () => ({ method: 'POST', body: form() })],
  ['/form', () => ({ method: 'POST', body: new URLSearchParams({ name: 'a b&c' }) })],
  ['/etag/page', () => ({})],
  ['/etag/page', () => ({ headers: { 'If-None-Match': '"nope"' } })],
  ['/admin/panel', () => ({})],
  ['/admin/panel', () => ({ headers: { Authorization: `Basic ${btoa('admin:wrong')}` } })],
  ['/admin/panel', () => ({ headers: { Authorization: `Basic ${btoa('admin:secret')}` } })],
  ['/secure/page', () => ({})],
  ['/cookie', () => ({ headers: { Cookie: 'visits=2; other=x' } })],
  ['/stream', () => ({})],
  ['/sse', () => ({})],
  ['/redirect', () => ({})],
  [
    '/headers',
    () => ({
      headers: [
        ['X-Multi', 'a'],
        ['X-Multi', 'b'],
        ['User-Agent', 'differential'],
      ],
    }),
  ],
  ['/error', () => ({})],
  ['/http-error', () => ({})],
  ['/missing/path?x=1', () => ({})],
  ['/binary', () => ({})],
];

test('Hono on Peregrine answers exactly as on @hono/node-server (cors, etag, basic auth, cookies, streaming, SSE, bodies, errors)', {
  timeout: 60_000,
}, async (t) => {
  const peregrine = await start(t, { fetch: app.fetch });
  // Not patching the global Request and Response, so that the two servers share one process fairly.
  const node = honoNodeServe({
    fetch: app.fetch,
    port: 0,
    hostname: '127.0.0.1',
    overrideGlobalObjects: false,
  });
  await new Promise<void>((resolve) => node.once('listening', () => resolve()));
  t.after(() => new Promise<void>((resolve) => node.close(() => resolve())));
  const nodeBase = `http://127.0.0.1:${(node.address() as AddressInfo).port}`;
  const ourBase = peregrine.url('').replace(/\/$/, '');
  const labelled: string[] = [];
  for (const [path, init] of REQUESTS) {
    const expected = await ask(nodeBase, path, init());
    const actual = await ask(ourBase, path, init());
    // The one difference, by design: @hono/node-server labels any body the Response gave no
    // Content-Type as text/plain; Peregrine sends the headers the Response has, as Bun does.
    const type = expected.headers.findIndex(([name]) => name === 'content-type');
    if (type !== -1 && !actual.headers.some(([name]) => name === 'content-type')) {
      assert.equal(expected.headers[type]![1], 'text/plain; charset=UTF-8');
      expected.headers.splice(type, 1);
      labelled.push(path);
    }
    assert.deepEqual(actual, expected, `${init().method ?? 'GET'} ${path}`);
  }
  assert.deepEqual(labelled, ['/stream']); // hono's stream() sets no Content-Type
  // And the ETag round trip: the tag the first answer gave makes the second a 304.
  const first = await fetch(`${ourBase}/etag/page`);
  const tag = first.headers.get('etag')!;
  const again = await fetch(`${ourBase}/etag/page`, { headers: { 'If-None-Match': tag } });
  assert.equal(again.status, 304);
  assert.equal(await again.text(), '');
  assert.deepEqual(peregrine.errors, []);
});
