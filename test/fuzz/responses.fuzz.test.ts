/**
 * Random runs of responses alike but for a detail or two — status, header values, body, path,
 * HTTP version — pipelined on one connection. Peregrine reuses a head like the last one, remembers
 * checked header strings, the last path string and the bytes of long bodies: whatever the order,
 * every response must carry exactly its own status, headers, length and body.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { parseResponses, RawClient, start } from '../helpers.ts';

const BODIES = [
  '',
  'x',
  'hello',
  'é!',
  'a'.repeat(1024),
  'b'.repeat(1024),
  `${'a'.repeat(1023)}é`,
  'z'.repeat(6150),
];
const NAMES = ['X-A', 'X-B', 'x-a', 'Content-Type'];
const VALUES = ['1', '2', 'text/plain', 'text/plain; charset=utf-8', ''];
const STATUSES = [200, 201, 404, 500];

interface Step {
  status: number;
  body: number;
  headers: [number, number][];
  path: string;
  /** Whether the handler also sets X-Path (after the others). */
  echo: boolean;
  http10: boolean;
}

const PATHS = ['/a', '/b', '/ab', '/ba', '/a/b'];

const step: fc.Arbitrary<Step> = fc.record({
  status: fc.constantFrom(...STATUSES),
  body: fc.nat(BODIES.length - 1),
  headers: fc.array(fc.tuple(fc.nat(NAMES.length - 1), fc.nat(VALUES.length - 1)), { maxLength: 2 }),
  path: fc.constantFrom(...PATHS),
  echo: fc.boolean(),
  http10: fc.boolean(),
});

type Detail = 'status' | 'body' | 'name' | 'value' | 'add' | 'drop' | 'path' | 'echo' | 'version' | 'same';
const change = fc.record({
  detail: fc.constantFrom<Detail>(
    'status',
    'body',
    'name',
    'value',
    'add',
    'drop',
    'path',
    'echo',
    'version',
    'same',
  ),
  pick: fc.nat(999),
});

/** The step before with one detail changed (or none): what a cache keyed on that detail must notice. */
function changed(before: Step, { detail, pick }: { detail: Detail; pick: number }): Step {
  const next: Step = { ...before, headers: before.headers.map(([n, v]) => [n, v] as [number, number]) };
  const first = next.headers[0];
  if (detail === 'status') next.status = STATUSES[pick % STATUSES.length]!;
  else if (detail === 'body') next.body = pick % BODIES.length;
  else if (detail === 'name' && first) first[0] = pick % NAMES.length;
  else if (detail === 'value' && first) first[1] = pick % VALUES.length;
  else if (detail === 'add' && next.headers.length < 2)
    next.headers.push([pick % NAMES.length, pick % VALUES.length]);
  else if (detail === 'drop') next.headers.pop();
  else if (detail === 'path') next.path = PATHS[pick % PATHS.length]!;
  else if (detail === 'echo') next.echo = !next.echo;
  else if (detail === 'version') next.http10 = !next.http10;
  return next;
}

/** A run of responses, each like the one before but for at most one detail. */
const scenario = fc.tuple(step, fc.array(change, { minLength: 1, maxLength: 20 })).map(([first, changes]) => {
  const steps = [first];
  for (const c of changes) steps.push(changed(steps[steps.length - 1]!, c));
  return steps;
});

function request(s: Step): string {
  const query = `s=${s.status}&b=${s.body}&e=${s.echo ? 1 : 0}&h=${s.headers.map(([n, v]) => `${n}.${v}`).join('_')}`;
  return s.http10
    ? `GET ${s.path}?${query} HTTP/1.0\r\nConnection: keep-alive\r\n\r\n`
    : `GET ${s.path}?${query} HTTP/1.1\r\nHost: x\r\n\r\n`;
}

/** The headers a step sets, as the response must carry them: the last value per name, case-insensitively. */
function expectedHeaders(s: Step): Map<string, string> {
  const expected = new Map<string, string>();
  for (const [n, v] of s.headers) expected.set(NAMES[n]!.toLowerCase(), VALUES[v]!);
  return expected;
}

test('fuzz: responses alike but for details each carry their own head and body', async (t) => {
  const server = await start((req, res) => {
    res.status = Number(req.query.get('s'));
    for (const pair of (req.query.get('h') ?? '').split('_')) {
      if (pair === '') continue;
      const [n, v] = pair.split('.').map(Number);
      res.setHeader(NAMES[n!]!, VALUES[v!]!);
    }
    if (req.query.get('e') === '1') res.setHeader('X-Path', req.path);
    res.end(BODIES[Number(req.query.get('b'))]!);
  });
  t.after(() => server.shutdown());

  await fc.assert(
    fc.asyncProperty(scenario, async (steps) => {
      const client = await RawClient.open(server.port);
      try {
        client.send(steps.map(request).join(''));
        await client.responses(steps.length);
        const bytes = client.received;
        const responses = parseResponses(bytes.toString('latin1'));
        assert.equal(responses.length, steps.length);
        for (const [i, s] of steps.entries()) {
          const r = responses[i]!;
          const body = Buffer.from(BODIES[s.body]!, 'utf8');
          assert.equal(r.status, s.status, `response ${i}`);
          assert.equal(r.headers.get('content-length'), String(body.length), `response ${i}`);
          assert.ok(Buffer.from(r.body, 'latin1').equals(body), `response ${i}: body`);
          assert.equal(r.headers.get('x-path'), s.echo ? s.path : undefined, `response ${i}`);
          for (const [name, value] of expectedHeaders(s))
            assert.equal(r.headers.get(name), value, `${i} ${name}`);
          for (const name of ['x-a', 'x-b']) {
            if (!expectedHeaders(s).has(name)) assert.equal(r.headers.get(name), undefined, `${i} ${name}`);
          }
          assert.equal(r.headers.get('connection'), s.http10 ? 'keep-alive' : undefined, `response ${i}`);
          assert.equal(r.raw.match(/^date:/gim)?.length, 1, `response ${i}: one Date`);
        }
      } finally {
        client.close();
      }
    }),
    { seed: 7, numRuns: 150 },
  );
});
