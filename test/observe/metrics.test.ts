import assert from 'node:assert/strict';
import { connect as http2Connect } from 'node:http2';
import { describe, test } from 'node:test';
import WebSocketClient from 'ws';
import type { ServerMetrics } from '../../src/index.ts';
import {
  DURATION_BOUNDARIES,
  METHODS,
  methodIndex,
  TIMEOUT_HANDLER,
  toServerMetrics,
  WorkerMetrics,
} from '../../src/observe/metrics.ts';
import { escapeLabel, renderPrometheus } from '../../src/observe/prometheus.ts';
import { exchange, httpGet } from '../helpers.ts';
import { delay, get, setup } from '../server/util.ts';
import { checkMetrics, promtool, sample } from './prom.ts';

const GET_2XX = 'http_request_method="GET",http_response_status_class="2xx"';

function metricsOf(counters: WorkerMetrics): ServerMetrics {
  const snapshot = counters.snapshot(
    0,
    {
      connectionsTotal: 0,
      connectionsEvicted: 0,
      connectionsRefused: 0,
      receivedBytes: 0,
      sentBytes: 0,
      openConnections: 0,
      activeRequests: 0,
      openWebSockets: 0,
      pubsubConnected: 0,
    },
    { min: 0, mean: 0, p50: 0, p90: 0, p99: 0, max: 0 },
  );
  return toServerMetrics(snapshot, [snapshot], 1, 0, 0);
}

describe('WorkerMetrics', () => {
  test('methods are labelled as OpenTelemetry says: known ones by name, the rest _OTHER', () => {
    for (const [i, method] of METHODS.entries())
      if (method !== '_OTHER') assert.equal(methodIndex(method), i);
    assert.equal(METHODS[methodIndex('PROPFIND')], '_OTHER');
    assert.equal(METHODS[methodIndex('get')], '_OTHER'); // methods are case-sensitive
  });

  test('durations fall in `le` buckets (a boundary belongs to its own), and buckets are cumulative', () => {
    const m = new WorkerMetrics();
    m.requestEnded('GET', 200, 0.005); // exactly a boundary
    m.requestEnded('GET', 204, 0.0051);
    m.requestEnded('GET', 299, 11); // above the last boundary: +Inf only
    m.requestEnded('POST', 503, 0.2);
    m.requestEnded('BREW', 418, 0);
    const metrics = metricsOf(m);
    const get = metrics.requestDuration.series.find((s) => s.method === 'GET')!;
    assert.equal(get.statusClass, '2xx');
    assert.equal(get.buckets.length, DURATION_BOUNDARIES.length + 1);
    assert.deepEqual(get.buckets.slice(0, 3), [1, 2, 2]);
    assert.equal(get.buckets.at(-2), 2);
    assert.equal(get.buckets.at(-1), 3);
    assert.equal(get.count, 3);
    assert.ok(Math.abs(get.sum - 11.0101) < 1e-9);
    for (const s of metrics.requestDuration.series)
      for (let b = 1; b < s.buckets.length; b++) assert.ok(s.buckets[b]! >= s.buckets[b - 1]!);
    assert.deepEqual(
      metrics.requests.map((r) => `${r.method} ${r.statusClass} ${r.count}`),
      ['GET 2xx 3', 'POST 5xx 1', '_OTHER 4xx 1'],
    );
  });

  test('the text format escapes label values and prints every family once', () => {
    assert.equal(escapeLabel('a\\b"c\nd'), 'a\\\\b\\"c\\nd');
    const m = new WorkerMetrics();
    m.requestEnded('GET', 200, 0.001);
    m.parseError(431);
    m.timedOut(TIMEOUT_HANDLER);
    const text = renderPrometheus(metricsOf(m));
    assert.equal(sample(text, `http_server_requests_total{${GET_2XX}}`), 1);
    assert.equal(sample(text, `http_server_request_duration_seconds_bucket{${GET_2XX},le="+Inf"}`), 1);
    assert.equal(sample(text, 'peregrine_parse_errors_total{status="431"}'), 1);
    assert.equal(sample(text, 'peregrine_timeouts_total{kind="handler"}'), 1);
    const types = text.split('\n').filter((l) => l.startsWith('# TYPE '));
    assert.equal(new Set(types).size, types.length);
  });
});

describe('the metrics endpoint', () => {
  test('answers before the handler, counts requests, parse errors and timeouts', async (t) => {
    const h = await setup(
      t,
      (req, res) => {
        if (req.path === '/slow') return; // never ends: handlerTimeout answers
        res.status = req.path === '/missing' ? 404 : 200;
        res.end('x');
      },
      { metrics: true, headersTimeout: 150, handlerTimeout: 150 },
    );
    for (let i = 0; i < 5; i++) assert.equal((await httpGet(h.port, '/')).status, 200);
    assert.equal((await httpGet(h.port, '/missing')).status, 404);
    // A head past maxHeaderBytes: 431, before the handler.
    const big = await exchange(h.port, `GET / HTTP/1.1\r\nHost: a\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    assert.match(big, /^HTTP\/1\.1 431 /);
    // Half a head, then silence: 408 after headersTimeout.
    assert.match(await exchange(h.port, 'GET / HTTP/1.1\r\nHost: a\r\n'), /^HTTP\/1\.1 408 /);
    assert.equal((await httpGet(h.port, '/slow')).status, 503);
    const scraped = await httpGet(h.port, '/metrics');
    assert.equal(scraped.status, 200);
    const text = scraped.body;
    assert.equal(sample(text, `http_server_requests_total{${GET_2XX}}`), 5);
    assert.equal(
      sample(text, 'http_server_requests_total{http_request_method="GET",http_response_status_class="4xx"}'),
      1,
    );
    assert.equal(
      sample(text, 'http_server_requests_total{http_request_method="GET",http_response_status_class="5xx"}'),
      1,
    );
    assert.equal(sample(text, `http_server_request_duration_seconds_count{${GET_2XX}}`), 5);
    assert.equal(sample(text, 'peregrine_parse_errors_total{status="431"}'), 1);
    assert.equal(sample(text, 'peregrine_parse_errors_total{status="408"}'), 1);
    assert.equal(sample(text, 'peregrine_timeouts_total{kind="headers"}'), 1);
    assert.equal(sample(text, 'peregrine_timeouts_total{kind="handler"}'), 1);
    assert.equal(sample(text, 'http_server_active_requests'), 1); // the scrape itself
    assert.ok(sample(text, 'peregrine_connections_total') >= 10);
    assert.ok(sample(text, 'peregrine_received_bytes_total') > 20_000);
    assert.ok(sample(text, 'peregrine_sent_bytes_total') > 0);
    assert.equal(sample(text, 'peregrine_scrape_workers_missing'), 0);
    // server.metrics(): the same numbers as an object (the scrape above is counted by now).
    const metrics = await h.server.metrics();
    const get2xx = metrics.requests.find((r) => r.method === 'GET' && r.statusClass === '2xx');
    assert.equal(get2xx?.count, 6);
    assert.equal(metrics.parseErrors.find((e) => e.status === 431)?.count, 1);
    assert.equal(metrics.timeouts.headers, 1);
  });

  test('a custom path; other methods get 405; the handler sees every other path', async (t) => {
    const seen: string[] = [];
    const h = await setup(
      t,
      (req, res) => {
        seen.push(req.path);
        res.end('handler');
      },
      { metrics: '/_stats' },
    );
    assert.equal((await httpGet(h.port, '/metrics')).body, 'handler');
    assert.match((await httpGet(h.port, '/_stats')).body, /^# HELP /);
    assert.match(
      await exchange(h.port, 'POST /_stats HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n', 300),
      / 405 /,
    );
    assert.deepEqual(seen, ['/metrics']);
  });

  test('fetch mode, HTTP/2 (h2c) and WebSockets are counted', async (t) => {
    const { serve } = await import('../../src/index.ts');
    const server = await serve({
      port: 0,
      host: '127.0.0.1',
      workers: 1,
      log: false,
      handleSignals: false,
      metrics: true,
      h2c: true,
      fetch(request, srv) {
        if (new URL(request.url).pathname === '/ws')
          return srv.upgrade(request) ? undefined : new Response('no');
        return new Response('fetched');
      },
      websocket: { message: (ws, message) => void ws.send(message) },
    });
    t.after(() => server.shutdown());
    const session = http2Connect(`http://127.0.0.1:${server.port}`);
    const h2get = (path: string) =>
      new Promise<string>((resolve, reject) => {
        const stream = session.request({ ':path': path });
        let body = '';
        stream.setEncoding('utf8');
        stream.on('data', (chunk: string) => {
          body += chunk;
        });
        stream.on('end', () => resolve(body));
        stream.on('error', reject);
      });
    assert.equal(await h2get('/a'), 'fetched');
    const ws = new WebSocketClient(`ws://127.0.0.1:${server.port}/ws`);
    await new Promise((resolve) => ws.once('open', resolve));
    for (let i = 0; i < 3; i++) {
      ws.send(`m${i}`);
      await new Promise((resolve) => ws.once('message', resolve));
    }
    ws.close();
    await new Promise((resolve) => ws.once('close', resolve));
    await delay(50);
    const text = await h2get('/metrics');
    session.close();
    assert.equal(sample(text, `http_server_requests_total{${GET_2XX}}`), 1);
    assert.equal(sample(text, 'peregrine_websocket_opened_total'), 1);
    assert.equal(sample(text, 'peregrine_websocket_closed_total'), 1);
    assert.equal(sample(text, 'peregrine_websocket_messages_received_total'), 3);
    assert.equal(sample(text, 'peregrine_websocket_messages_sent_total'), 3);
    assert.equal(sample(text, 'peregrine_websocket_open'), 0);
  });

  test('promtool check metrics accepts the output', async (t) => {
    const tool = promtool();
    if (tool === null) {
      t.skip('promtool is not installed (Debian: apt-get install prometheus)');
      return;
    }
    const h = await setup(t, (req, res) => res.end(req.path), { metrics: true, headersTimeout: 100 });
    await httpGet(h.port, '/');
    await exchange(h.port, 'BREW /pot HTTP/1.1\r\nHost: a\r\n\r\n', 200);
    await exchange(h.port, 'GET / HTTP/1.1\r\nHost: a\r\n');
    await exchange(h.port, `GET /${'a'.repeat(9000)} HTTP/1.1\r\nHost: a\r\n\r\n`);
    const text = (await httpGet(h.port, '/metrics')).body;
    const result = checkMetrics(tool, text);
    assert.equal(result.status, 0, `promtool says:\n${result.output}\n${text}`);
    assert.equal(result.output.trim(), '', result.output);
  });

  test('metrics off: no endpoint, and server.metrics() says so', async (t) => {
    const h = await setup(t, (_req, res) => res.end('handler'));
    assert.equal((await httpGet(h.port, '/metrics')).body, 'handler');
    await assert.rejects(h.server.metrics(), { code: 'ERR_PEREGRINE_METRICS_OFF' });
    void get;
  });
});
