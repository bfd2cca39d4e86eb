import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { Agent } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { httpGet } from '../helpers.ts';
import { launchProgram, type Running } from '../workers/launch.ts';
import { sample, samples } from './prom.ts';

const FIXTURE = fileURLToPath(new URL('../fixtures/observe-server.ts', import.meta.url));
const GET_2XX = 'http_server_requests_total{http_request_method="GET",http_response_status_class="2xx"}';

async function stop(running: Running): Promise<number | null> {
  running.child.kill('SIGTERM');
  return running.exited;
}

/** Requests over many keep-alive connections, so that both workers get some. */
async function load(port: number, total: number): Promise<void> {
  const agent = new Agent({ keepAlive: true, maxSockets: 20 });
  const results = await Promise.all(Array.from({ length: total }, (_, i) => httpGet(port, `/r${i}`, agent)));
  agent.destroy();
  for (const r of results) assert.equal(r.status, 200);
}

for (const mode of ['threads', 'cluster'] as const) {
  describe(`metrics across 2 workers (${mode})`, () => {
    test('N requests are counted N times, by both workers, whichever answers the scrape', async () => {
      const running = await launchProgram(FIXTURE, { WORKERS: '2', MODE: mode });
      try {
        assert.equal(running.mode, mode);
        await load(running.port, 300);
        const text = (await httpGet(running.port, '/metrics')).body;
        assert.equal(sample(text, GET_2XX), 300);
        assert.equal(sample(text, 'peregrine_workers'), 2);
        assert.equal(sample(text, 'peregrine_scrape_workers_missing'), 0);
        const perWorker = [...samples(text).keys()].filter((k) =>
          k.startsWith('peregrine_worker_heap_used_bytes'),
        );
        assert.equal(perWorker.length, 2, perWorker.join(', '));
        const buckets = [...samples(text).entries()].filter(([k]) =>
          k.startsWith(
            'http_server_request_duration_seconds_bucket{http_request_method="GET",http_response_status_class="2xx"',
          ),
        );
        assert.equal(buckets.at(-1)![1], 300);
        // The scrape before is counted now.
        assert.equal(sample((await httpGet(running.port, '/metrics')).body, GET_2XX), 301);
      } finally {
        assert.equal(await stop(running), 0);
      }
    });
  });
}

test('a stuck worker does not hang the scrape: it is reported missing, and its counters stay', async () => {
  const running = await launchProgram(FIXTURE, { WORKERS: '2', MODE: 'threads' });
  try {
    await load(running.port, 100);
    assert.equal(sample((await httpGet(running.port, '/metrics')).body, GET_2XX), 100);
    // Blocked far longer than the scrape's 1 s wait for a worker, so that a slow machine still tells them apart.
    const blocked = httpGet(running.port, '/block?ms=6000');
    await new Promise((resolve) => setTimeout(resolve, 100));
    // Scrapes on fresh connections: the kernel spreads them over both workers (SO_REUSEPORT hashes
    // each connection), so with 20 the chance that none reaches the free one is 1 in a million.
    const started = Date.now();
    const scrapes = await Promise.race([
      Promise.any(
        Array.from({ length: 20 }, async () => {
          const text = (await httpGet(running.port, '/metrics')).body;
          if (sample(text, 'peregrine_scrape_workers_missing') !== 1) throw new Error('not missing');
          return text;
        }),
      ),
      blocked.then(() => null),
    ]);
    assert.notEqual(scrapes, null, 'every scrape waited for the blocked worker');
    assert.ok(Date.now() - started < 4_000, 'the scrape waited too long');
    // The blocked worker's requests (about half) are still in the total: its last numbers.
    assert.ok(sample(scrapes!, GET_2XX) >= 100, String(sample(scrapes!, GET_2XX)));
    assert.equal(
      [...samples(scrapes!).keys()].filter((k) => k.startsWith('peregrine_worker_heap_used_bytes')).length,
      1,
    );
    await blocked;
  } finally {
    assert.equal(await stop(running), 0);
  }
});

test('a restarted worker is counted, and totals never go down across the restart', async () => {
  const running = await launchProgram(FIXTURE, { WORKERS: '2', MODE: 'threads' });
  try {
    await load(running.port, 200);
    const before = sample((await httpGet(running.port, '/metrics')).body, GET_2XX);
    assert.equal(before, 200);
    await httpGet(running.port, '/crash');
    await running.waitForStderr(/is back and listening/);
    await new Promise((resolve) => setTimeout(resolve, 1_500)); // the crashed worker has retired
    const text = (await httpGet(running.port, '/metrics')).body;
    assert.equal(sample(text, 'peregrine_worker_restarts_total'), 1);
    // The crashed worker served about half: its last reported counters stay in the total.
    assert.ok(sample(text, GET_2XX) >= before, `${sample(text, GET_2XX)} after ${before}`);
  } finally {
    assert.equal(await stop(running), 0);
  }
});

for (const mode of ['threads', 'cluster'] as const) {
  test(`the access log loses no line at a graceful shutdown (${mode})`, async () => {
    const file = join(tmpdir(), `peregrine-observe-${process.pid}-${mode}.log`);
    rmSync(file, { force: true });
    const running = await launchProgram(FIXTURE, { WORKERS: '2', MODE: mode, LOG_TO: file });
    try {
      await load(running.port, 500);
      assert.equal(await stop(running), 0);
      const lines = readFileSync(file, 'latin1').split('\n').slice(0, -1);
      assert.equal(lines.length, 500);
      const targets = new Set(lines.map((line) => line.split(' ')[3]));
      assert.equal(targets.size, 500); // each request once, no line cut or mixed with another
      for (const line of lines) assert.match(line, /^\S+Z \S+ GET \/r\d+ 200 2 \d+\.\dms$/);
    } finally {
      running.child.kill('SIGKILL');
      rmSync(file, { force: true });
    }
  });
}
