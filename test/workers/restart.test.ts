import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import WebSocketClient from 'ws';
import { httpGet } from '../helpers.ts';
import { launchProgram, type Running } from './launch.ts';
import { startLoad, until } from './load.ts';

// Zero-downtime rolling restarts (SIGHUP, server.restartWorkers()) and readiness across workers,
// with the fixture run as its own program.

const FIXTURE = fileURLToPath(new URL('../fixtures/restart-server.ts', import.meta.url));
const launch = (env: Record<string, string> = {}) => launchProgram(FIXTURE, env);

/** How many rolling restarts the server has logged as done. */
const restartsDone = (running: Running) => running.stderr().split('restart done').length - 1;

async function stop(running: Running): Promise<void> {
  running.child.kill('SIGTERM');
  assert.equal(await running.exited, 0);
}

/** A WebSocket client that reconnects whenever the server closes it, recording the close codes. */
function reconnectingClient(port: number) {
  const state = { codes: [] as number[], opens: 0, echoes: [] as string[], stopped: false };
  let current: WebSocketClient | null = null;
  const open = () => {
    const client = new WebSocketClient(`ws://127.0.0.1:${port}/ws`);
    current = client;
    client.on('open', () => {
      state.opens++;
      client.send('hello');
    });
    client.on('message', (data: Buffer) => state.echoes.push(data.toString()));
    client.on('error', () => {});
    client.on('close', (code) => {
      if (state.stopped) return;
      state.codes.push(code);
      open();
    });
  };
  open();
  return {
    state,
    close() {
      state.stopped = true;
      current?.close();
    },
  };
}

/** Runs load through two rolling restarts started by `restart()`; checks nothing failed. */
async function throughTwoRestarts(running: Running, restart: () => void): Promise<void> {
  // 32 keep-alive clients, so that the kernel's SO_REUSEPORT hashing spreads the reconnections over
  // both new workers (with 8, every one of them landed on one worker in about one run of a hundred).
  const load = startLoad(running.port, 32);
  const sockets = Array.from({ length: 4 }, () => reconnectingClient(running.port));
  try {
    await until(() => load.ok >= 200 && sockets.every((s) => s.state.echoes.length > 0), 'the first answers');
    const before = load.takeWorkers();
    for (let round = 1; round <= 2; round++) {
      restart();
      await until(() => restartsDone(running) === round, `restart ${round}`, 30_000);
    }
    load.takeWorkers();
    const settled = load.ok;
    await until(() => load.ok >= settled + 200, 'answers after the restarts');
    const after = load.takeWorkers();
    const result = await load.stop();
    assert.deepEqual(result.failures, [], `${result.failures.length} of ${result.ok} requests failed`);
    assert.equal(before.size, 2);
    assert.equal(after.size, 2, 'two workers serve after the restarts');
    for (const worker of after) assert.ok(!before.has(worker), `${worker} was not replaced`);
    assert.ok(result.workers.size >= 6, `${result.workers.size} workers answered (2 + 2 + 2 expected)`);
    // Every WebSocket was closed with 1001 (going away) and reconnected to a new worker.
    await until(() => sockets.every((s) => s.state.echoes.length === s.state.opens), 'the reconnections');
    for (const { state } of sockets) {
      assert.ok(state.codes.length >= 1, 'a WebSocket outlived both restarts');
      assert.ok(
        state.codes.every((code) => code === 1001),
        `close codes ${state.codes}`,
      );
      assert.equal(state.opens, state.codes.length + 1);
      const last = state.echoes.at(-1)!.split(' ')[0]!;
      assert.ok(after.has(last), `the last reconnection reached ${last}`);
    }
  } finally {
    await load.stop();
    for (const s of sockets) s.close();
  }
}

test('SIGHUP restarts 2 worker threads one at a time, twice, under load: no request fails', {
  timeout: 60_000,
}, async () => {
  const running = await launch({ MODE: 'threads' });
  try {
    await throughTwoRestarts(running, () => running.child.kill('SIGHUP'));
    assert.match(running.stderr(), /worker 1 \(thread \d+\) listens; worker 1 \(thread \d+\) retires/);
  } finally {
    await stop(running);
  }
});

test('restartWorkers() called in a worker restarts 2 cluster processes, twice, under load: no request fails', {
  timeout: 60_000,
}, async () => {
  const running = await launch({ MODE: 'cluster' });
  try {
    assert.equal(running.mode, 'cluster');
    await throughTwoRestarts(running, () => void httpGet(running.port, '/restart'));
  } finally {
    await stop(running);
  }
});

test('a new worker that cannot start stops the restart; the old workers serve on', {
  timeout: 30_000,
}, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'peregrine-restart-'));
  const brokenFile = join(dir, 'broken');
  const running = await launch({ MODE: 'threads', BROKEN_FILE: brokenFile });
  try {
    const load = startLoad(running.port, 4);
    await until(() => load.ok >= 100, 'the first answers');
    const before = load.takeWorkers();
    writeFileSync(brokenFile, '');
    running.child.kill('SIGHUP');
    await running.waitForStderr(/restart stopped: worker 1 \(thread \d+\) exited before it was listening/);
    const settled = load.ok;
    await until(() => load.ok >= settled + 100, 'answers after the failed restart');
    const after = load.takeWorkers();
    const result = await load.stop();
    assert.deepEqual(result.failures, []);
    assert.deepEqual([...after].sort(), [...before].sort(), 'the same workers serve');
    // Once the program starts again, a restart goes through.
    rmSync(brokenFile);
    running.child.kill('SIGHUP');
    await until(() => restartsDone(running) === 1, 'the next restart', 20_000);
  } finally {
    await stop(running);
    rmSync(dir, { recursive: true, force: true });
  }
});

test('SIGTERM with shutdownDelay: every worker answers readiness 503 at once, and still serves', {
  timeout: 30_000,
}, async () => {
  const running = await launch({ MODE: 'threads', SHUTDOWN_DELAY: '1500' });
  // New connections until both workers have answered, before and after the signal.
  const everyWorker = async (path: string) => {
    const seen = new Map<string, number>();
    for (let i = 0; i < 100 && seen.size < 2; i++) {
      const [worker, status] = await Promise.all([httpGet(running.port, '/'), httpGet(running.port, path)]);
      seen.set(worker.body, status.status);
    }
    return seen;
  };
  assert.ok([...(await everyWorker('/readyz')).values()].every((status) => status === 200));
  running.child.kill('SIGTERM');
  await running.waitForStderr(/readiness is 503/);
  // Each connection lands on a worker the kernel picks: ask over many until both have answered.
  const statuses = new Map<string, number>();
  for (let i = 0; i < 200 && statuses.size < 2; i++) {
    const agentless = await Promise.all([httpGet(running.port, '/readyz'), httpGet(running.port, '/')]);
    assert.equal(agentless[0].status, 503, 'readiness after SIGTERM');
    assert.equal(agentless[1].status, 200, 'requests are still served');
    statuses.set(agentless[1].body, agentless[0].status);
  }
  assert.equal(statuses.size, 2, 'both workers answered during the delay');
  assert.equal(await running.exited, 0);
});

test('wrk through two rolling restarts: no socket error, no non-2xx answer', {
  timeout: 60_000,
}, async (t) => {
  if (!existsSync('/usr/bin/wrk')) {
    t.skip('wrk is not installed (apt-get install wrk)');
    return;
  }
  const running = await launch({ MODE: 'threads' });
  try {
    const wrk = spawn('/usr/bin/wrk', ['-t1', '-c20', '-d6s', `http://127.0.0.1:${running.port}/`]);
    let out = '';
    wrk.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    const done = new Promise((resolve) => wrk.on('exit', resolve));
    await new Promise((resolve) => setTimeout(resolve, 1000));
    running.child.kill('SIGHUP');
    await until(() => restartsDone(running) === 1, 'restart 1', 20_000);
    running.child.kill('SIGHUP');
    await until(() => restartsDone(running) === 2, 'restart 2', 20_000);
    await done;
    const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? 0);
    t.diagnostic(`wrk: ${requests} requests through two restarts`);
    assert.ok(requests > 1000, out);
    assert.doesNotMatch(out, /Socket errors/, out);
    assert.doesNotMatch(out, /Non-2xx/, out);
  } finally {
    await stop(running);
  }
});
