/**
 * Several keep-alive clients take turns with random requests — plain, pipelined pairs, async handlers,
 * uploads, and requests the handler keeps past their response — while idle connections park their
 * request state for the others to take. Every response must be its own request's, and a kept request
 * must never show another client's headers or body.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { Request, Response } from '../../src/index.ts';
import { RawClient, start } from '../helpers.ts';

type Kind = 'plain' | 'keep' | 'async' | 'upload' | 'ignored' | 'pair';

const kinds = fc.constantFrom<Kind>('plain', 'keep', 'async', 'upload', 'ignored', 'pair');
/** The size of a body the handler never reads: more than one read, and more than a handler may leave unread. */
const IGNORED_BYTES = 150_000;
const scenario = fc.array(fc.array(kinds, { minLength: 1, maxLength: 8 }), { minLength: 2, maxLength: 4 });

function request(kind: Exclude<Kind, 'pair'>, client: number, n: number): string {
  const headers = `Host: x\r\nX-Client: c${client}\r\nX-N: ${n}\r\n`;
  if (kind === 'ignored') {
    const body = 'i'.repeat(IGNORED_BYTES);
    return `POST /ignored/c${client}/${n} HTTP/1.1\r\n${headers}Content-Length: ${IGNORED_BYTES}\r\n\r\n${body}`;
  }
  if (kind !== 'upload') return `GET /${kind}/c${client}/${n} HTTP/1.1\r\n${headers}\r\n`;
  const body = `body of c${client} #${n}`;
  return `POST /upload/c${client}/${n} HTTP/1.1\r\n${headers}Content-Length: ${body.length}\r\n\r\n${body}`;
}

test('fuzz: parked request state never shows one client another client’s request', async (t) => {
  const kept: { req: Request; client: string }[] = [];
  const leaks: string[] = [];
  const checkKept = () => {
    for (const { req, client } of kept) {
      const seen = req.header('x-client');
      if (seen !== undefined && seen !== client) leaks.push(`${client}'s request showed ${seen}`);
      if (req.path !== '' && !req.path.includes(`/${client}/`))
        leaks.push(`${client}'s request showed ${req.path}`);
      if (req.hasBody) leaks.push(`${client}'s request showed a body`);
    }
  };
  const answer = (req: Request, res: Response, body: string) => {
    checkKept();
    res.end(`${req.header('x-client')} ${req.header('x-n')} ${req.path} ${body}`);
  };
  const server = await start((req, res) => {
    const kind = req.path.split('/')[1];
    if (kind === 'keep') kept.push({ req, client: req.header('x-client')! });
    if (kind === 'async')
      return new Promise<void>((resolve) => setImmediate(resolve)).then(() => answer(req, res, ''));
    if (kind === 'upload') return req.text().then((body) => answer(req, res, body));
    answer(req, res, '');
    return undefined;
  });
  t.after(() => server.shutdown());

  await fc.assert(
    fc.asyncProperty(scenario, async (plans) => {
      kept.length = 0;
      const clients = await Promise.all(plans.map(() => RawClient.open(server.port)));
      const expected: string[][] = plans.map(() => []);
      try {
        const rounds = Math.max(...plans.map((p) => p.length));
        for (let round = 0; round < rounds; round++) {
          for (const [c, plan] of plans.entries()) {
            const kind = plan[round];
            if (kind === undefined) continue;
            const n = expected[c]!.length;
            const sent = kind === 'pair' ? (['plain', 'keep'] as const) : ([kind] as const);
            clients[c]!.send(sent.map((k, i) => request(k, c, n + i)).join(''));
            for (const [i, k] of sent.entries()) {
              const body = k === 'upload' ? `body of c${c} #${n + i}` : '';
              expected[c]!.push(`c${c} ${n + i} /${k}/c${c}/${n + i} ${body}`);
            }
            const responses = await clients[c]!.responses(expected[c]!.length);
            assert.deepEqual(
              responses.map((r) => r.body),
              expected[c],
            );
          }
        }
        checkKept();
        assert.deepEqual(leaks, []);
      } finally {
        for (const client of clients) client.close();
      }
    }),
    { seed: 11, numRuns: 40 },
  );
});
