/**
 * An idle keep-alive connection gives its request's head and body state, and its response's header
 * arrays, back to the thread's spares, and the next connection to need them takes them. A handler
 * that kept a reference past its response must never see another client's request through it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Request, Response } from '../../src/index.ts';
import { get, post, setup } from './util.ts';

test('a request kept past its response reads nothing of the next client’s request', async (t) => {
  let kept: Request | undefined;
  const seenDuringB: (string | undefined)[] = [];
  const h = await setup(t, (req, res) => {
    if (req.path === '/keep') kept = req;
    else seenDuringB.push(kept?.header('x-secret'), kept?.path, kept?.target);
    res.end(`${req.path} ${req.header('x-secret')}`);
  });
  const alice = await h.client();
  alice.send(get('/keep', 'X-Secret: alice'));
  assert.equal((await alice.responses(1))[0]!.body, '/keep alice');

  // Alice's connection is idle now; Bob's request is parsed into the state hers gave back.
  const bob = await h.client();
  bob.send(get('/other?q=1', 'X-Secret: bob'));
  assert.equal((await bob.responses(1))[0]!.body, '/other bob');

  assert.ok(kept);
  for (const value of [...seenDuringB, kept.header('x-secret'), kept.path, kept.target]) {
    assert.notEqual(value, 'bob');
    assert.notEqual(value, '/other');
    assert.notEqual(value, '/other?q=1');
  }
  assert.equal(kept.headerCount, 0);
  assert.deepEqual([...kept.headers()], []);
  assert.equal(kept.hasBody, false);
});

test('a response kept past its end holds none of the next client’s headers', async (t) => {
  let kept: Response | undefined;
  const h = await setup(t, (req, res) => {
    if (req.path === '/keep') kept = res;
    res.setHeader('X-User', req.header('x-user') ?? '');
    res.end('ok');
  });
  const alice = await h.client();
  alice.send(get('/keep', 'X-User: alice'));
  assert.equal((await alice.responses(1))[0]!.headers.get('x-user'), 'alice');
  const bob = await h.client();
  bob.send(get('/other', 'X-User: bob'));
  assert.equal((await bob.responses(1))[0]!.headers.get('x-user'), 'bob');

  assert.ok(kept);
  assert.notEqual(kept.getHeader('x-user'), 'bob');
  assert.throws(() => kept!.setHeader('X-Late', '1'), /already ended/);
  assert.throws(() => kept!.end('late'), /already ended/);
});

test('reading the body of a request kept past its response fails and leaves the next upload intact', async (t) => {
  let kept: Request | undefined;
  const upload = async (req: Request, res: Response): Promise<void> => {
    const late = await kept!.bytes().then(
      () => 'read',
      (error: Error) => error.message,
    );
    res.end(`${late} | ${await req.text()}`);
  };
  // Synchronous for /keep: only a request whose handler finished synchronously is parked.
  const h = await setup(t, (req, res) => {
    if (req.path !== '/keep') return upload(req, res);
    kept = req;
    res.end('kept');
    return undefined;
  });
  const alice = await h.client();
  alice.send(get('/keep'));
  assert.equal((await alice.responses(1))[0]!.body, 'kept');
  const bob = await h.client();
  bob.send(post('/upload', 'the body of bob'));
  assert.equal((await bob.responses(1))[0]!.body, 'the request has ended | the body of bob');
});

test('a connection parked between requests serves each later request with its own head', async (t) => {
  const h = await setup(t, (req, res) => res.end(`${req.path} ${req.header('x-n')}`));
  const clients = [await h.client(), await h.client(), await h.client()];
  // Each round, every connection goes idle (and parks) before the next one's request arrives.
  for (let round = 1; round <= 3; round++) {
    for (const [i, client] of clients.entries()) {
      client.send(get(`/c${i}/r${round}`, `X-N: ${i}-${round}`));
      const responses = await client.responses(round);
      assert.equal(responses[round - 1]!.body, `/c${i}/r${round} ${i}-${round}`);
    }
  }
});
