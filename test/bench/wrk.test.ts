import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { HttpWorkload } from '../../bench/sections.ts';
import {
  parseWrkOutput,
  type WrkReport,
  wrkArgs,
  wrkBytes,
  wrkMillis,
  wrkProblems,
} from '../../bench/wrk.ts';

/** The output of `wrk -t1 -c10 -d1s --timeout 10s --latency` against a server failing every 50th request. */
const OUTPUT = `Running 1s test @ http://127.0.0.1:18089/
  1 threads and 10 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   355.75us  749.77us  12.40ms   94.42%
    Req/Sec    50.16k    20.49k   67.89k    81.82%
  Latency Distribution
     50%  138.00us
     75%  254.00us
     90%  604.00us
     99%    4.32ms
  54665 requests in 1.10s, 7.11MB read
  Non-2xx or 3xx responses: 1093
Requests/sec:  49693.92
Transfer/sec:      6.46MB
`;

const plain: HttpWorkload = { kind: 'http', name: 'plain /', path: '/', body: 'x', pipeline: 1, workers: 1 };

test('wrk durations convert to milliseconds whatever their unit', () => {
  assert.equal(wrkMillis('1.23ms'), 1.23);
  assert.ok(Math.abs(wrkMillis('812.00us') - 0.812) < 1e-9);
  assert.equal(wrkMillis('2.00s'), 2 * 1000);
  assert.equal(wrkMillis('1.50m'), 1.5 * 60 * 1000);
  assert.throws(() => wrkMillis('12 ms'), /unexpected wrk duration/);
  assert.throws(() => wrkMillis('3h'), /unexpected wrk duration/);
});

test('a wrk report yields its counts, its rate and the two percentiles', () => {
  const report = parseWrkOutput(OUTPUT);
  assert.equal(report.requests, 54665);
  assert.equal(report.requestsPerSecond, 49693.92);
  assert.equal(report.badResponses, 1093);
  assert.equal(report.socketErrors, undefined);
  assert.ok(Math.abs(report.p50Ms - 0.138) < 1e-9);
  assert.equal(report.p99Ms, 4.32);
  assert.equal(report.bytesRead, 7.11 * 1024 * 1024);
});

test('wrk sizes convert to bytes, its units being powers of 1024', () => {
  assert.equal(wrkBytes('812B'), 812);
  assert.equal(wrkBytes('1.50KB'), 1536);
  assert.equal(wrkBytes('7.11MB'), 7.11 * 1024 ** 2);
  assert.equal(wrkBytes('1.02GB'), 1.02 * 1024 ** 3);
  assert.throws(() => wrkBytes('7.11 MB'), /unexpected wrk size/);
});

test('socket errors are kept as wrk wrote them; no Non-2xx line means none', () => {
  const line = 'connect 0, read 2, write 0, timeout 7';
  const output = OUTPUT.replace(/ {2}Non-2xx.*\n/, `  Socket errors: ${line}\n`);
  const report = parseWrkOutput(output);
  assert.equal(report.socketErrors, line);
  assert.equal(report.badResponses, 0);
});

test('output without a report or without --latency percentiles is rejected', () => {
  assert.throws(
    () => parseWrkOutput('unable to connect to 127.0.0.1:1 Connection refused\n'),
    /unexpected wrk/,
  );
  const withoutLatency = OUTPUT.replace(/ {2}Latency Distribution\n(?: {5}\d+%.*\n)+/, '');
  assert.throws(() => parseWrkOutput(withoutLatency), /no latency distribution/);
});

test('wrk arguments: one thread, the connections and seconds, the URL last but for a script argument', () => {
  const args = wrkArgs(plain, 8080, 5, 100);
  assert.deepEqual(args.slice(0, 3), ['-t1', '-c100', '-d5s']);
  assert.ok(args.includes('--latency'));
  assert.ok(!args.includes('--script'));
  assert.equal(args.at(-1), 'http://127.0.0.1:8080/');

  const pipelined = wrkArgs({ ...plain, path: '/6150', pipeline: 16 }, 8080, 1, 10);
  assert.match(pipelined[pipelined.indexOf('--script') + 1]!, /bench\/pipeline\.lua$/);
  assert.deepEqual(pipelined.slice(-3), ['http://127.0.0.1:8080/6150', '--', '16']);

  const upload = wrkArgs({ ...plain, path: '/upload', uploadBytes: 4096 }, 8080, 1, 10);
  assert.match(upload[upload.indexOf('--script') + 1]!, /bench\/post\.lua$/);
  assert.deepEqual(upload.slice(-3), ['http://127.0.0.1:8080/upload', '--', '4096']);
});

test('wrk arguments over TLS: an https URL; new connections ask the server to close each one', () => {
  const keepAlive = wrkArgs({ ...plain, tls: true }, 8443, 5, 100);
  assert.equal(keepAlive.at(-1), 'https://127.0.0.1:8443/');
  assert.ok(!keepAlive.includes('-H'));

  const handshakes = wrkArgs({ ...plain, tls: true, newConnections: true }, 8443, 5, 100);
  assert.equal(handshakes[handshakes.indexOf('-H') + 1], 'Connection: close');
  assert.equal(handshakes.at(-1), 'https://127.0.0.1:8443/');
  assert.deepEqual(handshakes.slice(0, 3), ['-t1', '-c100', '-d5s']);
});

test('a run fails on no requests, on error statuses and on socket errors', () => {
  const clean: WrkReport = {
    requests: 10,
    requestsPerSecond: 10,
    socketErrors: undefined,
    badResponses: 0,
    p50Ms: 1,
    p99Ms: 2,
    bytesRead: 10 * 400,
  };
  assert.deepEqual(wrkProblems(clean), []);
  assert.equal(wrkProblems({ ...clean, requests: 0 }).length, 1);
  assert.match(wrkProblems({ ...clean, badResponses: 3 }).join(), /3 non-2xx/);
  assert.match(wrkProblems({ ...clean, socketErrors: 'connect 1' }).join(), /socket errors: connect 1/);
  assert.deepEqual(wrkProblems(parseWrkOutput(OUTPUT)), ['1093 non-2xx/3xx responses']);
});

test('a run whose responses must be compressed fails when as many bytes as the body came per response', () => {
  const clean: WrkReport = {
    requests: 1000,
    requestsPerSecond: 1000,
    socketErrors: undefined,
    badResponses: 0,
    p50Ms: 1,
    p99Ms: 2,
    bytesRead: 1000 * 360,
  };
  assert.deepEqual(wrkProblems(clean, 6150), []);
  assert.deepEqual(wrkProblems({ ...clean, bytesRead: 1000 * 6300 }, 6150), [
    '6300 bytes read per response, not under the 6150 of the uncompressed body',
  ]);
  assert.deepEqual(wrkProblems({ ...clean, bytesRead: 1000 * 6300 }), []);
});

test('wrk arguments for a compressed workload: Accept-Encoding on every request', () => {
  const args = wrkArgs({ ...plain, acceptEncoding: 'gzip' }, 8080, 5, 100);
  assert.equal(args[args.indexOf('-H') + 1], 'Accept-Encoding: gzip');
  assert.equal(args.at(-1), 'http://127.0.0.1:8080/');
});
