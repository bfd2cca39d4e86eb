import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { connect as connectTls } from 'node:tls';
import type { Request, Server } from '../../src/index.ts';
import { start } from '../helpers.ts';
import { TestCa } from '../tls/certs.ts';

// Peregrine behind a real HAProxy (Debian's `haproxy`), started here on free ports: TCP mode with
// send-proxy (v1), send-proxy-v2 (with and without a CRC32C TLV, and in front of TLS), and HTTP mode
// with `option forwardfor`. The client connects from 127.0.0.2, so the address Peregrine reports
// can only have come through the proxy (HAProxy itself connects from 127.0.0.1).

const haproxyPath = (() => {
  try {
    return execFileSync('sh', ['-c', 'command -v haproxy'], { encoding: 'utf8' }).trim() || null;
  } catch {
    return null;
  }
})();
const skip = haproxyPath === null ? 'the haproxy binary is not installed (apt-get install haproxy)' : false;

const CLIENT_ADDRESS = '127.0.0.2';

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function describeClient(req: Request, res: { json(v: unknown): void }) {
  res.json({
    remoteAddress: req.remoteAddress,
    remotePort: req.remotePort,
    clientAddress: req.clientAddress,
    protocol: req.protocol,
  });
}

/** One request from 127.0.0.2 to `port`, over TLS when `tls` holds a CA: the JSON body, and our port. */
async function ask(port: number, ca?: string): Promise<{ body: Record<string, unknown>; localPort: number }> {
  const raw = connect({ port, host: '127.0.0.1', localAddress: CLIENT_ADDRESS });
  await new Promise((resolve, reject) => raw.once('connect', resolve).once('error', reject));
  const localPort = raw.localPort!;
  const socket = ca === undefined ? raw : connectTls({ socket: raw, servername: 'localhost', ca });
  socket.setTimeout(5000, () => socket.destroy(new Error('no answer within 5 s')));
  socket.write('GET / HTTP/1.1\r\nHost: app.example\r\nConnection: close\r\n\r\n');
  let text = '';
  for await (const chunk of socket) text += chunk;
  const body = text.slice(text.indexOf('\r\n\r\n') + 4);
  assert.match(text, /^HTTP\/1\.1 200 /, text);
  return { body: JSON.parse(body), localPort };
}

let haproxy: ChildProcess | null = null;
let dir = '';
const ca = new TestCa();
const servers: Server[] = [];
const ports = { v1: 0, v2: 0, v2crc: 0, v2tls: 0, http: 0 };

before(async () => {
  if (skip) return;
  const proxied = await start(describeClient, { proxyProtocol: true });
  const proxiedTls = await start(describeClient, { proxyProtocol: true, tls: ca.issue(['localhost']) });
  const plain = await start(describeClient, { trustProxy: ['loopback'] });
  servers.push(proxied, proxiedTls, plain);
  for (const name of Object.keys(ports) as (keyof typeof ports)[]) ports[name] = await freePort();
  const tcp = (name: string, port: number, target: number, server: string) => `
frontend ${name}
  mode tcp
  bind 127.0.0.1:${port}
  default_backend ${name}_back
backend ${name}_back
  mode tcp
  server peregrine 127.0.0.1:${target} ${server}
`;
  const config = `
global
  maxconn 100
defaults
  timeout connect 5s
  timeout client 30s
  timeout server 30s
${tcp('v1', ports.v1, proxied.port, 'send-proxy')}
${tcp('v2', ports.v2, proxied.port, 'send-proxy-v2')}
${tcp('v2crc', ports.v2crc, proxied.port, 'send-proxy-v2 proxy-v2-options crc32c,ssl,authority,unique-id')}
${tcp('v2tls', ports.v2tls, proxiedTls.port, 'send-proxy-v2')}
frontend http
  mode http
  bind 127.0.0.1:${ports.http}
  option forwardfor
  default_backend http_back
backend http_back
  mode http
  server peregrine 127.0.0.1:${plain.port}
`;
  dir = mkdtempSync(join(tmpdir(), 'peregrine-haproxy-'));
  const file = join(dir, 'haproxy.cfg');
  writeFileSync(file, config);
  try {
    execFileSync(haproxyPath!, ['-c', '-f', file], { stdio: 'pipe' }); // a config error shows here, clearly
  } catch (error) {
    throw new Error(`haproxy rejects the config: ${(error as { stderr?: Buffer }).stderr}\n${config}`);
  }
  haproxy = spawn(haproxyPath!, ['-db', '-f', file], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  haproxy.stderr!.on('data', (chunk) => {
    stderr += chunk;
  });
  // Ready once every frontend accepts connections.
  for (const port of Object.values(ports)) {
    for (let tries = 0; ; tries++) {
      const up = await new Promise<boolean>((resolve) => {
        const s = connect(port, '127.0.0.1', () => {
          s.destroy();
          resolve(true);
        }).on('error', () => resolve(false));
      });
      if (up) break;
      if (tries > 100 || haproxy.exitCode !== null) throw new Error(`haproxy did not start: ${stderr}`);
      await delay(50);
    }
  }
});

after(async () => {
  if (haproxy !== null && haproxy.exitCode === null) {
    const exited = new Promise((resolve) => haproxy!.once('exit', resolve));
    haproxy.kill('SIGTERM');
    await exited;
  }
  await Promise.all(servers.map((s) => s.shutdown()));
  if (dir !== '') rmSync(dir, { recursive: true, force: true });
  ca.remove();
});

test('HAProxy send-proxy (v1): the client address and port come through', {
  skip,
  timeout: 20_000,
}, async () => {
  const { body, localPort } = await ask(ports.v1);
  assert.deepEqual(body, {
    remoteAddress: CLIENT_ADDRESS,
    remotePort: localPort,
    clientAddress: CLIENT_ADDRESS,
    protocol: 'http',
  });
});

test('HAProxy send-proxy-v2, plain and with CRC32C, SSL, authority and unique-id TLVs', {
  skip,
}, async () => {
  for (const port of [ports.v2, ports.v2crc]) {
    const { body, localPort } = await ask(port);
    assert.equal(body.remoteAddress, CLIENT_ADDRESS);
    assert.equal(body.remotePort, localPort);
  }
});

test('HAProxy send-proxy-v2 in front of TLS: the header comes before the handshake', {
  skip,
  timeout: 20_000,
}, async () => {
  const { body, localPort } = await ask(ports.v2tls, ca.cert);
  assert.deepEqual(body, {
    remoteAddress: CLIENT_ADDRESS,
    remotePort: localPort,
    clientAddress: CLIENT_ADDRESS,
    protocol: 'https',
  });
});

test('HAProxy mode http with option forwardfor: clientAddress from X-Forwarded-For', {
  skip,
  timeout: 20_000,
}, async () => {
  const { body } = await ask(ports.http);
  assert.equal(body.remoteAddress, '127.0.0.1', 'the peer is HAProxy');
  assert.equal(body.clientAddress, CLIENT_ADDRESS);
});
