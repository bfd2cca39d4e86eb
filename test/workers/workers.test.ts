import assert from 'node:assert/strict';
import { Agent } from 'node:http';
import { createServer } from 'node:net';
import { test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import WebSocketClient from 'ws';
import { httpGet } from '../helpers.ts';
import { launchProgram, type Running } from './launch.ts';

const FIXTURE = fileURLToPath(new URL('../fixtures/workers-server.ts', import.meta.url));

/** Runs the multi-worker fixture as its own program and waits for its start-up line. */
const launch = (env: Record<string, string> = {}) => launchProgram(FIXTURE, env);

async function stop(running: Running): Promise<number | null> {
  running.child.kill('SIGTERM');
  return running.exited;
}

test('with 2 workers, concurrent requests over many connections hit both, and the shared count is exact', async () => {
  const running = await launch({ WORKERS: '2' });
  try {
    assert.equal(running.mode, 'threads');
    const agent = new Agent({ keepAlive: true, maxSockets: 40 });
    const total = 600;
    const results = await Promise.all(Array.from({ length: total }, () => httpGet(running.port, '/', agent)));
    agent.destroy();
    const workers = new Set(results.map((r) => r.body.split(' ')[1]));
    assert.equal(workers.size, 2, `requests reached ${[...workers].join(', ')}`);
    const counts = results.map((r) => Number(r.body.split(' ')[0])).sort((a, b) => a - b);
    // Every request got a distinct number from 1 to N: no increment was lost or doubled.
    assert.deepEqual(
      counts,
      Array.from({ length: total }, (_, i) => i + 1),
    );
    assert.equal((await httpGet(running.port, '/count')).body, String(total));
  } finally {
    assert.equal(await stop(running), 0);
  }
});

test('a worker that crashes is logged and restarted; the other keeps serving', async () => {
  const running = await launch({ WORKERS: '2' });
  try {
    const crashed = (await httpGet(running.port, '/crash')).body;
    await running.waitForStderr(/died \(Error: boom/);
    // Every request is answered meanwhile: by the other worker, or by the crashed one while it retires
    // (it serves on, each response with Connection: close, for about half a second).
    for (let i = 0; i < 30; i++) assert.equal((await httpGet(running.port, '/')).status, 200);
    await running.waitForStderr(/is back and listening/);
    await delay(1_200); // the crashed worker's retirement is over
    const seen = new Set<string>();
    for (let i = 0; i < 200 && seen.size < 2; i++)
      seen.add((await httpGet(running.port, '/')).body.split(' ')[1]!);
    assert.equal(seen.size, 2, 'the restarted worker serves again');
    assert.ok(!seen.has(crashed), 'the restarted worker is a new thread');
  } finally {
    assert.equal(await stop(running), 0);
  }
});

test('a worker over its heap limit is restarted too', async () => {
  const running = await launch({ WORKERS: '2', HEAP_MB: '32' });
  try {
    await httpGet(running.port, '/oom');
    await running.waitForStderr(/died \(.*(out of memory|ERR_WORKER_OUT_OF_MEMORY)/is, 20_000);
    await running.waitForStderr(/is back and listening/);
    assert.equal((await httpGet(running.port, '/')).status, 200);
  } finally {
    assert.equal(await stop(running), 0);
  }
});

test('a worker that dies before it ever listens fails start-up instead of restarting forever', async () => {
  await assert.rejects(launch({ WORKERS: '2', BROKEN: '1' }), (error: Error) => {
    assert.match(error.message, /exited with 1 before listening/);
    assert.match(error.message, /broken worker: cannot start/);
    return true;
  });
});

test('a worker that keeps dying while the other serves is restarted with growing delays; the port is always served', async () => {
  const running = await launch({ WORKERS: '2', CRASH_AFTER_MS: '250' });
  try {
    // Each slot's backed-off restarts wait 100, 200, 400, … ms; a slot whose worker dies while the
    // other is down restarts at once instead (its dying worker serves until the new one listens).
    const delaysOf = (slot: number) =>
      [
        ...running
          .stderr()
          .matchAll(
            new RegExp(
              `worker ${slot} \\(thread \\d+\\) died \\((?:(?!peregrine: ).)*?; restarting in (\\d+) ms`,
              'gs',
            ),
          ),
      ].map((m) => Number(m[1]));
    const backoffs = () => delaysOf(1).length + delaysOf(2).length;
    // A worker here dies outright (no retiring), so a connection in its accept queue may be reset
    // (Linux drops a closed listener's queue; net.ipv4.tcp_migrate_req is off): a GET is retried once,
    // and the retry must find a worker.
    let resets = 0;
    for (let i = 0; i < 200 && backoffs() < 4; i++) {
      const response = await httpGet(running.port, '/').catch(async (error: NodeJS.ErrnoException) => {
        if (error.code !== 'ECONNRESET') throw error;
        resets++;
        return httpGet(running.port, '/');
      });
      assert.equal(response.status, 200, 'a request found no worker');
      await delay(50);
    }
    assert.ok(resets <= 3, `${resets} connections reset`);
    assert.ok(backoffs() >= 4, running.stderr());
    for (const slot of [1, 2]) {
      const delays = delaysOf(slot);
      assert.deepEqual(
        delays,
        delays.map((_, i) => 100 * 2 ** i),
        `worker ${slot}`,
      );
    }
  } finally {
    assert.equal(await stop(running), 0);
  }
});

test('SIGTERM during load: every request already received gets its full response, then exit 0', async () => {
  const running = await launch({ WORKERS: '2' });
  const inFlight = Array.from({ length: 12 }, () => httpGet(running.port, '/slow?ms=600'));
  await delay(250); // the requests are with the workers now
  running.child.kill('SIGTERM');
  const responses = await Promise.all(inFlight);
  for (const r of responses) {
    assert.equal(r.status, 200);
    assert.match(r.body, /^slow \d+:\d+$/);
  }
  assert.equal(await running.exited, 0);
  await assert.rejects(httpGet(running.port, '/'), /ECONNREFUSED/);
  // Each worker ran init() before serving and deinit() after its shutdown; the primary ran neither.
  const lines = running.stderr().split('\n');
  const inits = lines.filter((l) => l.startsWith('init ')).map((l) => l.slice(5));
  const deinits = lines.filter((l) => l.startsWith('deinit ')).map((l) => l.slice(7));
  assert.equal(new Set(inits).size, 2);
  assert.deepEqual(new Set(deinits), new Set(inits));
  assert.ok(!inits.includes(`${running.child.pid}:0`));
});

test('a second signal during a graceful shutdown exits at once', async () => {
  const running = await launch({ WORKERS: '2' });
  const slow = httpGet(running.port, '/slow?ms=4000').catch((error: Error) => error);
  await delay(200);
  running.child.kill('SIGTERM');
  await running.waitForStderr(/SIGTERM received, shutting down/);
  const started = Date.now();
  running.child.kill('SIGINT');
  assert.equal(await running.exited, 1);
  assert.ok(Date.now() - started < 2000, 'the second signal did not wait for the slow request');
  await running.waitForStderr(/SIGINT again, exiting now/);
  assert.ok((await slow) instanceof Error, 'the slow request was cut off');
});

test('a port already in use fails fast with a clear ListenError', async () => {
  const squatter = createServer();
  await new Promise<void>((resolve) => squatter.listen({ port: 0, host: '127.0.0.1' }, resolve));
  const port = (squatter.address() as { port: number }).port;
  try {
    await assert.rejects(launch({ WORKERS: '2', PORT: String(port) }), (error: Error) => {
      // The program's unhandled rejection, as printed on its stderr.
      assert.match(
        error.message,
        new RegExp(
          `ListenError: peregrine: cannot listen on 127\\.0\\.0\\.1:${port}: the address is already in use`,
        ),
      );
      assert.match(error.message, /code: 'EADDRINUSE'/);
      return true;
    });
  } finally {
    squatter.close();
  }
});

test('workers broadcast to each other over a channel', async () => {
  const running = await launch({ WORKERS: '2' });
  try {
    await httpGet(running.port, '/publish');
    for (let i = 0; i < 100 && (await httpGet(running.port, '/received')).body !== '1'; i++) await delay(20);
    // One publish reaches the one other worker (a channel doesn't hear itself).
    assert.equal((await httpGet(running.port, '/received')).body, '1');
  } finally {
    assert.equal(await stop(running), 0);
  }
});

/** A WebSocket client that asks which worker it landed on. */
async function wsOnWorker(
  port: number,
): Promise<{ client: WebSocketClient; worker: string; next(): Promise<string> }> {
  const client = new WebSocketClient(`ws://127.0.0.1:${port}/ws`);
  const inbox: string[] = [];
  const waiting: ((text: string) => void)[] = [];
  client.on('message', (data: Buffer) => {
    const text = data.toString();
    const waiter = waiting.shift();
    if (waiter === undefined) inbox.push(text);
    else waiter(text);
  });
  const next = () =>
    inbox.length > 0
      ? Promise.resolve(inbox.shift()!)
      : new Promise<string>((resolve) => waiting.push(resolve));
  await new Promise((resolve, reject) => {
    client.once('open', resolve);
    client.once('error', reject);
  });
  client.send('who');
  return { client, worker: await next(), next };
}

for (const mode of ['threads', 'cluster']) {
  test(`pub/sub reaches WebSocket subscribers on every worker (${mode})`, { timeout: 30_000 }, async () => {
    const running = await launch({ WORKERS: '2', MODE: mode });
    try {
      assert.equal(running.mode, mode);
      // Connect until two sockets sit on different workers (the kernel spreads connections).
      const sockets = [await wsOnWorker(running.port)];
      for (let i = 0; i < 40 && new Set(sockets.map((s) => s.worker)).size < 2; i++)
        sockets.push(await wsOnWorker(running.port));
      const a = sockets[0]!;
      const b = sockets.find((s) => s.worker !== a.worker);
      assert.ok(b !== undefined, 'never reached a second worker');
      b.client.send('sub news');
      assert.equal(await b.next(), 'subscribed');
      a.client.send('pub news across workers');
      assert.equal(await b.next(), 'across workers');
      for (const s of sockets) s.client.close();
      assert.doesNotMatch(running.stderr(), /uncaught error/);
    } finally {
      assert.equal(await stop(running), 0);
    }
  });
}

test('cluster mode (forced on Linux) serves from several processes and shuts down cleanly', async () => {
  const running = await launch({ WORKERS: '2', MODE: 'cluster' });
  try {
    assert.equal(running.mode, 'cluster');
    const agent = new Agent({ keepAlive: true, maxSockets: 8 });
    const results = await Promise.all(Array.from({ length: 80 }, () => httpGet(running.port, '/', agent)));
    agent.destroy();
    assert.ok(results.every((r) => r.status === 200));
    const pids = new Set(results.map((r) => r.body.split(' ')[1]!.split(':')[0]));
    assert.equal(pids.size, 2, 'round-robin reaches both processes');
    assert.ok(!pids.has(String(running.child.pid)), 'the primary only hands connections out');
    // channel() crosses processes through the primary: a publish in one reaches the other, whose
    // own (per-process) counter then reads 1; round-robin lets us ask both.
    await httpGet(running.port, '/publish');
    let heard = false;
    for (let i = 0; i < 100 && !heard; i++) {
      heard = (await httpGet(running.port, '/received')).body === '1';
      if (!heard) await delay(10);
    }
    assert.ok(heard, 'the other process received the broadcast');
  } finally {
    assert.equal(await stop(running), 0);
  }
});
