import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createSecureServer } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { h2loadArgs, h2loadProblems, parseH2loadOutput } from '../../bench/h2load.ts';
import { nginxConfig, nginxTlsServerBlock } from '../../bench/nginx.ts';
import { HTTP2, NGINX_H2 } from '../../bench/sections.ts';
import { prepareTls } from '../../bench/tls.ts';

function has(command: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** `h2load -c 10 -m 10 -D 2 --warm-up-time=1` against bench/servers/node-http2.ts (h2load 1.52.0). */
const OUTPUT = `starting benchmark...
spawning thread #0: 10 total client(s). Timing-based test with 1s of warm-up time and 2s of main duration for measurements.
Warm-up started for thread #0.
progress: 10% of clients started
progress: 20% of clients started
progress: 30% of clients started
progress: 40% of clients started
progress: 50% of clients started
progress: 60% of clients started
progress: 70% of clients started
progress: 80% of clients started
progress: 90% of clients started
progress: 100% of clients started
TLS Protocol: TLSv1.3
Cipher: TLS_AES_256_GCM_SHA384
Server Temp Key: X25519 253 bits
Application protocol: h2
Warm-up phase is over for thread #0.
Main benchmark duration is started for thread #0.
Main benchmark duration is over for thread #0. Stopping all clients.
Stopped all clients for thread #0

finished in 3.00s, 33965.00 req/s, 1.39MB/s
requests: 67930 total, 67930 started, 67930 done, 67930 succeeded, 0 failed, 0 errored, 0 timeout
status codes: 67980 2xx, 0 3xx, 0 4xx, 0 5xx
traffic: 2.79MB (2923150) total, 236.67KB (242350) headers (space savings 95.37%), 1021.34KB (1045850) data
                     min         max         mean         sd        +/- sd
time for request:      860us     45.11ms      2.88ms      3.10ms    96.57%
time for connect:        0us         0us         0us         0us     0.00%
time to 1st byte:        0us         0us         0us         0us     0.00%
req/s           :    3383.84     3404.20     3395.69        5.86    70.00%
`;

/**
 * The same against a node:http2 server that closes every 50th stream with INTERNAL_ERROR and answers
 * status 500 to every 50th other request (`-D 1`).
 */
const FAILING = `starting benchmark...
spawning thread #0: 10 total client(s). Timing-based test with 1s of warm-up time and 1s of main duration for measurements.
Warm-up started for thread #0.
progress: 10% of clients started
progress: 20% of clients started
progress: 30% of clients started
progress: 40% of clients started
progress: 50% of clients started
progress: 60% of clients started
progress: 70% of clients started
progress: 80% of clients started
progress: 90% of clients started
progress: 100% of clients started
TLS Protocol: TLSv1.3
Cipher: TLS_AES_256_GCM_SHA384
Server Temp Key: X25519 253 bits
Application protocol: h2
Warm-up phase is over for thread #0.
Main benchmark duration is started for thread #0.
Main benchmark duration is over for thread #0. Stopping all clients.
Stopped all clients for thread #0

finished in 2.00s, 29196.00 req/s, 1.20MB/s
requests: 29791 total, 29791 started, 29791 done, 28601 succeeded, 1190 failed, 595 errored, 0 timeout
status codes: 28600 2xx, 0 3xx, 0 4xx, 596 5xx
traffic: 1.20MB (1263393) total, 132.05KB (135221) headers (space savings 95.36%), 568.97KB (582621) data
                     min         max         mean         sd        +/- sd
time for request:     1.07ms     24.26ms      3.36ms      2.50ms    96.78%
time for connect:        0us         0us         0us         0us     0.00%
time to 1st byte:        0us         0us         0us         0us     0.00%
req/s           :    2901.28     2938.88     2918.44       10.11    80.00%
`;

/** Against Peregrine with `http2: false`: ALPN settles on HTTP/1.1, which h2load then pipelines. */
const HTTP1 = `starting benchmark...
spawning thread #0: 10 total client(s). Timing-based test with 1s of warm-up time and 1s of main duration for measurements.
Warm-up started for thread #0.
progress: 10% of clients started
progress: 20% of clients started
progress: 30% of clients started
progress: 40% of clients started
progress: 50% of clients started
progress: 60% of clients started
progress: 70% of clients started
progress: 80% of clients started
progress: 90% of clients started
progress: 100% of clients started
TLS Protocol: TLSv1.3
Cipher: TLS_AES_256_GCM_SHA384
Server Temp Key: X25519 253 bits
Application protocol: http/1.1
Warm-up phase is over for thread #0.
Main benchmark duration is started for thread #0.
Main benchmark duration is over for thread #0. Stopping all clients.
Stopped all clients for thread #0

finished in 2.00s, 535140.00 req/s, 58.69MB/s
requests: 535140 total, 535140 started, 535140 done, 535140 succeeded, 0 failed, 0 errored, 0 timeout
status codes: 535140 2xx, 0 3xx, 0 4xx, 0 5xx
traffic: 58.69MB (61541100) total, 59.09MB (61961700) headers (space savings 0.00%), 10.82MB (11345100) data
                     min         max         mean         sd        +/- sd
time for request:       54us      3.16ms       186us       106us    93.64%
time for connect:        0us         0us         0us         0us     0.00%
time to 1st byte:        0us         0us         0us         0us     0.00%
req/s           :   52090.72    55211.02    53501.45      891.58    70.00%
`;

/** Against a port nobody listens on: no connection, exit code 0 all the same. */
const REFUSED = `starting benchmark...
spawning thread #0: 10 total client(s). Timing-based test with 1s of warm-up time and 1s of main duration for measurements.
Warm-up started for thread #0.
progress: 10% of clients started
progress: 20% of clients started
progress: 30% of clients started
progress: 40% of clients started
progress: 50% of clients started
progress: 60% of clients started
progress: 70% of clients started
progress: 80% of clients started
progress: 90% of clients started
progress: 100% of clients started
Warm-up phase is over for thread #0.
Main benchmark duration is started for thread #0.
Main benchmark duration is over for thread #0. Stopping all clients.
Stopped all clients for thread #0

finished in 2.00s, 0.00 req/s, 0B/s
requests: 0 total, 0 started, 0 done, 0 succeeded, 0 failed, 0 errored, 0 timeout
status codes: 0 2xx, 0 3xx, 0 4xx, 0 5xx
traffic: 0B (0) total, 0B (0) headers (space savings 0.00%), 0B (0) data
                     min         max         mean         sd        +/- sd
time for request:        0us         0us         0us         0us     0.00%
time for connect:        0us         0us         0us         0us     0.00%
time to 1st byte:        0us         0us         0us         0us     0.00%
req/s           :       0.00        0.00        0.00        0.00     0.00%
`;

const h2 = HTTP2.workloads[0]!;

test("h2load's command line: connections, streams per connection, duration, warm-up, https URL", () => {
  assert.deepEqual(h2loadArgs(h2 as never, 8443, 5, 1, 10), [
    '-c',
    '10',
    '-m',
    '10',
    '-D',
    '5',
    '--warm-up-time=1',
    'https://127.0.0.1:8443/',
  ]);
  const plain = { kind: 'http', name: 'plain /', path: '/', body: 'x', pipeline: 1, workers: 1 } as const;
  assert.throws(() => h2loadArgs(plain, 8443, 5, 1, 10), /not an HTTP\/2 workload/);
});

test('an h2load report yields its counts, its rate over the measured window and the protocol', () => {
  const report = parseH2loadOutput(OUTPUT);
  assert.deepEqual(report, {
    requests: 67930,
    succeeded: 67930,
    failed: 0,
    errored: 0,
    timeout: 0,
    requestsPerSecond: 33965,
    badResponses: 0,
    protocol: 'h2',
  });
  assert.deepEqual(h2loadProblems(report), []);
});

test('failed, errored and non-2xx requests make the run a failure', () => {
  const report = parseH2loadOutput(FAILING);
  assert.equal(report.requests, 29791);
  assert.equal(report.succeeded, 28601);
  assert.equal(report.failed, 1190);
  assert.equal(report.errored, 595);
  assert.equal(report.badResponses, 596);
  assert.equal(report.requestsPerSecond, 29196);
  assert.deepEqual(h2loadProblems(report), [
    '1190 failed, 595 errored, 0 timed out',
    '596 responses with a status ≥ 300',
  ]);
  const timedOut = parseH2loadOutput(
    OUTPUT.replace(
      '67930 succeeded, 0 failed, 0 errored, 0 timeout',
      '67920 succeeded, 0 failed, 0 errored, 10 timeout',
    ),
  );
  assert.deepEqual(h2loadProblems(timedOut), ['0 failed, 0 errored, 10 timed out']);
});

test('HTTP/1.1 chosen by ALPN, or no connection at all, is a failed run', () => {
  const http1 = parseH2loadOutput(HTTP1);
  assert.equal(http1.protocol, 'http/1.1');
  assert.equal(http1.succeeded, 535140);
  assert.deepEqual(h2loadProblems(http1), ['ALPN chose http/1.1, not h2']);
  const refused = parseH2loadOutput(REFUSED);
  assert.equal(refused.protocol, undefined);
  assert.deepEqual(h2loadProblems(refused), ['no protocol negotiated', 'no request succeeded']);
});

test('output without a report is rejected', () => {
  assert.throws(() => parseH2loadOutput('invalid URI: x\n'), /unexpected h2load output/);
  assert.throws(
    () => parseH2loadOutput(OUTPUT.replace(/^status codes:.*\n/m, '')),
    /no status codes in h2load output/,
  );
  assert.throws(
    () => parseH2loadOutput(OUTPUT.replace(/^finished in .*\n/m, '')),
    /no rate in h2load output/,
  );
});

test("nginx's HTTP/2 server block: `listen … ssl http2` (nginx 1.22's syntax), no per-connection request limit", () => {
  const block = nginxTlsServerBlock({ cert: '/t/cert.pem', key: '/t/key.pem' }, 8443, true);
  assert.equal(
    block,
    [
      'listen 127.0.0.1:8443 ssl http2;',
      '    keepalive_requests 100000000;',
      '    ssl_certificate /t/cert.pem;',
      '    ssl_certificate_key /t/key.pem;',
      '    ssl_protocols TLSv1.2 TLSv1.3;',
      '    default_type text/plain;',
      "    location / { return 200 'Hello, World!'; }",
    ].join('\n'),
  );
  assert.ok(nginxConfig(NGINX_H2, '/tmp/bench', 8443).includes('listen 127.0.0.1:8443 ssl http2;'));
});

test('nginx accepts the generated HTTP/2 config with the certificate (nginx -t)', {
  skip: (!has('openssl') && 'no openssl') || (!has('/usr/sbin/nginx') && 'no nginx'),
}, () => {
  const dir = mkdtempSync(join(tmpdir(), 'peregrine-bench-h2-'));
  try {
    prepareTls(dir, { certificate: true, shim: false });
    const prefix = join(dir, 'nginx');
    mkdirSync(prefix);
    const conf = join(prefix, 'nginx.conf');
    writeFileSync(conf, nginxConfig(NGINX_H2, dir, 8443));
    execFileSync('/usr/sbin/nginx', ['-t', '-q', '-c', conf, '-p', prefix], { stdio: 'pipe' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('h2load against a node:http2 server: the parser reads what this h2load prints', {
  skip: (!has('h2load') && 'no h2load') || (!has('openssl') && 'no openssl'),
}, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'peregrine-bench-h2-'));
  const files = prepareTls(dir, { certificate: true, shim: false });
  const server = createSecureServer(
    { cert: readFileSync(files.cert), key: readFileSync(files.key) },
    (_req, res) => res.end('ok'),
  );
  try {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const h2load = spawn(
      'h2load',
      ['-c', '2', '-m', '4', '-D', '1', '--warm-up-time=1', `https://127.0.0.1:${port}/`],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    h2load.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    await new Promise((resolve) => h2load.once('close', resolve));
    const report = parseH2loadOutput(stdout);
    assert.deepEqual(h2loadProblems(report), [], stdout);
    assert.ok(report.succeeded > 0 && report.requestsPerSecond > 0, stdout);
  } finally {
    await new Promise((resolve) => server.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  }
});
