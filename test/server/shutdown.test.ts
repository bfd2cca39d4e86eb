import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { connect, createServer } from 'node:net';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { serve } from '../../src/index.ts';
import { parseResponses, RawClient } from '../helpers.ts';
import { delay, gate, get, isClosed, serverClosed, setup } from './util.ts';

/** Resolves with the error code of a connection attempt, or 'connected'. */
function tryConnect(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'error'));
  });
}

test('shutdown() closes idle keep-alive connections at once and resolves', async (t) => {
  const h = await setup(t, (req, res) => res.end(req.path), { keepAliveTimeout: 60_000 });
  const idle = await h.client();
  idle.send(get('/1'));
  await idle.responses(1);
  const neverUsed = await h.client();
  const done = h.server.shutdown();
  await serverClosed(idle, 1000);
  await serverClosed(neverUsed, 1000);
  idle.close();
  neverUsed.close();
  await done;
  assert.equal(h.server.connections, 0);
  assert.equal(parseResponses(idle.text).length, 1);
  assert.equal(await tryConnect(h.port), 'ECONNREFUSED');
});

test('shutdown() lets an in-flight request finish with Connection: close and refuses new connections', async (t) => {
  const started = gate();
  const finish = gate();
  const h = await setup(t, async (req, res) => {
    if (req.path === '/slow') {
      started.open();
      await finish.promise;
      res.end(`slow done ${'z'.repeat(5000)}`);
    } else res.end(req.path);
  });
  const slow = await h.client();
  const idle = await h.client();
  idle.send(get('/idle'));
  await idle.responses(1);
  slow.send(get('/slow') + get('/pipelined'));
  await started.promise;

  let resolved = false;
  const done = h.server.shutdown().then(() => {
    resolved = true;
  });
  await serverClosed(idle, 1000); // the idle one goes at once
  idle.close();
  assert.equal(await tryConnect(h.port), 'ECONNREFUSED');
  await delay(20);
  assert.equal(resolved, false, 'shutdown() resolved while a request was in flight');
  assert.equal(isClosed(slow), false);

  finish.open();
  await serverClosed(slow);
  slow.close();
  await done;
  const responses = parseResponses(slow.text);
  // The request in flight is answered in full; the held pipelined one is not started.
  assert.equal(responses.length, 1);
  assert.equal(responses[0]!.body, `slow done ${'z'.repeat(5000)}`);
  assert.equal(responses[0]!.headers.get('connection'), 'close');
});

test('shutdownTimeout closes a request that takes too long, then shutdown() resolves', async (t) => {
  const never = gate();
  t.after(() => never.open());
  const started = gate();
  const h = await setup(
    t,
    async (_req, res) => {
      started.open();
      await never.promise;
      res.end('too late');
    },
    { shutdownTimeout: 200 },
  );
  const client = await h.client();
  client.send(get('/forever'));
  await started.promise;
  await h.server.shutdown();
  await serverClosed(client, 1000);
  assert.equal(client.text, '');
  assert.equal(h.server.connections, 0);
});

test('init() runs before the server listens, deinit() after shutdown', async (t) => {
  // Find a free port, then serve on it: during init() nothing may be listening there yet.
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const port = (probe.address() as { port: number }).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));

  const events: string[] = [];
  const server = await serve(
    {
      async init() {
        events.push('init');
        events.push(`connect during init: ${await tryConnect(port)}`);
        await delay(10);
        events.push('init done');
      },
      handleRequest(_req, res) {
        events.push('request');
        res.end('ok');
      },
      async deinit() {
        events.push(`deinit with ${server.connections} connections`);
        await delay(10);
        events.push('deinit done');
      },
    },
    { port, host: '127.0.0.1', handleSignals: false, workers: 1, log: false },
  );
  t.after(() => server.shutdown());
  assert.deepEqual(events, ['init', 'connect during init: ECONNREFUSED', 'init done']);
  const client = await RawClient.open(port);
  client.send(get('/'));
  await client.responses(1);
  client.close();
  await server.shutdown();
  assert.deepEqual(events.slice(3), ['request', 'deinit with 0 connections', 'deinit done']);
  // shutdown() is idempotent and does not run deinit() twice.
  await server.shutdown();
  assert.equal(events.filter((e) => e.startsWith('deinit with')).length, 1);
});

test('an init() that throws makes serve() reject without listening', async () => {
  const failure = new Error('no database');
  let requests = 0;
  await assert.rejects(
    serve(
      {
        init() {
          throw failure;
        },
        handleRequest(_req, res) {
          requests++;
          res.end();
        },
      },
      { port: 0, host: '127.0.0.1', handleSignals: false, workers: 1, log: false },
    ),
    (error) => error === failure,
  );
  assert.equal(requests, 0);
});

const fixture = fileURLToPath(new URL('../fixtures/signal-server.ts', import.meta.url));

/** Starts the fixture server and collects its stdout lines. */
async function startFixture(t: { after(fn: () => void): void }): Promise<{
  child: ChildProcess;
  port: number;
  lines: string[];
  waitFor(line: string): Promise<void>;
  stderr(): string;
}> {
  const child = spawn(process.execPath, [fixture], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const lines: string[] = [];
  let pending = '';
  let errors = '';
  const listeners: (() => void)[] = [];
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (text: string) => {
    pending += text;
    const parts = pending.split('\n');
    pending = parts.pop()!;
    lines.push(...parts);
    for (const wake of listeners.splice(0)) wake();
  });
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (text: string) => {
    errors += text;
  });
  const waitFor = async (prefix: string) => {
    const limit = Date.now() + 5000;
    while (!lines.some((l) => l.startsWith(prefix))) {
      if (child.exitCode !== null) throw new Error(`fixture exited: ${errors}`);
      if (Date.now() > limit)
        throw new Error(`fixture never printed ${prefix}: ${lines.join('|')} ${errors}`);
      await new Promise<void>((resolve) => {
        listeners.push(resolve);
        setTimeout(resolve, 100);
      });
    }
  };
  await waitFor('listening ');
  const port = Number(lines.find((l) => l.startsWith('listening '))!.split(' ')[1]);
  return { child, port, lines, waitFor, stderr: () => errors };
}

test('SIGTERM: the request in flight gets its full response, then the process exits with 0', async (t) => {
  const f = await startFixture(t);
  const client = await RawClient.open(f.port);
  t.after(() => client.close());
  client.send(get('/slow?ms=300'));
  await f.waitFor('request /slow');
  const exited = once(f.child, 'exit');
  f.child.kill('SIGTERM');
  await serverClosed(client, 5000);
  client.close();
  const [code, signal] = await exited;
  const responses = parseResponses(client.text);
  assert.equal(responses.length, 1, client.text);
  assert.equal(responses[0]!.status, 200);
  assert.equal(responses[0]!.body, 'response to /slow after 300 ms');
  assert.equal(responses[0]!.headers.get('connection'), 'close');
  assert.deepEqual([code, signal], [0, null]);
  assert.ok(f.lines.includes('deinit'));
  assert.match(f.stderr(), /SIGTERM received/);
});

test('SIGTERM with only idle connections exits at once with 0', async (t) => {
  const f = await startFixture(t);
  const client = await RawClient.open(f.port);
  t.after(() => client.close());
  client.send(get('/quick'));
  await client.responses(1);
  const exited = once(f.child, 'exit');
  f.child.kill('SIGTERM');
  await serverClosed(client, 2000);
  client.close();
  const [code] = await exited;
  assert.equal(code, 0);
});
