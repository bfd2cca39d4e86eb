/**
 * Fetch mode under random requests: any target and Host the parser lets through, any header names
 * and values, bodies or none. The lazy Request must always agree with the platform: `request.url`
 * is what the WHATWG URL parser makes of it, `headers` holds every field, and the body reads whole;
 * a Host that makes no URL is a 400 before `fetch` runs. Nothing reaches onError.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { requestTarget, startFetch as start } from '../fetch/util.ts';
import { RawClient } from '../helpers.ts';

const visible = (chars: string) => fc.string({ unit: fc.constantFrom(...chars.split('')), maxLength: 12 });
const target = requestTarget(8);
const host = fc.oneof(
  fc.constantFrom(
    'x',
    'Example.COM',
    'example.com:80',
    'a.b:8080',
    '127.1',
    '[::1]:3000',
    'xn--bcher-kva.example',
  ),
  visible('abcXYZ019-._~!$&()*+,;=%:[]@/?#\\'),
);
const header = fc.tuple(
  fc.string({
    unit: fc.constantFrom(...'abcdefXYZ-_!#$%&*+.^`|~0123456789'.split('')),
    minLength: 1,
    maxLength: 10,
  }),
  fc
    .string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 20 })
    .map((v) => v.trim()),
);
const request = fc.record({
  method: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'get', 'PATCH', 'OPTIONS'),
  target,
  host,
  headers: fc.array(header, { maxLength: 5 }),
  body: fc.option(fc.string({ maxLength: 200 }), { nil: undefined }),
});

test('fuzz: fetch mode agrees with the platform on any request the parser lets through', {
  timeout: 120_000,
}, async (t) => {
  const h = await start(t, {
    async fetch(request) {
      const problems: string[] = [];
      const url = request.url;
      if (new URL(url).href !== url) problems.push(`url ${url} is not as the URL parser writes it`);
      const copy = new Request(url, {
        method: request.method === 'get' ? 'GET' : request.method,
        headers: request.headers,
      });
      if ([...copy.headers].join('\n') !== [...request.headers].join('\n')) problems.push('headers differ');
      const body = await request.text();
      return Response.json({ problems, url, body });
    },
  });
  const port = h.server.port;
  const statuses = new Map<number, number>();
  await fc.assert(
    fc.asyncProperty(request, async ({ method, target: path, host: hostValue, headers, body }) => {
      const client = await RawClient.open(port);
      try {
        const lines = [
          `${method} ${path} HTTP/1.1`,
          `Host: ${hostValue}`,
          ...headers.map(([n, v]) => `${n}: ${v}`),
        ];
        if (body !== undefined) lines.push(`Content-Length: ${Buffer.byteLength(body)}`);
        client.send(`${lines.join('\r\n')}\r\nConnection: close\r\n\r\n${body ?? ''}`);
        const [response] = await client.responses(1, 5000);
        assert.ok(response !== undefined, `no response to ${JSON.stringify(lines)}`);
        statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
        if (response.status === 200) {
          const answer = JSON.parse(Buffer.from(response.body, 'latin1').toString('utf8')) as {
            problems: string[];
            url: string;
            body: string;
          };
          assert.deepEqual(answer.problems, [], JSON.stringify(lines));
          assert.equal(answer.body, method === 'GET' || method === 'get' ? '' : (body ?? ''));
        } else {
          // Only what the parser or the Host rule refuses: never a 500.
          assert.ok(
            [400, 405, 414, 431].includes(response.status),
            `${response.status} for ${JSON.stringify(lines)}`,
          );
        }
      } finally {
        client.close();
      }
    }),
    { numRuns: 300 },
  );
  assert.deepEqual(h.errors, []);
  t.diagnostic(`statuses: ${JSON.stringify(Object.fromEntries(statuses))}`);
  assert.ok((statuses.get(200) ?? 0) > 50, 'most requests reach fetch');
});
