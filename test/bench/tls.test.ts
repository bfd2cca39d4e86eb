import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { nginxConfig, nginxTlsServerBlock } from '../../bench/nginx.ts';
import { NGINX_HTTPS } from '../../bench/sections.ts';
import {
  droppedSessions,
  newConnectionsProblem,
  prepareTls,
  type TlsFiles,
  tcpPassiveOpens,
  tlsFiles,
} from '../../bench/tls.ts';

function has(command: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** A temp directory laid out like the runner's, with the certificate (and the library, if asked). */
function prepared(shim: boolean, t: { after(fn: () => void): void }): { dir: string; files: TlsFiles } {
  const dir = mkdtempSync(join(tmpdir(), 'peregrine-bench-tls-'));
  const files = prepareTls(dir, { certificate: true, shim });
  // Removed after the test (not with `using`: Node 22.12, the oldest supported, lacks it).
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return { dir, files };
}

test('the certificate: self-signed ECDSA P-256 for localhost and 127.0.0.1, its key beside it', {
  skip: !has('openssl') && 'no openssl',
}, (t) => {
  const run = prepared(false, t);
  const cert = new X509Certificate(readFileSync(run.files.cert));
  const key = createPrivateKey(readFileSync(run.files.key));
  assert.equal(cert.publicKey.asymmetricKeyType, 'ec');
  assert.equal(cert.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
  assert.ok(cert.checkPrivateKey(key));
  assert.ok(cert.checkHost('localhost'));
  assert.ok(cert.checkIP('127.0.0.1'));
  assert.ok(cert.verify(cert.publicKey), 'self-signed');
});

const SNMP = `Ip: Forwarding DefaultTTL InReceives
Ip: 1 64 123
Tcp: RtoAlgorithm RtoMin RtoMax MaxConn ActiveOpens PassiveOpens AttemptFails EstabResets CurrEstab
Tcp: 1 200 120000 -1 3883222 854292 3027983 217479 0
Udp: InDatagrams NoPorts
Udp: 5 6
`;

test('accepted TCP connections are read from the Tcp PassiveOpens column', () => {
  assert.equal(tcpPassiveOpens(SNMP), 854292);
  assert.throws(() => tcpPassiveOpens('Ip: Forwarding\nIp: 1\n'), /PassiveOpens/);
  assert.throws(() => tcpPassiveOpens(SNMP.replace('854292', 'x')), /PassiveOpens/);
  assert.ok(Number.isInteger(tcpPassiveOpens(readFileSync('/proc/net/snmp', 'utf8'))));
});

test('a new-connections run counts only with the library loaded and a connection per request', () => {
  const loaded = 'no-resume: 4030 sessions dropped\n';
  assert.equal(droppedSessions(loaded), 4030);
  assert.equal(droppedSessions(''), undefined);
  assert.equal(newConnectionsProblem(4000, 4100, loaded), undefined);
  assert.equal(newConnectionsProblem(4000, 4000, loaded), undefined);
  assert.match(newConnectionsProblem(4000, 120, loaded)!, /only 120 TCP connections accepted for 4000/);
  const ignored = "ERROR: ld.so: object 'x.so' from LD_PRELOAD cannot be preloaded: ignored.\n";
  assert.match(newConnectionsProblem(4000, 4100, ignored)!, /not loaded into wrk: ERROR: ld\.so/);
});

test("nginx's TLS server block: ssl on the port, the run's certificate, TLS 1.2 and 1.3, the 13-byte body", () => {
  const block = nginxTlsServerBlock({ cert: '/t/cert.pem', key: '/t/key.pem' }, 8443);
  assert.equal(
    block,
    [
      'listen 127.0.0.1:8443 ssl;',
      '    ssl_certificate /t/cert.pem;',
      '    ssl_certificate_key /t/key.pem;',
      '    ssl_protocols TLSv1.2 TLSv1.3;',
      '    default_type text/plain;',
      "    location / { return 200 'Hello, World!'; }",
    ].join('\n'),
  );
  const config = nginxConfig(NGINX_HTTPS, '/tmp/bench', 8443);
  assert.ok(config.includes(nginxTlsServerBlock(tlsFiles('/tmp/bench'), 8443)), config);
  assert.match(config, /^worker_processes 1;$/m);
  assert.match(config, /^ {2}keepalive_requests 100000;$/m);
});

test('nginx accepts the generated TLS config with the certificate (nginx -t)', {
  skip: (!has('openssl') && 'no openssl') || (!has('/usr/sbin/nginx') && 'no nginx'),
}, (t) => {
  const run = prepared(false, t);
  const prefix = join(run.dir, 'nginx');
  mkdirSync(prefix);
  const conf = join(prefix, 'nginx.conf');
  writeFileSync(conf, nginxConfig(NGINX_HTTPS, run.dir, 8443));
  execFileSync('/usr/sbin/nginx', ['-t', '-q', '-c', conf, '-p', prefix], { stdio: 'pipe' });
});

/** Runs wrk with `Connection: close` against a node:https server; how many connections resumed a session. */
async function resumedUnderWrk(files: TlsFiles, preload: string | undefined) {
  const server = createServer({ cert: readFileSync(files.cert), key: readFileSync(files.key) }, (_req, res) =>
    res.end('ok'),
  );
  let connections = 0;
  let resumed = 0;
  server.on('secureConnection', (socket) => {
    connections++;
    if (socket.isSessionReused()) resumed++;
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const wrk = spawn('wrk', ['-t1', '-c4', '-d1s', '-H', 'Connection: close', `https://127.0.0.1:${port}/`], {
    env: preload === undefined ? process.env : { ...process.env, LD_PRELOAD: preload },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  wrk.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  await new Promise((resolve) => wrk.once('close', resolve));
  await new Promise((resolve) => server.close(resolve));
  server.closeAllConnections();
  return { connections, resumed, stderr };
}

test('wrk resumes TLS sessions when it reconnects; with the no-resume library every handshake is full', {
  skip: (!has('openssl') && 'no openssl') || (!has('cc') && 'no cc') || (!has('wrk') && 'no wrk'),
}, async (t) => {
  const run = prepared(true, t);
  const plain = await resumedUnderWrk(run.files, undefined);
  assert.ok(plain.connections > 10 && plain.resumed > 0, JSON.stringify(plain));
  const full = await resumedUnderWrk(run.files, run.files.shim);
  assert.ok(full.connections > 10, JSON.stringify(full));
  assert.equal(full.resumed, 0);
  assert.ok(droppedSessions(full.stderr)! > 0, full.stderr);
});
